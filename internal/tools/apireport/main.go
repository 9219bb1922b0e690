// Command apireport lists the public surface of tbschedule-go: every
// exported identifier of every importable, non-internal package of the
// library module and of the tbsprom module, one line each, sorted, in the
// manner of Go's own api/ files:
//
//	pkg schedule, func NewManager(Store, TaskType, string, processor.Deal, ManagerConfig, ...ManagerOption) (*Manager, error)
//	pkg schedule, method (*Manager) Run(context.Context) error
//	pkg schedule, type Item struct, Epoch uint64
//	pkg schedule, type Store interface, Get(context.Context, string) ([]byte, error)
//
// Parameter names are left out; constants show their declared type and
// value as written; an error sentinel shows as "var ErrX error". An alias of
// a type of an internal package (type Clock = clock.Clock) also lists that
// type's fields and methods under the alias's name: they are public too.
//
// The listings are checked in under api/ (api/tbschedule.txt,
// api/tbsprom.txt), and this package's test fails when the code's surface
// differs from them, so that growing or changing the public API is a visible,
// reviewed change. From the repository root:
//
//	go run ./internal/tools/apireport          # print the listings
//	go run ./internal/tools/apireport -w       # rewrite api/*.txt after an intended change
//	go run ./internal/tools/apireport -counts  # exported names per package
//
// -counts prints, per package, the exported top-level names (funcs, types,
// vars, consts), the exported methods of exported types, the exported fields
// of exported struct types and the methods of exported interfaces (embedded
// exported types counted as fields or interface methods), as go/ast sees them.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// updateCommand is what the test tells a developer to run.
const updateCommand = "go run ./internal/tools/apireport -w"

func main() {
	root := flag.String("root", ".", "repository root")
	write := flag.Bool("w", false, "write api/*.txt instead of printing the listings")
	counts := flag.Bool("counts", false, "print exported-name counts per package instead of the listings")
	flag.Parse()
	if err := run(os.Stdout, *root, *write, *counts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(w io.Writer, root string, write, counts bool) error {
	for _, m := range modules {
		pkgs, err := scanModule(root, m)
		if err != nil {
			return err
		}
		switch {
		case counts:
			err = writeCounts(w, m, pkgs)
		case write:
			path := filepath.Join(root, "api", m.file)
			err = os.WriteFile(path, []byte(listing(pkgs)), 0o644)
		default:
			_, err = io.WriteString(w, listing(pkgs))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listing is the checked-in text of one module: every package's lines,
// prefixed with "pkg P, ", packages in path order.
func listing(pkgs []*pkgAPI) string {
	var b strings.Builder
	for _, p := range pkgs {
		for _, l := range p.lines {
			fmt.Fprintf(&b, "pkg %s, %s\n", p.path, l)
		}
	}
	return b.String()
}

func writeCounts(w io.Writer, m module, pkgs []*pkgAPI) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "package (%s)\ttop-level\tmethods\tfields\tiface methods\ttotal\t\n", m.file)
	var sum Counts
	for _, p := range pkgs {
		c := p.counts
		sum.add(c)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", p.path, c.TopLevel, c.Methods, c.Fields, c.IfaceMethods, c.Total())
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\t\n", sum.TopLevel, sum.Methods, sum.Fields, sum.IfaceMethods, sum.Total())
	return tw.Flush()
}
