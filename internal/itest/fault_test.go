package itest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
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
