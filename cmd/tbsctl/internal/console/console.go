package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Result is what one tbsctl command printed and its exit code (0 ok,
// 1 failed or refused, 2 wrong command line), as the command line shows it.
type Result struct {
	Out  string `json:"out"`
	Err  string `json:"err"`
	Code int    `json:"code"`
}

// OK reports whether the command succeeded.
func (r Result) OK() bool { return r.Code == 0 }

// Backend runs tbsctl's own commands for the console, so that every page
// shows what the command line shows and every change goes through the same
// validation, diff and refusal rules. Args are a command line after the
// connection flags ("status", "-o", "json").
type Backend interface {
	// Read runs a command that only reads (status, doctor, factories,
	// strategies, tree, get, export).
	Read(ctx context.Context, args ...string) Result
	// Write runs a command that may write, with stdin as its standard
	// input (apply, import, pause, resume, stop, start, drain, delete).
	Write(ctx context.Context, stdin []byte, args ...string) Result
	// Get returns the stored task type or strategy as indented JSON and
	// the version it was read at.
	Get(ctx context.Context, kind, name string) (doc []byte, version int32, err error)
	// Put writes one task type or strategy document (the format of "tbsctl
	// apply") with the validation of apply, as a compare-and-set against
	// version (-1: create; refused if it exists). A version that is no
	// longer current is refused with the difference, never overwritten.
	Put(ctx context.Context, doc []byte, version int32) Result
}

// Config is what "tbsctl console" serves.
type Config struct {
	// Addr is the listen address, host:port (loopback by default in the
	// command).
	Addr string
	// Root is the tree the console shows (for the header).
	Root string
	// Users may log in; when empty, a one-time password for the operator
	// "admin" is generated and printed on Out.
	Users []User
	// Backend runs the commands.
	Backend Backend
	// Out receives the address and the one-time password.
	Out io.Writer
	// Audit receives one JSON line per change (who, what, before, after,
	// outcome).
	Audit io.Writer
	// Log receives the server's own errors.
	Log *slog.Logger
	// Poll is how often the pages refresh their data (default 2s); reads
	// are cached for half of it, whatever the number of browsers.
	Poll time.Duration
}

// Run serves the console until ctx is cancelled, then shuts down (at most
// 5 s for requests under way).
func Run(ctx context.Context, cfg Config) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("console: listen on %s: %w", cfg.Addr, err)
	}
	srv, err := newServer(cfg, time.Now)
	if err != nil {
		_ = ln.Close()
		return err
	}
	fmt.Fprintf(cfg.Out, "tbsctl console: serving root %s on http://%s/\n", cfg.Root, ln.Addr())
	hs := &http.Server{Handler: srv.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err = hs.Serve(ln)
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
