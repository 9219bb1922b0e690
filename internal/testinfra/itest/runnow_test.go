package itest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// rowTable is a table of rows, row r belonging to item r mod items; a row
// is done once executed. It counts the SelectTasks calls and closes
// allDone when every row is done.
type rowTable struct {
	mu      sync.Mutex
	done    map[int]bool
	rows    int
	fetches int
	allDone chan struct{}
}

func newRowTable(rows int) *rowTable {
	return &rowTable{done: map[int]bool{}, rows: rows, allDone: make(chan struct{})}
}

func (r *rowTable) fetchCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetches
}

func (r *rowTable) deal() processor.Deal {
	return processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.fetches++
			var out []int
			for row := range r.rows {
				for _, it := range req.Items {
					if strconv.Itoa(row%req.TaskItemNum) == it.ID && !r.done[row] {
						out = append(out, row)
					}
				}
			}
			return out, nil
		},
		func(ctx context.Context, row int, ownSign string) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.done[row] = true
			if len(r.done) == r.rows {
				close(r.allDone)
			}
			return nil
		},
		processor.WithKey(func(row int) int { return row }))
}

// heartbeats waits until every server of runtime rt has rewritten its
// record n more times: the managers' loops went on.
func heartbeats(t *testing.T, s storekit.ServerStore, rt string, n int) {
	t.Helper()
	first := map[schedule.ServerID]time.Time{}
	waitUntil(t, 60*time.Second, func() (bool, string) {
		svs, err := s.Servers(context.Background(), rt)
		if err != nil {
			return false, err.Error()
		}
		ok := len(svs) > 0
		for _, sv := range svs {
			if _, seen := first[sv.UUID]; !seen {
				first[sv.UUID] = sv.HeartBeatTime.Time
			}
			ok = ok && sv.HeartBeatTime.Sub(first[sv.UUID]) >= time.Duration(n)*500*time.Millisecond
		}
		return ok, "heartbeats"
	})
}

// On real ZooKeeper, a task type whose window is closed (its start is on
// January 1st) fetches nothing; run-now opens the window of both thread
// groups once: every row is processed, each window closes when its fetch
// finds no data, and nothing is fetched after that.
func TestRunNowOnClosedWindow(t *testing.T) {
	b := zkBackend(t, zktest.Shared(t))
	store := b.open(t)
	admin := strategy.NewAdmin(store, strategy.AdminConfig{Operator: "ops"})
	ctx := context.Background()
	tt := testTaskType("runnow", 4)
	tt.PermitRunStartTime, tt.PermitRunEndTime = "0 0 0 1 1 ?", "" // yearly, until no data
	_, err := admin.ApplyTaskType(ctx, tt)
	require.NoError(t, err)
	s := schedule.DefaultStrategy("runnow-s")
	s.TaskName, s.AssignNum, s.NumOfSingleServer = "runnow", 2, 1
	_, err = admin.ApplyStrategy(ctx, s)
	require.NoError(t, err)

	table := newRowTable(40)
	logs := []*eventLog{newEventLog(), newEventLog()}
	fs := make([]*strategy.Factory, 2)
	for i, host := range []string{"rn-1", "rn-2"} {
		fs[i], _ = runFactoryWith(t, b, b.open(t), host, table.deal(), logs[i].hook)
	}
	waitUntil(t, 60*time.Second, func() (bool, string) {
		n := 0
		for _, f := range fs {
			if m, ok := managerOf(f, "runnow-s"); ok && m.Window.State == "closed" {
				n += len(m.Owned)
			}
		}
		return n == 4, "both thread groups own their items, windows closed"
	})
	heartbeats(t, store, "runnow", 2)
	require.Zero(t, table.fetchCount(), "nothing is fetched while the window is closed")

	asked := time.Now()
	written, err := admin.RunNow(ctx, "runnow-s", "")
	require.NoError(t, err)
	assert.Equal(t, "ops", written.RunNowBy)
	select {
	case <-table.allDone:
		t.Logf("every row processed %v after run-now", time.Since(asked))
	case <-time.After(30 * time.Second):
		t.Fatalf("rows not processed within 30s of run-now")
	}
	for _, l := range logs {
		rn := l.await(t, schedule.EventRunNow, nil)
		assert.Contains(t, rn.Message, "run-now asked by ops at ")
		assert.Contains(t, rn.Message, ": window opened")
		l.await(t, schedule.EventWindowClose, func(e schedule.Event) bool { return e.Seq > rn.Seq })
	}
	after := table.fetchCount()
	assert.Positive(t, after)
	heartbeats(t, store, "runnow", 2)
	assert.Equal(t, after, table.fetchCount(), "nothing is fetched after the run ended")

	// The task type's data shows the request to tree and status readers.
	got, _, err := store.TaskType(ctx, "runnow")
	require.NoError(t, err)
	assert.True(t, written.RunNowAt.Equal(got.RunNowAt), "RunNow returns the request as stored: %v, %v", written.RunNowAt, got.RunNowAt)
	assert.Equal(t, "ops", got.RunNowBy)

	// Unknown names and task types without a window are refused.
	_, err = admin.RunNow(ctx, "runnw", "")
	require.ErrorIs(t, err, schedule.ErrNotFound)
	assert.Contains(t, err.Error(), `"runnw" is neither a strategy nor a task type`)
}
