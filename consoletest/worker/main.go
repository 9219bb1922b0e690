// Command worker is one factory process of the console's browser tests: a
// strategy.Factory on ZooKeeper whose deal "ordersDeal" has nothing to do
// (its thread groups own items and heartbeat, which is what the console
// shows). SIGTERM stops it gracefully; the tests also kill it.
//
//	worker -zk 127.0.0.1:2181 -root /shop -host w1 -session 2s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

func main() {
	zk := flag.String("zk", "", "ZooKeeper servers, comma-separated")
	root := flag.String("root", "", "application root")
	host := flag.String("host", "", "the factory's host name")
	session := flag.Duration("session", 2*time.Second, "ZooKeeper session timeout")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, strings.Split(*zk, ","), *root, *host, *session); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, servers []string, root, host string, session time.Duration) error {
	store, err := zkstore.Open(ctx, zkstore.Config{Servers: servers, Root: root, SessionTimeout: session})
	if err != nil {
		return err
	}
	defer store.Close()
	cfg := strategy.DefaultConfig()
	cfg.HostName = host
	cfg.RefreshInterval = time.Second
	f, err := strategy.NewFactory(store, cfg)
	if err != nil {
		return err
	}
	if err := f.RegisterDeal("ordersDeal", processor.Single[int64](idle{})); err != nil {
		return err
	}
	return f.Run(ctx)
}

// idle is a deal with no records.
type idle struct{}

func (idle) SelectTasks(context.Context, processor.SelectRequest) ([]int64, error) { return nil, nil }
func (idle) Execute(context.Context, int64, string) error                          { return nil }
