package itest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// runBounded runs a manager with short stop bounds on store and returns it
// with its cancel function and the channel Run's result arrives on.
func runBounded(t *testing.T, b backend, store storekit.Store, tt schedule.TaskType, name string, deal processor.Deal) (*manager.Manager, context.CancelFunc, chan error) {
	t.Helper()
	cfg := schedule.DefaultManagerConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", name
	cfg.ShutdownTimeout, cfg.CancelGrace, cfg.StopTimeout = 300*time.Millisecond, 100*time.Millisecond, time.Second
	m, err := manager.NewManager(store, tt, "", deal, cfg,
		manager.WithLogger(testLogger().With("mgr", name)), manager.WithClock(b.clock))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(cancel)
	return m, cancel, done
}

// awaitRun waits for Run's result; a Run that never returns fails the test
// (after a minute, far beyond every bound of the stop).
func awaitRun(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Run did not return: the graceful stop is not bounded")
		return nil
	}
}

// A graceful stop during a partition cannot remove the server node (the
// session is only ever suspect on this side): Run returns once StopTimeout
// has passed, with ErrStopIncomplete naming the node, instead of retrying
// for ever.
func TestManagerStopDuringPartitionIsBounded(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	obs := b.open(t)
	tt := testTaskType("stoppart", 3)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	proxy := c.NewProxy(t)
	m, cancel, done := runBounded(t, b, openZK(t, c, proxy.Servers(), b.root), tt, "m1", rec.deal("m1", 5*time.Millisecond))
	waitBalanced(t, obs, "stoppart", 1, 3, 20*time.Second)
	me := m.Status().Server

	proxy.Blackhole()
	require.Eventually(t, func() bool { return m.Status().Session == schedule.SessionSuspect }, 20*time.Second, 5*time.Millisecond)
	cancel()
	err := awaitRun(t, done)
	require.ErrorIs(t, err, schedule.ErrStopIncomplete)
	assert.Contains(t, err.Error(), "server node "+string(me)+" not removed")
	proxy.Pass()
}

// A deal that ignores its context keeps the stop from handing its items
// over (that would overlap the next owner), but only for StopTimeout: Run
// then returns ErrStopIncomplete naming the deal, and the items are left
// with this server.
func TestManagerStopWithStuckDealIsBounded(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("stopstuck", 2)
	tt.ThreadNumber = 1
	createTaskType(t, obs, tt)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(ctx context.Context, n int, ownSign string) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-release // ignores ctx
			return nil
		})
	m, cancel, done := runBounded(t, b, b.open(t), tt, "m1", deal)
	waitBalanced(t, obs, "stopstuck", 1, 2, 20*time.Second)
	me := m.Status().Server
	<-started
	cancel()
	err := awaitRun(t, done)
	require.ErrorIs(t, err, schedule.ErrStopIncomplete)
	assert.Contains(t, err.Error(), "a deal that ignores its context still runs")
	o := readOwnership(t, obs, "stopstuck")
	for item, owner := range o.owner {
		assert.Equal(t, me, owner, "item %s must not be handed over while its deal runs", item)
	}
}
