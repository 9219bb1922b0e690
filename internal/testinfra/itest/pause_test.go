package itest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// A task type paused by the operator (sts: pause) fetches nothing while its
// manager keeps its items, says so in its status and its server record,
// and fetches again once resumed — without a restart.
func TestManagerTaskTypePaused(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		obs := b.open(t)
		tt := testTaskType("paused", 4)
		createTaskType(t, obs, tt)
		rec := newRecorder()
		r := startManager(t, b, tt, "m1", rec.deal("m1", 5*time.Millisecond))
		me := serverOf(t, r)
		waitBalanced(t, obs, "paused", 1, 4, 20*time.Second)
		require.Eventually(t, func() bool { n, _ := rec.count(); return n > 0 }, 20*time.Second, 5*time.Millisecond)

		setSts(t, obs, "paused", schedule.StsPause)
		require.Eventually(t, func() bool {
			return r.m.Status().Window.State == "paused" && rec.running("m1") == 0
		}, 20*time.Second, 5*time.Millisecond, "the manager picks up the pause")
		selects := rec.selects()

		// Let time pass in a way the test can see: three heartbeats of the
		// server, the last of which publishes the paused window.
		waitHeartbeats(t, obs, "paused", me, 3, nil)
		assert.Equal(t, selects, rec.selects(), "a paused task type must not fetch")
		o := readOwnership(t, obs, "paused")
		assert.Len(t, o.owner, 4)
		for item, owner := range o.owner {
			assert.Equal(t, me, owner, "item %s: a pause keeps the items owned", item)
		}
		assert.Equal(t, "paused", serverRecord(t, obs, "paused", me).WindowState)

		setSts(t, obs, "paused", schedule.StsResume)
		require.Eventually(t, func() bool { return rec.selects() > selects }, 20*time.Second, 5*time.Millisecond,
			"a resumed task type fetches again")
		assert.Equal(t, me, serverOf(t, r), "pause and resume must not restart the manager")
	})
}

// selects counts the SelectTasks calls of every deal of the recorder.
func (r *recorder) selects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func setSts(t *testing.T, s storekit.ConfigStore, base, sts string) {
	t.Helper()
	ctx := context.Background()
	tt, v, err := s.TaskType(ctx, base)
	require.NoError(t, err)
	tt.Sts = sts
	_, err = s.UpdateTaskType(ctx, tt, v)
	require.NoError(t, err)
}

func serverRecord(t *testing.T, s storekit.ServerStore, runtime string, id schedule.ServerID) schedule.Server {
	t.Helper()
	servers, err := s.Servers(context.Background(), runtime)
	require.NoError(t, err)
	for _, sv := range servers {
		if sv.UUID == id {
			return sv
		}
	}
	t.Fatalf("server %s not registered under %s", id, runtime)
	return schedule.Server{}
}

// waitHeartbeats waits until the record of server id has been rewritten n
// times by its heartbeat. tick, if not nil, runs at every look that has not
// seen enough yet (a test on a manual fake clock moves it there).
func waitHeartbeats(t *testing.T, s storekit.ServerStore, runtime string, id schedule.ServerID, n int, tick func()) {
	t.Helper()
	seen, last := 0, serverRecord(t, s, runtime, id).HeartBeatTime
	require.Eventually(t, func() bool {
		if hb := serverRecord(t, s, runtime, id).HeartBeatTime; hb.After(last.Time) {
			seen, last = seen+1, hb
		}
		if seen < n && tick != nil {
			tick()
		}
		return seen >= n
	}, 30*time.Second, 5*time.Millisecond, "server %s heartbeats %d times", id, n)
}
