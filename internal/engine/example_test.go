package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/tbschedule/tbschedule-go/internal/engine"
	"github.com/tbschedule/tbschedule-go/processor"
)

// A deal over a fixed table of orders: SelectTasks returns the unshipped
// orders of the items it is given (order % TaskItemNum), Execute ships one.
// The processor owns item "0" only, so it ships the even orders, then pauses
// when no data is left.
func Example() {
	orders := []int{101, 102, 103, 104, 105, 106}
	var mu sync.Mutex
	shipped := map[int]bool{}

	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			mine := map[string]bool{}
			for _, it := range req.Items {
				mine[it.ID] = true
			}
			mu.Lock()
			defer mu.Unlock()
			var out []int
			for _, o := range orders {
				if !shipped[o] && mine[strconv.Itoa(o%req.TaskItemNum)] && len(out) < req.FetchNum {
					out = append(out, o)
				}
			}
			return out, nil
		},
		func(ctx context.Context, order int, ownSign string) error {
			mu.Lock()
			defer mu.Unlock()
			shipped[order] = true
			return nil
		})

	cfg := engine.DefaultConfig()
	cfg.Type = processor.NotSleep // the order id (an int) is its own key
	cfg.ThreadNumber = 2
	cfg.TaskItemNum = 2
	cfg.PauseWhenNoData = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.OnPause = func(engine.PauseReason) { cancel() } // drained: stop
	p, err := engine.New(deal, cfg, engine.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	p.SetItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	if err := p.Run(ctx); err != nil {
		fmt.Println(err)
		return
	}

	var done []int
	for o := range shipped {
		done = append(done, o)
	}
	slices.Sort(done)
	s := p.Stats()
	fmt.Println("shipped:", done)
	fmt.Printf("fetched=%d succeeded=%d failed=%d paused=%q\n", s.Fetched, s.Succeeded, s.Failed, p.Status().Paused)
	// Output:
	// shipped: [102 104 106]
	// fetched=3 succeeded=3 failed=0 paused="no data"
}
