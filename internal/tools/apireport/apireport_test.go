package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAPIUpToDate regenerates the listing of every module and compares it
// with the file checked in under api/: a changed public surface must come
// with the updated listing, so that it is seen in review.
func TestAPIUpToDate(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	for _, m := range modules {
		pkgs, err := scanModule(root, m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(root, "api", m.file)
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v\nrun from the repository root: %s", err, updateCommand)
		}
		if diff := lineDiff(string(old), listing(pkgs)); diff != "" {
			t.Errorf("the exported API differs from api/%s (- only in the file, + only in the code):\n%s"+
				"If the change is intended, run from the repository root:\n\t%s\nand commit api/%s with it.",
				m.file, diff, updateCommand, m.file)
		}
	}
}

// lineDiff lists the lines only in old ("-") and only in new ("+"); the
// listings are sorted sets of lines, so that is the whole difference.
func lineDiff(old, new string) string {
	was := strings.Split(strings.TrimSuffix(old, "\n"), "\n")
	is := strings.Split(strings.TrimSuffix(new, "\n"), "\n")
	var b strings.Builder
	for _, l := range was {
		if !slices.Contains(is, l) {
			b.WriteString("-" + l + "\n")
		}
	}
	for _, l := range is {
		if !slices.Contains(was, l) {
			b.WriteString("+" + l + "\n")
		}
	}
	return b.String()
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\n", "a\nc\nd\n")
	if want := "-b\n+d\n"; got != want {
		t.Errorf("lineDiff = %q, want %q", got, want)
	}
	if got := lineDiff("a\n", "a\n"); got != "" {
		t.Errorf("lineDiff of equal listings = %q, want empty", got)
	}
}

// TestScanPackage pins the listing format and the counts on a package with
// one of each kind of declaration (testdata/p).
func TestScanPackage(t *testing.T) {
	p, err := scanPackage("testdata", filepath.Join("testdata", "p"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"const A Kind = iota",
		"const B Kind",
		"const D = 5 * time.Second",
		"func Map[T any, U any]([]T, func(T) U) []U",
		"func New(string, string, ...func(*Config)) (*Config, error)",
		"method (*List[T]) Len() int",
		"method (Config) Validate() error",
		"type Alias = Config",
		"type Aliased = q.T",
		"type Aliased struct, F int",
		"method (*Aliased) M() string",
		"type AliasedI = q.I",
		"type AliasedI interface, N() int",
		"type Config struct",
		"type Config struct, Host string",
		"type Config struct, Name string",
		"type Config struct, Nested struct{ A int }",
		"type Config struct, OnStop func(context.Context) error",
		"type Config struct, embedded *Embedded",
		"type Embedded struct",
		"type Getter interface",
		"type Getter interface, Get(context.Context, string) ([]byte, error)",
		"type Kind int",
		"type List[T any] struct",
		"type List struct, Items []T",
		"type Number interface",
		"type Number interface, ~int | ~int64",
		"type Store interface",
		"type Store interface, Get(context.Context, string) ([]byte, error)",
		"type Store interface, Watch(context.Context) <-chan struct{}",
		"type Store interface, embedded Getter",
		"var Default Config",
		"var ErrX error",
		"var Shown int",
	}
	slices.Sort(want)
	if diff := lineDiff(strings.Join(want, "\n"), strings.Join(p.lines, "\n")); diff != "" {
		t.Errorf("listing of testdata/p (- want, + got):\n%s", diff)
	}
	if p.path != "p" {
		t.Errorf("path = %q, want p", p.path)
	}
	// Top level: Kind A B D ErrX Default Shown Config Embedded Store Getter
	// Number List Alias Aliased AliasedI New Map = 18; methods Len Validate,
	// M (Aliased) = 3; fields Name Host OnStop Nested Embedded (Config), Items
	// (List), F (Aliased) = 7; interface members Get Watch Getter (Store), Get
	// (Getter), the type set (Number), N (AliasedI) = 6.
	if want := (Counts{TopLevel: 18, Methods: 3, Fields: 7, IfaceMethods: 6}); p.counts != want {
		t.Errorf("counts = %+v, want %+v", p.counts, want)
	}
}
