package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/console"
)

// consoleBackend runs tbsctl's commands for the web console, in-process:
// the console's pages show what the commands print and its changes go
// through the commands' validation and refusal rules. Reads share one
// read-only connection (the pages poll); each write runs on a connection
// of its own, as one "tbsctl" run would.
type consoleBackend struct {
	g   globals
	env func(string) string
	// mu serializes the reads: they share reader, whose streams are
	// switched per command.
	mu     sync.Mutex
	reader *cli
	errOut *switchWriter
}

// switchWriter is the reader's standard error: the buffer of the command
// running, or nothing between commands (the store's logger keeps it).
type switchWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

func newConsoleBackend(g globals, env func(string) string) *consoleBackend {
	sw := &switchWriter{w: io.Discard}
	return &consoleBackend{g: g, env: env, errOut: sw,
		reader: &cli{io: IO{In: bytes.NewReader(nil), Out: io.Discard, Err: sw, Getenv: env}, g: g, log: discardLogger()}}
}

func (b *consoleBackend) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reader.close()
}

// readCommands are the commands Read runs: none of them writes.
var readCommands = map[string]bool{"status": true, "doctor": true, "factories": true, "strategies": true, "tree": true, "get": true, "export": true}

func (b *consoleBackend) Read(ctx context.Context, args ...string) console.Result {
	if len(args) == 0 || !readCommands[args[0]] {
		return console.Result{Err: fmt.Sprintf("console: %q is not a read", args), Code: ExitUsage}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out, errb bytes.Buffer
	b.reader.io.Out = &out
	b.errOut.set(&errb)
	defer b.errOut.set(io.Discard)
	code := b.reader.exitCode(b.reader.run(ctx, args))
	return console.Result{Out: out.String(), Err: errb.String(), Code: code}
}

// fresh returns a cli of its own for one write, writing to out and errb.
func (b *consoleBackend) fresh(stdin []byte, out, errb *bytes.Buffer) *cli {
	return &cli{io: IO{In: bytes.NewReader(stdin), Out: out, Err: errb, Getenv: b.env}, g: b.g}
}

func (b *consoleBackend) Write(ctx context.Context, stdin []byte, args ...string) console.Result {
	var out, errb bytes.Buffer
	c := b.fresh(stdin, &out, &errb)
	code := c.exitCode(c.run(ctx, args))
	c.close()
	return console.Result{Out: out.String(), Err: errb.String(), Code: code}
}

func (b *consoleBackend) Get(ctx context.Context, kind, name string) ([]byte, int32, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	store, err := b.reader.readStore(ctx)
	if err != nil {
		return nil, 0, err
	}
	var rec any
	var v int32
	if kind == "taskType" {
		t, ver, gerr := store.TaskType(ctx, name)
		rec, v, err = t, int32(ver), gerr
	} else {
		s, ver, gerr := store.Strategy(ctx, name)
		rec, v, err = s, int32(ver), gerr
	}
	if err != nil {
		return nil, 0, b.reader.missing(err, kind, name, "")
	}
	doc, err := json.MarshalIndent(rec, "", "  ")
	return doc, v, err
}

func (b *consoleBackend) Put(ctx context.Context, doc []byte, version int32) console.Result {
	var out, errb bytes.Buffer
	c := b.fresh(nil, &out, &errb)
	c.log = discardLogger()
	code := c.exitCode(c.putOne(ctx, doc, version))
	c.close()
	return console.Result{Out: out.String(), Err: errb.String(), Code: code}
}
