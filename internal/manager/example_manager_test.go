package manager_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
)

// A manager on the in-memory store processes the rows of the items it owns.
func ExampleManager() {
	srv := memstore.New(memstore.Config{})
	store := srv.Connect(memstore.ClientConfig{})
	defer store.Close()

	tt := schedule.DefaultTaskType("orders")
	tt.DealBeanName = "orderDeal"
	tt.TaskItems = []string{"0", "1"}
	if _, err := store.CreateTaskType(context.Background(), tt); err != nil {
		fmt.Println(err)
		return
	}

	// Ten "rows"; each belongs to item id mod 2. A row is done once executed.
	var mu sync.Mutex
	done := map[int]bool{}
	ctx, stop := context.WithCancel(context.Background())
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			mu.Lock()
			defer mu.Unlock()
			var rows []int
			for id := 0; id < 10; id++ {
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
			if len(done) == 10 {
				stop()
			}
			return nil
		},
		processor.WithKey(func(id int) int { return id }),
	)
	m, err := manager.NewManager(store, tt, "", deal, schedule.ManagerConfig{}, manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Run(ctx); err != nil {
		fmt.Println(err)
	}
	mu.Lock()
	fmt.Println("rows done:", len(done))
	mu.Unlock()
	// Output: rows done: 10
}
