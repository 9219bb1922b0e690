package itest

// Regression tests for bugs a review of the manager found; each failed
// before its fix (see the commit that added this file).

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// Regression: a connection that flaps (suspect, a brief answer, silence again)
// before the session loop could lift the hold leaves the guard held but with
// no fence timer: the partitioned server keeps executing its queued records
// after its session expired and its items went to the other server.
func TestRegressionFlapThenPartitionStillFences(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	obs := b.open(t)
	tt := testTaskType("flap", 4)
	tt.ProcessorType = schedule.ProcessorNotSleep
	tt.ThreadNumber = 8
	tt.FetchDataNumber = 40
	createTaskType(t, obs, tt)
	rec := newRecorder()
	const dealTime = 8 * time.Second
	m1 := startManager(t, b, tt, "m1", rec.deal("m1", 100*time.Millisecond))
	proxy := c.NewProxy(t)
	victim := startManagerOn(t, b, openZK(t, c, proxy.Servers(), b.root), tt, "m2", rec.deal("m2", dealTime))
	waitBalanced(t, obs, "flap", 2, 4, 20*time.Second)
	require.Eventually(t, func() bool { _, per := rec.count(); return per["m2"] > 0 }, 10*time.Second, 10*time.Millisecond)

	proxy.Blackhole()
	require.Eventually(t, func() bool { return victim.m.Status().Session == schedule.SessionSuspect }, 5*time.Second, time.Millisecond)
	proxy.Delay(250 * time.Millisecond) // answers again, slowly: reconcile takes several round trips
	require.Eventually(t, func() bool { return victim.m.Status().Session == schedule.SessionConnected }, 5*time.Second, 100*time.Microsecond)
	// Silence again at once: every round trip of the reconcile that lifts
	// the hold takes 250ms, so it cannot have completed.
	proxy.Blackhole()
	cut := time.Now()
	o, took := waitBalanced(t, obs, "flap", 1, 4, 30*time.Second)
	t.Logf("victim's items re-owned %v after the second cut", took)
	// The new owner has run (and finished) records of every item since the
	// cut: an execution of the victim still going on would overlap them.
	require.Eventually(t, func() bool {
		for item := range o.owner {
			if !slices.Contains(rec.executedSince(string(item), cut), "m1") {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "m1 runs every item after the cut")
	proxy.Pass()
	victim.stop(t)
	m1.stop(t) // executions are recorded when they end
	rec.mu.Lock()
	for _, e := range rec.execs {
		if e.server == "m2" && e.end.After(cut) {
			t.Logf("%s item %s epoch %d %s..%s cancelled=%v", e.server, e.item, e.epoch, e.start.Sub(cut).Round(time.Millisecond), e.end.Sub(cut).Round(time.Millisecond), e.cancelled)
		}
	}
	rec.mu.Unlock()
	ov := rec.overlaps()
	if len(ov) > 5 {
		ov = append(ov[:5], "...")
	}
	assert.Empty(t, ov, "%d overlapping executions; first: %s", len(rec.overlaps()), joinLines(ov))
}

// Regression: a partition longer than the session timeout (Suspect, then
// Expired) leaves workHost.held = true forever: after re-registering, the
// server owns items again but never fetches for them.
func TestRegressionProcessesAfterExpiry(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("heldstuck", 4)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	store := b.open(t)
	r := startManagerOn(t, b, store, tt, "solo", rec.deal("solo", 5*time.Millisecond))
	waitBalanced(t, obs, "heldstuck", 1, 4, 20*time.Second)
	require.Eventually(t, func() bool { _, per := rec.count(); return per["solo"] > 0 }, 10*time.Second, 10*time.Millisecond)
	old := serverOf(t, r)

	// Cut the client off for longer than the session timeout (4s fake):
	// Suspect first, then the server expires the session, then reconnect.
	store.(*memstore.Client).Disconnect(6 * time.Second)
	require.Eventually(t, func() bool {
		id := r.m.Status().Server
		return id != "" && id != old
	}, 20*time.Second, 10*time.Millisecond, "re-registered")
	waitBalanced(t, obs, "heldstuck", 1, 4, 20*time.Second)
	require.Eventually(t, func() bool { return len(r.m.Status().Owned) == 4 }, 10*time.Second, 10*time.Millisecond)
	t.Logf("status after re-registration: owned=%d session=%v", len(r.m.Status().Owned), r.m.Status().Session)

	healed := time.Now()
	require.Eventually(t, func() bool { return len(rec.executedSince("0", healed)) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the re-registered server owns item 0 but never processes it (work.held stuck true)")
}

// Regression: the same on real ZooKeeper: a partition longer than the session
// timeout; after the heal the victim re-registers and is given its share,
// but never processes it.
func TestRegressionProcessesAfterExpiryZK(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	obs := b.open(t)
	tt := testTaskType("heldzk", 6)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	startManager(t, b, tt, "m1", rec.deal("m1", 5*time.Millisecond))
	proxy := c.NewProxy(t)
	victim := startManagerOn(t, b, openZK(t, c, proxy.Servers(), b.root), tt, "m2", rec.deal("m2", 5*time.Millisecond))
	waitBalanced(t, obs, "heldzk", 2, 6, 20*time.Second)
	old := serverOf(t, victim)
	require.Eventually(t, func() bool { _, per := rec.count(); return per["m2"] > 0 }, 10*time.Second, 10*time.Millisecond)

	proxy.Blackhole()
	waitBalanced(t, obs, "heldzk", 1, 6, 30*time.Second)
	proxy.Pass()
	require.Eventually(t, func() bool { id := victim.m.Status().Server; return id != "" && id != old }, 30*time.Second, 10*time.Millisecond)
	waitBalanced(t, obs, "heldzk", 2, 6, 30*time.Second)
	require.Eventually(t, func() bool { return len(victim.m.Status().Owned) == 3 }, 10*time.Second, 10*time.Millisecond)
	healed := time.Now()
	require.Eventually(t, func() bool {
		for _, e := range victim.m.Status().Owned {
			if slices.Contains(rec.executedSince(string(e.ID), healed), "m2") {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the re-registered victim owns %d items but runs none of them", len(victim.m.Status().Owned))
}

// Regression: a config edit made while a manager is between sessions is never
// seen by it (the config watch is created per session and only reports later
// changes; resync does not re-read the task type). When that manager later
// leads, it "rebuilds" the items to its stale list: the edit is reverted.
func TestRegressionMissedEditNotReverted(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("stale", 4)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	m1 := startManager(t, b, tt, "m1", rec.deal("m1", 5*time.Millisecond))
	waitBalanced(t, obs, "stale", 1, 4, 20*time.Second)
	store := b.open(t)
	m2 := startManagerOn(t, b, store, tt, "m2", rec.deal("m2", 5*time.Millisecond))
	waitBalanced(t, obs, "stale", 2, 4, 20*time.Second)
	old := serverOf(t, m2)

	store.(*memstore.Client).Disconnect(10 * time.Second) // longer than the 4s session timeout and the lock delay after it
	ctx := context.Background()
	cur, v, err := obs.TaskType(ctx, "stale")
	require.NoError(t, err)
	cur.TaskItems = itemDefs(0, 8) // add 4..7 while m2 is cut off
	_, err = obs.UpdateTaskType(ctx, cur, v)
	require.NoError(t, err)
	waitBalanced(t, obs, "stale", 1, 8, 20*time.Second)
	require.Eventually(t, func() bool { id := m2.m.Status().Server; return id != "" && id != old }, 20*time.Second, 10*time.Millisecond)
	waitBalanced(t, obs, "stale", 2, 8, 20*time.Second)

	m1.stop(t) // m2 leads now
	// m1's items are ownerless until m2, leading, runs a round: that round
	// assigns the items of its list, all 8 unless it reverted the edit.
	o, _ := waitBalanced(t, obs, "stale", 1, 8, 20*time.Second)
	assert.Len(t, o.owner, 8, "active items after the leader change; removed: %v", o.removed)
}

// Regression: a manager stopped during a short disconnect cannot delete its
// server node; Run returns nil, but the store's session survives the blip,
// so the node stays "live" for ever. The leader keeps assigning items to it
// and nobody processes them.
func TestRegressionStopDuringBlipLeavesNoNode(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("zombie", 4)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	startManager(t, b, tt, "m1", rec.deal("m1", 5*time.Millisecond))
	store := b.open(t) // shared by the process (the factory's one session)
	m2 := startManagerOn(t, b, store, tt, "m2", rec.deal("m2", 5*time.Millisecond))
	waitBalanced(t, obs, "zombie", 2, 4, 20*time.Second)
	zombie := serverOf(t, m2)

	store.(*memstore.Client).Disconnect(time.Second) // a blip: well under the 4s session timeout
	m2.stop(t)                                       // the factory stops this thread group now
	stopped := time.Now()
	// Balanced over one server: the stopped manager's node is gone and m1
	// owns every item (a node left behind would stay "live" and keep its
	// items, so this never holds).
	o, _ := waitBalanced(t, obs, "zombie", 1, 4, 20*time.Second)
	assert.NotContains(t, o.servers, zombie, "the stopped manager's node is still registered")
	require.Eventually(t, func() bool {
		for item := range o.owner {
			if len(rec.executedSince(string(item), stopped)) == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "every item processed after the stop")
}

// ForceStop ends a graceful stop at once even when the factory's
// connection hangs: the calls that remove its nodes must not wait for a
// connection that does not answer (they vanish with the session). Run used
// to return only after the removal calls timed out, many seconds later.
func TestFactoryForceStopWithHungConnection(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	obs := b.open(t)
	ctx := context.Background()
	admin := strategy.NewAdmin(obs, strategy.AdminConfig{})
	_, err := admin.ApplyTaskType(ctx, testTaskType("forcestop", 4))
	require.NoError(t, err)
	s := schedule.DefaultStrategy("forcestop-s")
	s.TaskName, s.AssignNum = "forcestop", 2
	_, err = admin.ApplyStrategy(ctx, s)
	require.NoError(t, err)

	proxy := c.NewProxy(t)
	r := startFactoryOn(t, b, openZK(t, c, proxy.Servers(), b.root), "hung", nil)
	waitSpread(t, obs, "forcestop-s", "forcestop", map[string]int{"hung": 2}, 30*time.Second)

	proxy.Blackhole()
	start := time.Now()
	r.f.ForceStop()
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		t.Logf("ForceStop with a hung connection → Run returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		t.Fatalf("Run did not return within 5s of ForceStop (graceful timeout %v)", factoryConfig("hung").ShutdownTimeout)
	}
	proxy.Pass()
}
