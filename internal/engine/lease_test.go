package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/processor"
)

// dropRecorder is a Metrics that sums the dropped records by reason.
type dropRecorder struct {
	processor.NopMetrics
	mu      sync.Mutex
	dropped map[processor.DropReason]int
}

func (d *dropRecorder) Dropped(n int, r processor.DropReason) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dropped == nil {
		d.dropped = map[processor.DropReason]int{}
	}
	d.dropped[r] += n
}

func (d *dropRecorder) get(r processor.DropReason) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped[r]
}

// TestLeaseLapse: the lease lapses while a record runs (the process was
// frozen longer than its session, and nothing has noticed yet: no Fence, no
// SetItems). The records after it — in its chunk and in the queue — are
// dropped unexecuted, no SelectTasks starts while the lease stays lapsed, and
// work resumes when it holds again.
func TestLeaseLapse(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			clk := newFakeClock()
			var valid atomic.Bool
			valid.Store(true)
			var mu sync.Mutex
			var executed []int
			var calls atomic.Int64
			d := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
				n := int(calls.Add(1))
				if n > 2 {
					return nil, nil
				}
				base := 100 * (n - 1)
				out := make([]int, 10)
				for i := range out {
					out[i] = base + i
				}
				return out, nil
			}, func(ctx context.Context, id int, _ string) error {
				mu.Lock()
				executed = append(executed, id)
				mu.Unlock()
				if id == 0 {
					valid.Store(false) // frozen during record 0, resumed after the session's end
				}
				return nil
			}, processor.WithKey(func(id int) int { return id }))
			cfg := testConfig(mode, 1)
			cfg.SleepTimeNoData = time.Hour
			rec := &dropRecorder{}
			p, err := New(d, cfg, WithClock(clk), WithLease(valid.Load), WithMetrics(rec))
			require.NoError(t, err)
			p.SetItems(items("0"))
			start(t, p)

			// Metrics hear of a drop after the stats count it.
			eventually(t, func() bool {
				s := p.Stats()
				return s.Lapsed+s.Succeeded >= 10 && rec.get(processor.DropLapsed) == int(s.Lapsed)
			},
				"the first fetch's records finished")
			mu.Lock()
			require.Equal(t, []int{0}, executed, "records started under a lapsed lease")
			mu.Unlock()
			assert.EqualValues(t, 9, p.Stats().Lapsed)
			assert.Equal(t, 9, rec.get(processor.DropLapsed))
			assert.Zero(t, p.Stats().Fenced)
			for range 3 { // the fetcher looks again every leaseRetry, and does not fetch
				eventually(t, func() bool { return clk.Active() == 1 }, "fetcher waiting on the lease")
				assert.EqualValues(t, 1, calls.Load(), "SelectTasks called under a lapsed lease")
				clk.Advance(leaseRetry)
			}

			valid.Store(true)
			clk.Advance(leaseRetry)
			eventually(t, func() bool { return p.Stats().Succeeded == 11 && calls.Load() == 3 }, "work resumes once the lease holds")
			mu.Lock()
			assert.True(t, slices.Contains(executed, 100), "executed %v", executed)
			mu.Unlock()
			s := p.Stats()
			assert.Equal(t, s.Fetched, s.Succeeded+s.Lapsed+int64(p.Status().Unfinished))
		})
	}
}
