package manager_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
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

// spinStore counts a manager's registrations and reads of its servers and
// can misbehave: every registration fails with ErrSessionLost
// (sessionLost), or the watch of the servers is a closed channel
// (closedWatch).
type spinStore struct {
	storekit.Store
	registers, serverReads atomic.Int64
	sessionLost            atomic.Bool
	closedWatch            atomic.Bool
}

func (c *spinStore) RegisterServer(ctx context.Context, sess storekit.Session, rec schedule.Server) (schedule.Server, error) {
	c.registers.Add(1)
	if c.sessionLost.Load() {
		return schedule.Server{}, fmt.Errorf("spin store: register server: %w", schedule.ErrSessionLost)
	}
	return c.Store.RegisterServer(ctx, sess, rec)
}

func (c *spinStore) Servers(ctx context.Context, taskType string) ([]schedule.Server, error) {
	c.serverReads.Add(1)
	return c.Store.Servers(ctx, taskType)
}

func (c *spinStore) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	if scope.Kind == storekit.WatchServers && c.closedWatch.Load() {
		ch := make(chan struct{})
		close(ch)
		return ch, nil
	}
	return c.Store.Watch(ctx, scope)
}

// runSpinManager runs a manager on a spinStore prepared by prep, with a
// fake clock.
func runSpinManager(t *testing.T, prep func(*spinStore)) (*fakeclock.Clock, *spinStore, *manager.Manager) {
	clk := fakeclock.New(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	c := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = c.Close() })
	tt := schedule.DefaultTaskType("spin")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0", "1"}
	_, err := c.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
	st := &spinStore{Store: c}
	prep(st)
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))
	m, err := manager.NewManager(st, tt, "", deal, schedule.ManagerConfig{}, manager.WithClock(clk),
		manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop within 30s")
		}
	})
	return clk, st, m
}

// spanCount advances clk by total in 100ms steps, after each step waiting
// until the goroutine running fn is parked in a select (it waits for
// something; a busy loop never parks) or count exceeds limit, and returns
// count's growth.
func spanCount(t *testing.T, clk *fakeclock.Clock, fn string, total time.Duration, count func() int64, limit int64) int64 {
	t.Helper()
	start := count()
	settle := func() {
		require.Eventually(t, func() bool { return parkedIn(fn) || count()-start > limit },
			10*time.Second, time.Millisecond, "%s waits", fn)
	}
	settle()
	for elapsed := time.Duration(0); elapsed < total && count()-start <= limit; elapsed += 100 * time.Millisecond {
		clk.Advance(100 * time.Millisecond)
		settle()
	}
	return count() - start
}

// parkedIn reports whether a goroutine whose innermost frame of this module
// is fn is parked in a select.
func parkedIn(fn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, frames, _ := strings.Cut(g, "\n")
		if !strings.Contains(head, "[select") {
			continue
		}
		for _, line := range strings.Split(frames, "\n") {
			if strings.Contains(line, "tbschedule-go/") && !strings.HasPrefix(line, "\t") {
				if strings.Contains(line, fn+"(") {
					return true
				}
				break
			}
		}
	}
	return false
}

// A store that hands out a session on which every registration fails with
// ErrSessionLost must not be asked again at once, forever: the manager
// tried again without a pause.
func TestManagerSessionLostAtOnceDoesNotSpin(t *testing.T) {
	clk, st, _ := runSpinManager(t, func(s *spinStore) { s.sessionLost.Store(true) })
	const total = 20 * time.Second
	limit := int64(total/(50*time.Millisecond)) + 2 // the backoff starts at 100ms, jittered to ≥ 50ms
	n := spanCount(t, clk, "(*Manager).sleep", total, st.registers.Load, limit)
	t.Logf("over %v of fake time: %d registrations tried", total, n)
	assert.LessOrEqual(t, n, limit, "registrations over %v", total)
	assert.Positive(t, n, "the registration is retried")
}

// A closed watch channel (closed only when the store closes, by the
// contract) must not call for a round at once, forever.
func TestManagerClosedWatchDoesNotSpin(t *testing.T) {
	clk, st, m := runSpinManager(t, func(s *spinStore) { s.closedWatch.Store(true) })
	require.Eventually(t, func() bool { return len(m.Status().Owned) == 2 }, 10*time.Second, time.Millisecond)
	const total = 20 * time.Second
	// Rounds come from the resync (JudgeDeadInterval) and the heartbeat
	// checks, not from the closed channel: a handful per second at most.
	limit := int64(total/time.Second) * 4
	n := spanCount(t, clk, "(*Manager).runSession", total, st.serverReads.Load, limit)
	t.Logf("over %v of fake time: %d reads of the servers", total, n)
	assert.LessOrEqual(t, n, limit, "reads of the servers over %v", total)
}
