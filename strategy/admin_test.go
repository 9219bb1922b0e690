package strategy_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// racingStore changes the node under the admin once, between its read and
// its compare-and-set, as a concurrent operator would.
type racingStore struct {
	storekit.Store
	raced atomic.Bool
}

func (r *racingStore) UpdateTaskType(ctx context.Context, t schedule.TaskType, v schedule.Version) (schedule.Version, error) {
	if r.raced.CompareAndSwap(false, true) {
		other := t
		other.TaskParameter = "written by someone else"
		if _, err := r.Store.UpdateTaskType(ctx, other, v); err != nil {
			return 0, err
		}
	}
	return r.Store.UpdateTaskType(ctx, t, v)
}

func (r *racingStore) UpdateStrategy(ctx context.Context, s schedule.Strategy, v schedule.Version) (schedule.Version, error) {
	if r.raced.CompareAndSwap(false, true) {
		other := s
		other.TaskParameter = "written by someone else"
		if _, err := r.Store.UpdateStrategy(ctx, other, v); err != nil {
			return 0, err
		}
	}
	return r.Store.UpdateStrategy(ctx, s, v)
}

func TestAdminApplyTaskType(t *testing.T) {
	e := newEnv(t)
	bad := taskType("bad", 2)
	bad.JudgeDeadInterval = bad.HeartBeatRate
	bad.ThreadNumber = 0
	_, err := e.admin.ApplyTaskType(e.ctx, bad)
	require.ErrorIs(t, err, schedule.ErrInvalid)
	assert.Contains(t, err.Error(), "judgeDeadInterval")
	assert.Contains(t, err.Error(), "threadNumber")
	_, _, err = e.obs.TaskType(e.ctx, "bad")
	require.ErrorIs(t, err, schedule.ErrNotFound, "nothing written")

	tt := taskType("tt", 2)
	changed, err := e.admin.ApplyTaskType(e.ctx, tt)
	require.NoError(t, err)
	assert.True(t, changed, "created")
	changed, err = e.admin.ApplyTaskType(e.ctx, tt)
	require.NoError(t, err)
	assert.False(t, changed, "unchanged")
	tt.ThreadNumber = 3
	changed, err = e.admin.ApplyTaskType(e.ctx, tt)
	require.NoError(t, err)
	assert.True(t, changed, "updated")

	// A concurrent writer wins the race once: the admin re-reads and applies.
	racing := &racingStore{Store: e.obs}
	tt.ThreadNumber = 4
	changed, err = strategy.NewAdmin(racing, strategy.AdminConfig{}).ApplyTaskType(e.ctx, tt)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.True(t, racing.raced.Load())
	got, _, err := e.obs.TaskType(e.ctx, "tt")
	require.NoError(t, err)
	assert.Equal(t, 4, got.ThreadNumber)
	assert.Equal(t, tt.TaskParameter, got.TaskParameter, "the admin's value, applied after re-reading")

	// A corrupt node is replaced.
	require.NoError(t, e.srv.WriteRaw("/baseTaskType/tt", []byte("{not json")))
	changed, err = e.admin.ApplyTaskType(e.ctx, tt)
	require.NoError(t, err)
	assert.True(t, changed)
	_, _, err = e.obs.TaskType(e.ctx, "tt")
	require.NoError(t, err)
}

