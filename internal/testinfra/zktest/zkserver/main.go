//go:build unix

// Command zkserver is the engine of scripts/zookeeper: it starts, stops and
// reports a standalone ZooKeeper server kept in a folder the user names, run
// from the same installation as the tests' servers (see zktest.Daemon).
//
//	zkserver start DIR [--port N]   prints the address on stdout
//	zkserver stop DIR
//	zkserver status DIR             prints the address on stdout
//
// Exit codes: 0 ok (start of a running server and stop of a stopped one
// included), 1 failure, 2 usage error, 3 status of a server that does not
// run.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

const usage = `usage: scripts/zookeeper start DIR [--port N] | stop DIR | status DIR
  start   start a standalone server on 127.0.0.1 with its config, data, log and
          pid in DIR; print its address (--port 0: the port of DIR's previous
          run, else a free one)
  stop    stop DIR's server
  status  print the address of DIR's server, or exit 3 if it does not run`

// Exit codes.
const (
	exitOK         = 0
	exitFail       = 1
	exitUsage      = 2
	exitNotRunning = 3
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	cmd, dir := args[0], args[1]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	port := fs.Int("port", 0, "client port")
	if err := fs.Parse(args[2:]); err != nil || fs.NArg() > 0 || (cmd != "start" && *port != 0) {
		fmt.Fprintf(stderr, "zookeeper: bad arguments %q\n%s\n", args[2:], usage)
		return exitUsage
	}
	d, err := zktest.NewDaemon(dir)
	if err != nil {
		fmt.Fprintf(stderr, "zookeeper: %s\n", msg(err))
		return exitUsage
	}
	switch cmd {
	case "start":
		return start(d, *port, stdout, stderr)
	case "stop":
		return stop(d, stdout, stderr)
	case "status":
		return status(d, stdout, stderr)
	}
	fmt.Fprintf(stderr, "zookeeper: unknown command %q\n%s\n", cmd, usage)
	return exitUsage
}

func start(d zktest.Daemon, port int, stdout, stderr io.Writer) int {
	st, already, err := d.Start(port)
	switch {
	case errors.Is(err, zktest.ErrPortTaken):
		fmt.Fprintf(stderr, "zookeeper: %s\n(choose another port with --port N)\n", msg(err))
		return exitFail
	case err != nil:
		fmt.Fprintf(stderr, "zookeeper: %s\n", msg(err))
		return exitFail
	case already && st.Err != nil:
		fmt.Fprintf(stderr, "zookeeper: already running in %s (pid %d) but %s does not answer: %v\n", d.Dir(), st.PID, st.Addr, st.Err)
		return exitFail
	case already:
		fmt.Fprintf(stderr, "zookeeper: already running in %s (pid %d), serving %s\n", d.Dir(), st.PID, st.Addr)
	default:
		fmt.Fprintf(stderr, "zookeeper: started in %s (pid %d; data, log and pid there), serving %s\n", d.Dir(), st.PID, st.Addr)
	}
	fmt.Fprintln(stdout, st.Addr)
	return exitOK
}

func stop(d zktest.Daemon, stdout, stderr io.Writer) int {
	pid, err := d.Stop()
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "zookeeper: %s\n", msg(err))
		return exitFail
	case pid == 0:
		fmt.Fprintf(stdout, "zookeeper: not running in %s\n", d.Dir())
	default:
		fmt.Fprintf(stdout, "zookeeper: stopped (pid %d) in %s\n", pid, d.Dir())
	}
	return exitOK
}

func status(d zktest.Daemon, stdout, stderr io.Writer) int {
	st := d.State()
	switch {
	case st.PID == 0:
		fmt.Fprintf(stderr, "zookeeper: not running in %s\n", d.Dir())
		return exitNotRunning
	case st.Err != nil:
		fmt.Fprintf(stderr, "zookeeper: running in %s (pid %d) but %s does not answer: %v\n", d.Dir(), st.PID, st.Addr, st.Err)
		return exitFail
	}
	fmt.Fprintf(stderr, "zookeeper: running in %s (pid %d), %s, serving %s\n", d.Dir(), st.PID, st.Mode, st.Addr)
	fmt.Fprintln(stdout, st.Addr)
	return exitOK
}

// msg is err's text without the package prefix: the script speaks as
// "zookeeper:".
func msg(err error) string { return strings.TrimPrefix(err.Error(), "zktest: ") }
