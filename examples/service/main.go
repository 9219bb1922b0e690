// Command service is a complete small service on tbschedule-go: it sends
// the emails of an outbox, split over 10 task items, on as many processes
// as you start, coordinated through ZooKeeper.
//
//	go run ./examples/service -zk 127.0.0.1:2181
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

func main() {
	zk := flag.String("zk", "127.0.0.1:2181", "ZooKeeper servers, host:port[,host:port...]")
	root := flag.String("root", "/emails-app", "root of this application's tree in ZooKeeper")
	flag.Parse()
	if err := run(context.Background(), strings.Split(*zk, ","), *root, newOutbox(100)); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, servers []string, root string, box *outbox) error {
	store, err := zkstore.Open(ctx, zkstore.Config{Servers: servers, Root: root})
	if err != nil {
		return err
	}
	defer store.Close() // after Run has returned

	// The configuration lives in ZooKeeper; any process (or tbsctl apply)
	// may write it. Applying the same values again changes nothing.
	admin := strategy.NewAdmin(store)
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
