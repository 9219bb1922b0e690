package itest

import (
	"context"
	"slices"
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

// NewManager validates everything before anything is registered.
func TestNewManagerValidates(t *testing.T) {
	b := memBackend(t)
	store := b.open(t)
	rec := newRecorder()
	good := testTaskType("valid", 3)

	bad := good
	bad.HeartBeatRate, bad.JudgeDeadInterval = 10*time.Second, 20*time.Second
	notSleepNoKey := good
	notSleepNoKey.ProcessorType = schedule.ProcessorNotSleep
	keyless := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]struct{ A []int }, error) { return nil, nil },
		func(ctx context.Context, v struct{ A []int }, ownSign string) error { return nil })

	for _, tc := range []struct {
		name    string
		tt      schedule.TaskType
		ownSign string
		deal    processor.Deal
		want    string
	}{
		{"unknown deal bean", good, "", nil, `no deal registered under dealBeanName "recorder"`},
		{"bad config", bad, "", rec.deal("x", 0), "judgeDeadInterval"},
		{"bad ownSign", good, "A/B", rec.deal("x", 0), "ownSign"},
		{"NOTSLEEP deal without a key", notSleepNoKey, "", keyless, "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manager.NewManager(store, tc.tt, tc.ownSign, tc.deal, schedule.ManagerConfig{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	runtimes, err := store.Runtimes(context.Background(), "valid")
	require.NoError(t, err)
	assert.Empty(t, runtimes, "nothing registered by a failed NewManager")
}

// ownSign runtimes are fully separate: their own servers, items and leader.
func TestManagerOwnSignIsolation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		obs := b.open(t)
		tt := testTaskType("iso", 4)
		createTaskType(t, obs, tt)
		rec := newRecorder()
		start := func(name, ownSign string) *running {
			return startManagerSign(t, b, b.open(t), tt, name, ownSign, rec.deal(name, time.Millisecond))
		}
		start("base1", "")
		start("base2", "BASE")
		test1 := start("test1", "TEST")
		waitBalanced(t, obs, "iso", 2, 4, 20*time.Second)
		waitBalanced(t, obs, "iso$TEST", 1, 4, 20*time.Second)
		// The observer may see the grants before the manager's next round.
		var st schedule.Status
		require.Eventually(t, func() bool { st = test1.m.Status(); return len(st.Owned) == 4 }, 10*time.Second, 5*time.Millisecond)
		assert.Equal(t, "iso$TEST", st.Runtime)
		assert.True(t, st.IsLeader, "the only TEST server leads its runtime")
		assert.Len(t, st.Owned, 4)
		for _, o := range st.Owned {
			assert.Positive(t, o.Epoch, "item %s", o.ID)
		}
		runtimes, err := obs.Runtimes(context.Background(), "iso")
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"iso", "iso$TEST"}, runtimes)
	})
}

// The runtime of an ownSign with no live server for expireOwnSignInterval is
// removed by the leader of another runtime; never while a server lives.
func TestManagerExpiresStaleOwnSign(t *testing.T) {
	b := memBackend(t)
	clk := b.clock.(*fakeclock.Clock)
	obs := b.open(t)
	tt := testTaskType("stale", 2)
	tt.ExpireOwnSignInterval = time.Hour
	tt.JudgeDeadInterval = 5 * time.Second // also the resync period
	createTaskType(t, obs, tt)
	rec := newRecorder()

	dev := startManagerSign(t, b, b.open(t), tt, "dev", "DEV", rec.deal("dev", time.Millisecond))
	waitBalanced(t, obs, "stale$DEV", 1, 2, 20*time.Second)
	old := startManagerSign(t, b, b.open(t), tt, "old", "OLD", rec.deal("old", time.Millisecond))
	waitBalanced(t, obs, "stale$OLD", 1, 2, 20*time.Second)
	startManagerSign(t, b, b.open(t), tt, "base", "", rec.deal("base", time.Millisecond))
	waitBalanced(t, obs, "stale", 1, 2, 20*time.Second)

	// Two hours after the OLD server left, a leader removes its runtime. A
	// leader's pass lists the runtimes in order and skips its own, so the
	// pass that removes stale$OLD (by the base's or DEV's leader) has first
	// looked at a runtime whose server lives (stale$DEV or stale), and kept it.
	old.stop(t)
	clk.Advance(2 * time.Hour)
	waitRuntimes(t, obs, "stale", []string{"stale", "stale$DEV"}, "stale$OLD removed, the live ones kept")

	dev.stop(t)
	clk.Advance(2 * time.Hour)
	waitRuntimes(t, obs, "stale", []string{"stale"}, "the stale DEV runtime is removed an hour after its last server left")
}

