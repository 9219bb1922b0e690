package itest

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
)

// A manager whose ZooKeeper connection is blackholed (a partition: packets
// vanish, nothing is closed) stops its deals before its session can expire,
// so when the others take its items no execution overlaps; after the heal
// it registers again and gets its share back.
func TestManagerBlackholedSelfFences(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	obs := b.open(t)
	tt := testTaskType("partition", 9)
	tt.ThreadNumber = 3
	createTaskType(t, obs, tt)
	rec := newRecorder()
	// Long executions: without self-fencing the partitioned server would
	// still be running them when the others start on its items.
	const dealTime = 400 * time.Millisecond
	startManager(t, b, tt, "m1", rec.deal("m1", dealTime))
	startManager(t, b, tt, "m2", rec.deal("m2", dealTime))
	proxy := c.NewProxy(t)
	victim := startManagerOn(t, b, openZK(t, c, proxy.Servers(), b.root), tt, "m3", rec.deal("m3", dealTime))
	waitBalanced(t, obs, "partition", 3, 9, 20*time.Second)
	old := serverOf(t, victim)
	require.Eventually(t, func() bool { _, per := rec.count(); return per["m3"] > 0 }, 10*time.Second, 10*time.Millisecond)

	cut := time.Now()
	proxy.Blackhole()
	// The victim's session expires at the server; the others take its items.
	o, took := waitBalanced(t, obs, "partition", 2, 9, 30*time.Second)
	t.Logf("blackhole → items owned by the other servers after %v (session timeout %v)", took, zkSessionTimeout)
	for item, owner := range o.owner {
		require.NotEqual(t, old, owner, "item %s", item)
	}
	// Let the new owners run a while, then check.
	require.Eventually(t, func() bool {
		return len(rec.executedSince("0", cut.Add(took))) > 0
	}, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, rec.overlaps(), "the partitioned server must stop before others take over:\n%s", joinLines(rec.overlaps()))
	assert.Empty(t, rec.epochsGrow())

	proxy.Pass()
	require.Eventually(t, func() bool {
		id := victim.m.Status().Server
		return id != "" && id != old
	}, 30*time.Second, 10*time.Millisecond, "after the heal the victim registers under a new session")
	waitBalanced(t, obs, "partition", 3, 9, 30*time.Second)
	assert.Empty(t, rec.overlaps(), "%s", joinLines(rec.overlaps()))
}