func TestAdminApplyStrategyAndStates(t *testing.T) {
	e := newEnv(t)
	bad := scheduleStrategy("s", "", -1, -1)
	_, err := e.admin.ApplyStrategy(e.ctx, bad)
	require.ErrorIs(t, err, schedule.ErrInvalid)
	for _, field := range []string{"taskName", "assignNum", "numOfSingleServer"} {
		assert.Contains(t, err.Error(), field)
	}
	_, err = e.admin.ApplyStrategy(e.ctx, scheduleStrategy("s", "missing$TEST", 1, 0))
	require.ErrorIs(t, err, schedule.ErrNotFound)
	assert.Contains(t, err.Error(), `task type "missing" does not exist`)

	e.applyTaskType(taskType("t", 2))
	s := scheduleStrategy("s", "t$TEST", 1, 0)
	changed, err := e.admin.ApplyStrategy(e.ctx, s)
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = e.admin.ApplyStrategy(e.ctx, s)
	require.NoError(t, err)
	assert.False(t, changed)

	racing := &racingStore{Store: e.obs}
	s.AssignNum = 3
	changed, err = strategy.NewAdmin(racing, strategy.AdminConfig{}).ApplyStrategy(e.ctx, s)
	require.NoError(t, err)
	assert.True(t, changed)
	got, _, err := e.obs.Strategy(e.ctx, "s")
	require.NoError(t, err)
	assert.Equal(t, s, got)

	changed, err = e.admin.PauseStrategy(e.ctx, "s")
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = e.admin.PauseStrategy(e.ctx, "s")
	require.NoError(t, err)
	assert.False(t, changed, "already paused")
	got, _, _ = e.obs.Strategy(e.ctx, "s")
	assert.Equal(t, schedule.StsPause, got.Sts)
	assert.Equal(t, 3, got.AssignNum, "only sts changes")
	changed, err = e.admin.ResumeStrategy(e.ctx, "s")
	require.NoError(t, err)
	assert.True(t, changed)
	_, err = e.admin.PauseStrategy(e.ctx, "nope")
	require.ErrorIs(t, err, schedule.ErrNotFound)
	_, err = e.admin.PauseStrategy(e.ctx, "a/b")
	require.ErrorIs(t, err, schedule.ErrInvalid)

	require.NoError(t, e.admin.StopFactory(e.ctx, "10.0.0.1", "h1", "disk full"))
	st, err := e.obs.FactoryState(e.ctx, "10.0.0.1", "h1")
	require.NoError(t, err)
	assert.True(t, st.Stopped)
	assert.Equal(t, "test", st.By)
	assert.Equal(t, "disk full", st.Reason)
	assert.False(t, st.At.IsZero())
	require.NoError(t, e.admin.StartFactory(e.ctx, "10.0.0.1", "h1"))
	st, err = e.obs.FactoryState(e.ctx, "10.0.0.1", "h1")
	require.NoError(t, err)
	assert.False(t, st.Stopped)
}

// Deletes refuse what is in use unless forced; a forced strategy delete
// pauses, waits for the factories to leave, then deletes.
func TestAdminDeleteRules(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("d", 4))
	e.applyStrategy(scheduleStrategy("d-s", "d", 2, 0))
	a := e.start("a")
	e.waitRunning("d-s", "d", map[string]int{"a": 2}, 5*time.Second)

	err := e.admin.DeleteTaskType(e.ctx, "d", false)
	require.ErrorIs(t, err, strategy.ErrInUse)
	require.ErrorIs(t, err, schedule.ErrNotEmpty)
	assert.Contains(t, err.Error(), "2 live servers")

	err = e.admin.DeleteStrategy(e.ctx, "d-s", false)
	require.ErrorIs(t, err, strategy.ErrInUse)
	assert.Contains(t, err.Error(), "1 factories are registered")

	start := time.Now()
	require.NoError(t, e.admin.DeleteStrategy(e.ctx, "d-s", true))
	t.Logf("forced strategy delete (pause, wait for the factories, delete): %v", time.Since(start))
	_, _, err = e.obs.Strategy(e.ctx, "d-s")
	require.ErrorIs(t, err, schedule.ErrNotFound)
	assert.Empty(t, e.servers("d"), "the managers stopped before the delete")

	// A paused strategy has no registrations: deleted without force.
	e.applyStrategy(scheduleStrategy("d-s2", "d", 1, 0))
	e.waitRunning("d-s2", "d", map[string]int{"a": 1}, 5*time.Second)
	_, err = e.admin.PauseStrategy(e.ctx, "d-s2")
	require.NoError(t, err)
	e.waitRunning("d-s2", "d", map[string]int{}, 5*time.Second)
	err = e.admin.DeleteTaskType(e.ctx, "d", false)
	require.ErrorIs(t, err, strategy.ErrInUse, "a strategy still names it")
	assert.Contains(t, err.Error(), `strategy "d-s2" runs it`)
	require.NoError(t, e.admin.DeleteStrategy(e.ctx, "d-s2", false))
	require.NoError(t, e.admin.DeleteTaskType(e.ctx, "d", false))

	// Forced delete of a task type in use: the factory stops its managers
	// and says why.
	e.applyTaskType(taskType("d", 4))
	e.applyStrategy(scheduleStrategy("d-s3", "d", 1, 0))
	e.waitRunning("d-s3", "d", map[string]int{"a": 1}, 5*time.Second)
	require.NoError(t, e.admin.DeleteTaskType(e.ctx, "d", true))
	waitFor(t, 5*time.Second, func() (bool, string) {
		st, _ := a.f.Status().Strategy("d-s3")
		return st.CurrentNum == 0 && strings.Contains(st.Message, "not found") && len(e.servers("d")) == 0,
			fmt.Sprintf("status %+v", st)
	})
	require.ErrorIs(t, e.admin.DeleteTaskType(e.ctx, "d", false), schedule.ErrNotFound)
}

