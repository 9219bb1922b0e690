package strategy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// A factory on the in-memory store runs two thread groups of a task type
// and one copy of a Bean task, as two strategies ask; cancelling Run stops
// everything gracefully.
func ExampleFactory() {
	ctx := context.Background()
	srv := memstore.New(memstore.Config{})
	store := srv.Connect(memstore.ClientConfig{})
	defer store.Close()

	// The configuration, as an operator (or tbsctl) would write it.
	admin := strategy.NewAdmin(store, strategy.AdminConfig{})
	tt := schedule.DefaultTaskType("orders")
	tt.DealBeanName = "orderDeal"
	tt.TaskItems = []string{"0", "1", "2", "3"}
	orders := schedule.DefaultStrategy("orders-s")
	orders.TaskName, orders.AssignNum = "orders", 2
	report := schedule.DefaultStrategy("report-s")
	report.Kind, report.TaskName, report.TaskParameter = schedule.KindBean, "reporter", "daily"
	for _, apply := range []func() (bool, error){
		func() (bool, error) { return admin.ApplyTaskType(ctx, tt) },
		func() (bool, error) { return admin.ApplyStrategy(ctx, orders) },
		func() (bool, error) { return admin.ApplyStrategy(ctx, report) },
	} {
		if _, err := apply(); err != nil {
			fmt.Println(err)
			return
		}
	}

	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = "10.0.0.1", "host1"
	f, err := strategy.NewFactory(store, cfg, strategy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println(err)
		return
	}

	// Twenty rows; row id belongs to item id mod 4.
	var mu sync.Mutex
	done := map[int]bool{}
	allDone, copyStarted := make(chan struct{}), make(chan struct{})
	err = f.RegisterDeal("orderDeal", processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			mu.Lock()
			defer mu.Unlock()
			var rows []int
			for id := 0; id < 20; id++ {
				for _, it := range req.Items {
					if fmt.Sprint(id%req.TaskItemNum) == it.ID && !done[id] {
						rows = append(rows, id)
					}
				}
			}
			return rows, nil
		},
		func(ctx context.Context, id int, ownSign string) error {
			mu.Lock()
			defer mu.Unlock()
			done[id] = true
			if len(done) == 20 {
				close(allDone)
			}
			return nil
		},
		processor.WithKey(func(id int) int { return id })))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = f.RegisterTask("reporter", strategy.TaskFunc(func(ctx context.Context, strategyName, param string) error {
		fmt.Println("report copy started:", strategyName, param)
		close(copyStarted)
		<-ctx.Done()
		fmt.Println("report copy stopped")
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}

	runCtx, stop := context.WithCancel(ctx)
	go func() {
		<-allDone
		<-copyStarted
		// Status is a snapshot published after each round: the rows may be
		// done before the round that started the managers has published.
		var st strategy.StrategyStatus
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if st, _ = f.Status().Strategy("orders-s"); len(st.Managers) == 2 {
				break
			}
		}
		fmt.Println("thread groups:", len(st.Managers))
		stop()
	}()
	err = f.Run(runCtx)
	fmt.Println("rows done:", len(done), "run:", err)
	// Output:
	// report copy started: report-s daily
	// thread groups: 2
	// report copy stopped
	// rows done: 20 run: <nil>
}
