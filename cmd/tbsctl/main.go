// Command tbsctl inspects and edits the ZooKeeper tree of tbschedule-go: the
// operator's console. It shows the tree, the runtime of every task type and
// strategy, applies and exports configuration (also in the export format of
// TBSchedule's Java console), pauses and resumes strategies, stops, starts
// and drains factories, and diagnoses problems; "tbsctl console" serves all
// of it as a web console (docs/CONSOLE.md).
//
// Run "tbsctl help" for the commands, "tbsctl help COMMAND" for one of them.
// The connection comes from flags or the environment:
//
//	TBSCTL_ZK=zk1:2181,zk2:2181 TBSCTL_ROOT=/orders-app tbsctl status
//
// Digest credentials are read only from TBSCTL_AUTH ("user:password"), never
// from a flag, and are never printed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Main(ctx, os.Args[1:], ctl.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