// Killing the ZooKeeper ensemble's leader loses no item: the managers keep
// their sessions (same registrations), every item stays owned by a live
// server, and processing goes on.
func TestManagerSurvivesEnsembleLeaderKill(t *testing.T) {
	c := zktest.StartEnsemble(t, 3)
	b := zkBackend(t, c)
	obs := b.open(t)
	tt := testTaskType("ensemble", 8)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	var ms []*running
	for _, name := range []string{"m1", "m2", "m3"} {
		ms = append(ms, startManager(t, b, tt, name, rec.deal(name, 5*time.Millisecond)))
	}
	before, _ := waitBalanced(t, obs, "ensemble", 3, 8, 30*time.Second)
	ids := make([]schedule.ServerID, len(ms))
	for i, m := range ms {
		ids[i] = serverOf(t, m)
	}

	leader := c.Leader(t)
	c.Member(leader).Kill(t)
	killed := time.Now()
	// While a new ZooKeeper leader is elected and afterwards, no item may be
	// lost: once reads work again, each item is owned by one of the same
	// live servers as before.
	after, took := waitBalanced(t, obs, "ensemble", 3, 8, 30*time.Second)
	t.Logf("ensemble leader killed → reads served again and balanced after %v", took)
	assert.Equal(t, before.owner, after.owner, "no item changed owner: the sessions survived")
	for i, m := range ms {
		assert.Equal(t, ids[i], m.m.Status().Server, "manager %s kept its registration", m.name)
	}
	require.Eventually(t, func() bool {
		return len(rec.executedSince("7", killed.Add(took))) > 0 && len(rec.executedSince("0", killed.Add(took))) > 0
	}, 20*time.Second, 10*time.Millisecond, "processing goes on after the election")

	c.Member(leader).Restart(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := obs.Servers(ctx, "ensemble")
	require.NoError(t, err)
	assert.Empty(t, rec.overlaps())
}

// A session closed by someone else (not expired by silence) while its
// client cannot hear the server: the client learns nothing and keeps
// running its deals until its own fence fires, so the leader must not
// grant the vanished server's items before then. Without that delay the
// new owners start while the victim's deals still run.
func TestManagerForcedExpiryWhileBlackholed(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	obs := b.open(t)
	tt := testTaskType("forced", 6)
	tt.ThreadNumber = 3
	createTaskType(t, obs, tt)
	rec := newRecorder()
	// The victim's executions outlast the time from the cut to its fence,
	// so it is mid-execution when its items move; the other server's are
	// short, so it starts on new items at once.
	const dealTime = 3 * time.Second
	startManager(t, b, tt, "m1", rec.deal("m1", 20*time.Millisecond))
	proxy := c.NewProxy(t)
	vstore := openZK(t, c, proxy.Servers(), b.root)
	victim := startManagerOn(t, b, vstore, tt, "m2", rec.deal("m2", dealTime))
	before, _ := waitBalanced(t, obs, "forced", 2, 6, 20*time.Second)
	old := serverOf(t, victim)
	var victimItems []string
	for item, owner := range before.owner {
		if owner == old {
			victimItems = append(victimItems, string(item))
		}
	}
	require.NotEmpty(t, victimItems)
	require.Eventually(t, func() bool { return rec.running("m2") > 0 }, 10*time.Second, 10*time.Millisecond)
	sess, err := vstore.Session(context.Background())
	require.NoError(t, err)

	cut := time.Now()
	proxy.Blackhole()
	// Close the session at once, before the victim could even suspect it.
	c.ExpireSession(t, sess.ID())
	o, took := waitBalanced(t, obs, "forced", 1, 6, 30*time.Second)
	t.Logf("cut and forced expiry → items owned by the other server after %v (session timeout %v)", took, zkSessionTimeout)
	for item, owner := range o.owner {
		require.NotEqual(t, old, owner, "item %s", item)
	}
	// Wait until the new owner has run records of every item of the victim.
	require.Eventually(t, func() bool {
		for _, item := range victimItems {
			if !slices.Contains(rec.executedSince(item, cut), "m1") {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond)
	// The victim's executions are recorded when they end (fenced, or done).
	require.Eventually(t, func() bool { return rec.running("m2") == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, rec.overlaps(), "the victim's deals must end before its items move:\n%s", joinLines(rec.overlaps()))
	assert.Empty(t, rec.epochsGrow())
	proxy.Pass()
}

// The lock delay, on memstore's fake clock: the items of a server whose
// session was closed while it was cut off are held for its published
// takeover delay (and Status.Held says so), then granted; a graceful stop
// releases its items first, so they move without that delay.
func TestLockDelayHoldsOnlyVanishedOwners(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("lockdelay", 6)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	leader := startManager(t, b, tt, "m1", rec.deal("m1", 5*time.Millisecond))
	serverOf(t, leader)
	vstore := b.open(t)
	victim := startManagerOn(t, b, vstore, tt, "m2", rec.deal("m2", 5*time.Millisecond))
	waitBalanced(t, obs, "lockdelay", 2, 6, 20*time.Second)
	require.True(t, leader.m.Status().IsLeader)

	// Every server publishes its delay: a third of the session timeout
	// (suspicion) + FenceAfter (default another third) + a margin.
	want := b.sessionTimeout/3 + b.sessionTimeout/3 + 100*time.Millisecond
	servers, err := obs.Servers(context.Background(), "lockdelay")
	require.NoError(t, err)
	for _, sv := range servers {
		assert.Equal(t, want.Milliseconds(), sv.TakeoverDelay, "server %s", sv.UUID)
	}

	victimID := serverOf(t, victim)
	vstore.(*memstore.Client).Disconnect(time.Hour)
	// The fake clock runs on in the background, and the leader may see the
	// node gone before this goroutine reads the clock again: the time read
	// before the expiry is the bound that the hold must respect.
	gone := b.clock.Now()
	b.expire(t, vstore)
	sawHeld := false
	var published []schedule.ServerHold
	require.Eventually(t, func() bool {
		sawHeld = sawHeld || leader.m.Status().Held > 0
		if servers, err := obs.Servers(context.Background(), "lockdelay"); err == nil && len(servers) > 0 && published == nil {
			published = servers[0].Holds
		}
		return readOwnership(t, obs, "lockdelay").balanced(1, 6) == ""
	}, 20*time.Second, time.Millisecond)
	// The leader published the hold in its record, for operators.
	require.Len(t, published, 1, "the leader's record never showed the hold")
	assert.Equal(t, victimID, published[0].Server)
	assert.Equal(t, "m2", published[0].HostName)
	assert.Equal(t, 3, published[0].Items)
	// (Times are stored in whole milliseconds.)
	assert.False(t, published[0].Until.Before(gone.Add(want-time.Millisecond)), "hold ends %v, before the vanish %v + delay %v", published[0].Until, gone, want)
	waited := b.clock.Now().Sub(gone)
	t.Logf("forced expiry → items granted after %v on the fake clock (delay %v)", waited, want)
	assert.GreaterOrEqual(t, waited, want, "the vanished server's items moved before its takeover delay")
	assert.True(t, sawHeld, "Status.Held never reported the held items")
	assert.Zero(t, leader.m.Status().Held)
	victim.cancel()
	victim.cancel = nil

	// A graceful stop releases every item it owns after its node is gone,
	// so none is left to the lock delay.
	third := startManager(t, b, tt, "m3", rec.deal("m3", 5*time.Millisecond))
	waitBalanced(t, obs, "lockdelay", 2, 6, 20*time.Second)
	id := serverOf(t, third)
	third.stop(t)
	for item, owner := range readOwnership(t, obs, "lockdelay").owner {
		assert.NotEqual(t, id, owner, "item %s still owned by the stopped server", item)
	}
	waitBalanced(t, obs, "lockdelay", 1, 6, 20*time.Second)
	require.Eventually(t, func() bool { return leader.m.Status().Held == 0 }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		servers, err := obs.Servers(context.Background(), "lockdelay")
		return err == nil && len(servers) == 1 && len(servers[0].Holds) == 0
	}, 5*time.Second, time.Millisecond, "the leader clears the published holds")
	assert.Empty(t, rec.overlaps(), "%s", joinLines(rec.overlaps()))
}

// A server that opts out of the lock delay (ManagerConfig.LockDelay < 0)
// publishes "none", and the leader grants its items as soon as its node
// is gone.
func TestLockDelayOptOut(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("nolockdelay", 6)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	leader := startManager(t, b, tt, "m1", rec.deal("m1", 5*time.Millisecond))
	serverOf(t, leader)
	cfg := managerConfig("m2")
	cfg.LockDelay = -1
	vstore := b.open(t)
	victim := startManagerCfg(t, b, vstore, tt, "m2", "", rec.deal("m2", 5*time.Millisecond), cfg)
	waitBalanced(t, obs, "nolockdelay", 2, 6, 20*time.Second)
	id := serverOf(t, victim)
	servers, err := obs.Servers(context.Background(), "nolockdelay")
	require.NoError(t, err)
	for _, sv := range servers {
		if sv.UUID == id {
			assert.Equal(t, int64(-1), sv.TakeoverDelay)
		}
	}

	// Time stands still from here: with a lock delay the leader would hold
	// the victim's items until the clock passed it, and the runtime would
	// never balance over the one server left.
	b.freeze()
	vstore.(*memstore.Client).Disconnect(time.Hour)
	b.expire(t, vstore)
	gone := b.clock.Now()
	waitBalanced(t, obs, "nolockdelay", 1, 6, 20*time.Second)
	assert.Equal(t, gone, b.clock.Now(), "the clock moved")
	victim.cancel()
	victim.cancel = nil
}