// waitRuntimes waits until the runtimes of base are want (sorted).
func waitRuntimes(t *testing.T, obs storekit.ServerStore, base string, want []string, what string) {
	t.Helper()
	runtimes := func() []string {
		rts, err := obs.Runtimes(context.Background(), base)
		if err != nil {
			return []string{err.Error()}
		}
		return rts
	}
	if !assert.Eventually(t, func() bool { return slices.Equal(runtimes(), want) }, 20*time.Second, 20*time.Millisecond, what) {
		t.Fatalf("runtimes of %s: %v, want %v", base, runtimes(), want)
	}
}

// A permit window on cluster time: closed → nothing runs; at the start cron
// the processor starts; at the end cron it stops. With "-1" as end, the
// window closes when SelectTasks returns nothing.
func TestManagerPermitWindow(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 11, 21, 8, 59, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	obs := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = obs.Close() })
	tt := testTaskType("window", 2)
	tt.PermitRunStartTime, tt.PermitRunEndTime = "0 0 9 * * ?", "0 0 10 * * ?"
	createTaskType(t, obs, tt)

	var runs atomic.Int64
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			return []int{int(runs.Load())}, nil
		},
		func(ctx context.Context, n int, ownSign string) error { runs.Add(1); return nil },
		processor.WithKey(func(n int) int { return n }))
	store := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = store.Close() })
	m, err := manager.NewManager(store, tt, "", deal, schedule.ManagerConfig{}, manager.WithClock(clk), manager.WithLogger(testLogger()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	require.Eventually(t, func() bool { return len(m.Status().Owned) == 2 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, "closed", m.Status().Window.State)
	beats := heartbeatsOf(t, obs, m, clk, tt.HeartBeatRate)
	beats()
	assert.Zero(t, runs.Load(), "nothing runs before the window opens")

	clk.Advance(61 * time.Second) // 09:00:01
	require.Eventually(t, func() bool { return runs.Load() > 0 }, 10*time.Second, 5*time.Millisecond, "the window opened at 09:00")
	assert.Equal(t, "open", m.Status().Window.State)

	clk.Advance(time.Hour) // 10:00:01
	require.Eventually(t, func() bool { return m.Status().Window.State == "closed" }, 10*time.Second, 5*time.Millisecond)
	stopped := runs.Load()
	beats()
	assert.Equal(t, stopped, runs.Load(), "nothing runs after the window closed")
	assert.Equal(t, time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), m.Status().Window.NextStart.Time)
}

// heartbeatsOf returns a function that moves the test's fake clock on by
// heartbeat periods until m's server has written two more heartbeats:
// proof that the manager lived through that time. The first call waits for
// the server to register.
func heartbeatsOf(t *testing.T, obs storekit.ServerStore, m *manager.Manager, clk *fakeclock.Clock, period time.Duration) func() {
	t.Helper()
	require.Eventually(t, func() bool { return m.Status().Server != "" }, 10*time.Second, time.Millisecond)
	return func() {
		t.Helper()
		waitHeartbeats(t, obs, m.Runtime(), m.Status().Server, 2, func() { clk.Advance(period) })
	}
}

// With an end of "-1" the window closes when SelectTasks returns nothing,
// and opens again at the next start.
func TestManagerPauseWhenNoData(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 11, 21, 8, 59, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	obs := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = obs.Close() })
	tt := testTaskType("nodata", 2)
	tt.PermitRunStartTime, tt.PermitRunEndTime = "0 0 9 * * ?", "-1"
	createTaskType(t, obs, tt)

	var left atomic.Int64 // records still to hand out
	left.Store(5)
	var runs atomic.Int64
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int64, error) {
			if n := left.Load(); n > 0 {
				left.Store(n - 1)
				return []int64{n}, nil
			}
			return nil, nil
		},
		func(ctx context.Context, n int64, ownSign string) error { runs.Add(1); return nil },
		processor.WithKey(func(n int64) int64 { return n }))
	store := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = store.Close() })
	m, err := manager.NewManager(store, tt, "", deal, schedule.ManagerConfig{}, manager.WithClock(clk), manager.WithLogger(testLogger()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	require.Eventually(t, func() bool { return len(m.Status().Owned) == 2 }, 10*time.Second, 5*time.Millisecond)
	// The work host reads the window once at its start: advancing before it
	// has (it may start after the items are owned) would make 09:00:01 its
	// first instant, and the window would wait for the next day's start.
	nine := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	require.Eventually(t, func() bool {
		w := m.Status().Window
		return w.State == "closed" && w.NextStart.Equal(nine)
	}, 10*time.Second, 5*time.Millisecond, "the window waits for 09:00")
	clk.Advance(61 * time.Second) // 09:00:01: the window opens
	require.Eventually(t, func() bool { return m.Status().Window.State == "paused-no-data" }, 10*time.Second, 5*time.Millisecond,
		"the window closes once SelectTasks returns nothing")
	assert.EqualValues(t, 5, runs.Load(), "every record was processed before the pause")

	left.Store(3)
	clk.Advance(24 * time.Hour) // the next day's start
	require.Eventually(t, func() bool { return runs.Load() == 8 }, 10*time.Second, 5*time.Millisecond, "the next start opens the window again")
}

// countingMetrics counts what a Manager reports.
type countingMetrics struct {
	schedule.NopMetrics
	leader, owned, windows atomic.Int64
}

func (c *countingMetrics) LeaderChanged(string, schedule.ServerID, bool) { c.leader.Add(1) }
func (c *countingMetrics) ItemsOwned(string, schedule.ServerID, int)     { c.owned.Add(1) }
func (c *countingMetrics) WindowChanged(string, bool)                    { c.windows.Add(1) }

func TestManagerStatusAndMetrics(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("status", 3)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	met := &countingMetrics{}
	r := startManagerSign(t, b, b.open(t), tt, "s", "", rec.deal("s", time.Millisecond), manager.WithMetrics(met))
	m := r.m
	require.Eventually(t, func() bool { return len(m.Status().Owned) == 3 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return m.Status().Stats.Succeeded > 0 }, 10*time.Second, 5*time.Millisecond)
	st := m.Status()
	assert.True(t, st.IsLeader)
	assert.Equal(t, st.Server, st.Leader)
	assert.Equal(t, schedule.SessionConnected, st.Session)
	assert.Equal(t, "open", st.Window.State)
	assert.Equal(t, 1, st.Servers)
	assert.Equal(t, 3, st.Items)
	assert.Positive(t, met.leader.Load())
	assert.Positive(t, met.owned.Load())
	assert.Positive(t, met.windows.Load())

	// The heartbeat writes statistics into the server record.
	require.Eventually(t, func() bool {
		servers, err := obs.Servers(context.Background(), "status")
		require.NoError(t, err)
		return len(servers) == 1 && servers[0].Version > 0 && servers[0].DealInfoDesc != "" && servers[0].NextRunStartTime == ""
	}, 10*time.Second, 5*time.Millisecond)
	r.stop(t)
	assert.Empty(t, m.Status().Owned, "a stopped manager owns nothing")
}
