package manager_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// raceStore counts UpdateItems calls and, when armed, makes the next one
// lose the race on every update (ErrConflict, nothing written).
type raceStore struct {
	storekit.Store
	updates atomic.Int64
	lose    atomic.Bool
}

func (c *raceStore) UpdateItems(ctx context.Context, taskType string, guard schedule.ServerID, ups []storekit.ItemUpdate) ([]storekit.ItemUpdateResult, error) {
	c.updates.Add(1)
	if c.lose.CompareAndSwap(true, false) {
		res := make([]storekit.ItemUpdateResult, len(ups))
		for i, u := range ups {
			res[i].Err = fmt.Errorf("race store: item %s moved: %w", u.Old.ID, schedule.ErrConflict)
		}
		return res, nil
	}
	return c.Store.UpdateItems(ctx, taskType, guard, ups)
}

// A leader whose writes lost a race plans again at once: the items
// concerned were read again, and a race is what is expected while servers
// join. It waited for the retry's backoff (here on a fake clock that does
// not move, so for ever), unless another change woke it first.
func TestLeaderRacesAgainAtOnce(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	c := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	tt := schedule.DefaultTaskType("race")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0", "1"}
	_, err := c.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	st := &raceStore{Store: c}
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))
	m, err := manager.NewManager(st, tt, "", deal, schedule.ManagerConfig{}, manager.WithClock(clk),
		manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop within 30s")
		}
	})
	require.Eventually(t, func() bool { return len(m.Status().Owned) == 2 && parkedIn("(*Manager).runSession") },
		10*time.Second, time.Millisecond, "the leader owns both items and waits")

	// A second server joins: the leader asks itself to hand one item
	// over, and that write loses a race.
	st.lose.Store(true)
	before := st.updates.Load()
	rt := schedule.RuntimeName(tt.BaseTaskType, "")
	sess, err := c.Session(ctx)
	require.NoError(t, err)
	now := schedule.Time{Time: clk.Now()}
	other, err := c.RegisterServer(ctx, sess, schedule.Server{TaskType: rt, BaseTaskType: tt.BaseTaskType,
		OwnSign: schedule.DefaultOwnSign, IP: "127.0.0.1", HostName: "other", ThreadNum: 1,
		RegisterTime: now, HeartBeatTime: now, IsRegister: true})
	require.NoError(t, err)

	// The fake clock never advances: no timer fires.
	asked := func() int {
		items, err := c.Items(ctx, rt)
		require.NoError(t, err)
		n := 0
		for _, it := range items.Items {
			if it.ReqServer == other.UUID || it.CurServer == other.UUID {
				n++ // asked for, or already handed over
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return asked() == 1 }, 10*time.Second, time.Millisecond,
		"the leader wrote again after losing the race, without a backoff: one item asked for the newcomer (or handed over)")
	assert.GreaterOrEqual(t, st.updates.Load()-before, int64(2), "UpdateItems calls: the lost one and the one after it")
}
