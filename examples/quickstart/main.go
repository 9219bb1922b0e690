// Command quickstart shows tbschedule-go at work in one process: three
// manager factories share one task type of 10 task items, a stream of
// records is processed, one factory is killed halfway, and a short report
// says who owned which items, how long the takeover took, and whether every
// record was processed exactly once (counted, not assumed).
//
// It runs on the in-memory store by default, so it needs nothing installed:
//
//	go run ./examples/quickstart
//
// and on ZooKeeper with -zk (the tree goes under -root, removed at the end):
//
//	go run ./examples/quickstart -zk 127.0.0.1:2181
//
// A "kill" cuts the factory off the coordination service for good and stops
// its deal, as a crashed process would: its session is then expired by the
// store after the session timeout (-session), and after the lock delay (by
// default two thirds of the session timeout + 100ms: the time a cut-off
// process may still be running deals) its items are granted to the live
// thread groups with a higher epoch; nothing it fetched is lost.
// Flags: -records (how many), -session, -root, -v (library logs on stderr).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	if !rep.OK() {
		os.Exit(1)
	}
}

// parseFlags reads the command line into options; bad values are errors
// naming the flag.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	zk := fs.String("zk", "", "ZooKeeper servers as host:port[,host:port...]; empty: the in-memory store")
	fs.StringVar(&o.root, "root", o.root, "ZooKeeper root of the quickstart's tree (with -zk); deleted at the end")
	fs.IntVar(&o.records, "records", o.records, "number of records to produce (at least 20)")
	fs.DurationVar(&o.session, "session", o.session, "session timeout: a killed factory's items move after this long plus the lock delay (two thirds of it + 100ms)")
	verbose := fs.Bool("v", false, "log the library's Info messages to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: quickstart [-zk host:port] [-root /path] [-records n] [-session d] [-v]")
		fmt.Fprintln(fs.Output(), "example: go run ./examples/quickstart -zk 127.0.0.1:2181")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if *zk != "" {
		for _, s := range strings.Split(*zk, ",") {
			if s = strings.TrimSpace(s); s == "" {
				return o, fmt.Errorf("-zk %q: empty server in the list", *zk)
			}
			o.zk = append(o.zk, strings.TrimSpace(s))
		}
	}
	if o.records < 20 {
		return o, fmt.Errorf("-records %d: must be at least 20", o.records)
	}
	if o.session < 200*time.Millisecond || o.session > time.Minute {
		return o, fmt.Errorf("-session %v: must be between 200ms and 1m", o.session)
	}
	if o.zk != nil && (!strings.HasPrefix(o.root, "/") || o.root == "/" || strings.HasSuffix(o.root, "/")) {
		return o, fmt.Errorf("-root %q: must be an absolute path other than / without a trailing slash", o.root)
	}
	if *verbose {
		o.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return o, nil
}
