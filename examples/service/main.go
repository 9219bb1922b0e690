// Command service is a complete small service on tbschedule-go: it sends
// the emails of an outbox, split over 10 task items, on as many processes
// as you start, coordinated through ZooKeeper.
//
//	go run ./examples/service -zk 127.0.0.1:2181
//
// It serves Kubernetes-style probes on -http (by default a free port of
// 127.0.0.1, logged at the start; give a fixed one in a pod, e.g. -http
// :8080): /healthz (alive), /readyz (ready to work) and /events (what happened). /metrics is left out here: the Prometheus exporter is the
// nested module tbsprom, which this module does not depend on (see the
// README's "Metrics").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

func main() {
	zk := flag.String("zk", "127.0.0.1:2181", "ZooKeeper servers, host:port[,host:port...]")
	root := flag.String("root", "/emails-app", "root of this application's tree in ZooKeeper")
	addr := flag.String("http", "127.0.0.1:0", "address of the probes /healthz and /readyz")
	flag.Parse()
	probes, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(context.Background(), strings.Split(*zk, ","), *root, probes, newOutbox(100)); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, servers []string, root string, probes net.Listener, box *outbox) error {
	store, err := zkstore.Open(ctx, zkstore.Config{Servers: servers, Root: root})
	if err != nil {
		return err
	}
	defer store.Close() // after Run has returned

	// The configuration lives in ZooKeeper; any process (or tbsctl apply)
	// may write it. Applying the same values again changes nothing.
	admin := strategy.NewAdmin(store, strategy.AdminConfig{})
	tt := schedule.DefaultTaskType("emails")
	tt.DealBeanName = "emailDeal"
	tt.TaskItems = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	if _, err := admin.ApplyTaskType(ctx, tt); err != nil {
		return err
	}
	st := schedule.DefaultStrategy("emails-s")
	st.TaskName, st.AssignNum = "emails", 4 // 4 thread groups over all processes
	if _, err := admin.ApplyStrategy(ctx, st); err != nil {
		return err
	}

	f, err := strategy.NewFactory(store, strategy.DefaultConfig(), strategy.WithLogger(slog.Default()))
	if err != nil {
		return err
	}
	if err := f.RegisterDeal("emailDeal", processor.Single[int64](box)); err != nil {
		return err
	}
	// /healthz fails only when the factory is not running or its loop is
	// stuck (restart the process); /readyz also while the ZooKeeper session
	// is not connected, the factory not registered or stopped by the
	// operator. Both answer JSON with the reasons. /events lists the last
	// ownership changes, holds, fences, windows and failures.
	mux := http.NewServeMux()
	mux.Handle("/healthz", f.Health())
	mux.Handle("/readyz", f.Health())
	mux.Handle("/events", f.Health())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(probes); !errors.Is(err, http.ErrServerClosed) {
			slog.Error("probes stopped", "err", err)
		}
	}()
	defer srv.Close()
	slog.Info("probes: /healthz and /readyz", "addr", probes.Addr().String())
	// SIGINT or SIGTERM: graceful stop (items handed over, nodes removed);
	// a second one forces the stop.
	runCtx, release := f.StopOnSignal(ctx)
	defer release()
	return f.Run(runCtx) // blocks until the context is cancelled, then stops gracefully
}

// outbox stands for your database: emails to send, by id.
type outbox struct {
	mu      sync.Mutex
	pending map[int64]string
}

func newOutbox(n int) *outbox {
	b := &outbox{pending: map[int64]string{}}
	for id := range int64(n) {
		b.pending[id] = fmt.Sprintf("user%d@example.com", id)
	}
	return b
}

// SelectTasks returns the pending emails of the items this thread group
// owns: in SQL, "WHERE mod(id, ?) IN (...) LIMIT ?".
func (b *outbox) SelectTasks(ctx context.Context, req processor.SelectRequest) ([]int64, error) {
	mine := map[int64]bool{}
	for _, it := range req.Items {
		n, err := strconv.ParseInt(it.ID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("task item %q is not a number", it.ID)
		}
		mine[n] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []int64
	for id := range b.pending {
		if mine[id%int64(req.TaskItemNum)] && len(ids) < req.FetchNum {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Execute sends one email and marks it sent.
func (b *outbox) Execute(ctx context.Context, id int64, ownSign string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Printf("%s: sending email %d to %s\n", ownSign, id, b.pending[id])
	delete(b.pending, id)
	return nil
}
