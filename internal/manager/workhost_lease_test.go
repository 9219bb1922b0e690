package manager

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// The processor of a work host asks the session's lease before every record
// and every fetch: when the lease lapses (a process resumed after a freeze
// longer than its session) nothing new starts, although the session still
// reads Connected and neither the guard nor the session loop has acted.
func TestWorkHostStopsOnLapsedLease(t *testing.T) {
	var mu sync.Mutex
	var executed []int
	var calls atomic.Int64
	sess := newFakeSess()
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			n := int(calls.Add(1))
			if n > 2 {
				return nil, nil
			}
			out := make([]int, 10)
			for i := range out {
				out[i] = 100*(n-1) + i
			}
			return out, nil
		},
		func(ctx context.Context, id int, _ string) error {
			mu.Lock()
			executed = append(executed, id)
			mu.Unlock()
			if id == 0 {
				sess.lapsed.Store(true) // frozen during record 0, past the session's end
			}
			return nil
		})
	tt := schedule.DefaultTaskType("lease")
	tt.DealBeanName = "d"
	tt.TaskItems = []string{"0"}
	tt.ThreadNumber = 1
	m, err := NewManager(nopStore{}, tt, "", deal, schedule.ManagerConfig{}, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	w := newWorkHost(m)
	defer w.stop()
	w.setLease(sess)
	w.setItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	w.applyWindow(windowState{Open: true}, false, "open")

	waitFor(t, func() bool { s := w.stats(); return s.Succeeded+s.Lapsed >= 10 }, "the first fetch's records finished")
	mu.Lock()
	assert.Equal(t, []int{0}, executed, "records started under a lapsed lease")
	mu.Unlock()
	assert.EqualValues(t, 1, calls.Load(), "SelectTasks called under a lapsed lease")
	assert.Equal(t, schedule.SessionConnected, sess.State(), "nothing but the lease told the processor")

	sess.lapsed.Store(false)
	waitFor(t, func() bool { return w.stats().Succeeded == 11 }, "work resumes once the lease holds")
}