// A forced delete waits at most the force wait for registrations that do
// not go (here: a factory whose Bean copy ignores its context).
func TestAdminForceDeleteBounded(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	stuck := strategy.TaskFunc(func(ctx context.Context, _, _ string) error { <-release; return nil })
	e.applyStrategy(beanStrategy("stuck", "stuck", 1))
	a := e.start("a", withTask("stuck", stuck))
	waitFor(t, 5*time.Second, func() (bool, string) {
		st, _ := a.f.Status().Strategy("stuck")
		return st.CurrentNum == 1, "copy running"
	})
	admin := strategy.NewAdmin(e.obs, strategy.AdminConfig{ForceWait: 200 * time.Millisecond})
	start := time.Now()
	require.NoError(t, admin.DeleteStrategy(e.ctx, "stuck", true))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	_, _, err := e.obs.Strategy(e.ctx, "stuck")
	require.ErrorIs(t, err, schedule.ErrNotFound)
	close(release)
	waitFor(t, 5*time.Second, func() (bool, string) {
		_, ok := a.f.Status().Strategy("stuck")
		return !ok, "the factory forgot the deleted strategy once its copy returned"
	})
}

func TestAdminRuntime(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("rt", 3))
	e.applyStrategy(scheduleStrategy("rt-s", "rt", 2, 0))
	var log copyLog
	e.applyStrategy(beanStrategy("rt-b", "job", 1))
	e.start("a", withTask("job", log.task("a")))
	e.start("b", withTask("job", log.task("b")))
	e.waitRunning("rt-s", "rt", map[string]int{"a": 1, "b": 1}, 5*time.Second)
	require.NoError(t, e.admin.StopFactory(e.ctx, "127.0.0.1", "b", "drain"))
	e.waitRunning("rt-s", "rt", map[string]int{"a": 2}, 5*time.Second)
	waitFor(t, 5*time.Second, func() (bool, string) {
		items, err := e.obs.Items(e.ctx, "rt")
		require.NoError(t, err)
		for _, it := range items.Items {
			if it.CurServer == "" || it.ReqServer != "" {
				return false, "items not settled"
			}
		}
		return len(items.Items) == 3, "items built"
	})

	v, err := e.admin.Runtime(e.ctx)
	require.NoError(t, err)
	assert.False(t, v.At.IsZero())
	require.Len(t, v.Factories, 2)
	states := map[string]bool{}
	for _, f := range v.Factories {
		states[f.HostName] = f.State.Stopped
	}
	assert.Equal(t, map[string]bool{"a": false, "b": true}, states)

	require.Len(t, v.Strategies, 2)
	assert.Equal(t, "rt-b", v.Strategies[0].StrategyName)
	assert.Equal(t, 1, v.Strategies[0].RequestNum)
	assert.Equal(t, "rt-s", v.Strategies[1].StrategyName)
	assert.Equal(t, 2, v.Strategies[1].RequestNum)
	assert.Equal(t, 2, v.Strategies[1].CurrentNum)
	require.Len(t, v.Strategies[1].Registrations, 1)
	assert.Equal(t, v.Strategies[1].Registrations[0].UUID, v.Strategies[1].Leader)

	require.Len(t, v.TaskTypes, 1)
	require.Len(t, v.TaskTypes[0].Runtimes, 1)
	r := v.TaskTypes[0].Runtimes[0]
	assert.Equal(t, "rt", r.Name)
	assert.Len(t, r.Servers, 2)
	assert.Len(t, r.Items.Items, 3)
	for _, it := range r.Items.Items {
		assert.Positive(t, it.Epoch)
	}
}
