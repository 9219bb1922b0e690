package zkstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// TestFactoriesReadsOnlyNewRecords: Factories lists the directory and reads
// only the factory records it has not read before (a record never changes
// after its node is created); a factory gone is dropped, and a directory
// made again (its sequence numbers restart) is read afresh. Every factory
// re-reads the list at each change of a cluster's membership, so reading
// every record each time cost O(factories²) reads at a start.
func TestFactoriesReadsOnlyNewRecords(t *testing.T) {
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	reg := openStore(t, testConfig(c, root, testAuth))
	s := openStore(t, testConfig(c, root, testAuth))
	ctx := ctxT(t, time.Minute)
	sess := sessionOf(t, reg)

	register := func(host string) schedule.Factory {
		t.Helper()
		f, err := reg.RegisterFactory(ctx, sess, schedule.Factory{IP: "10.0.0.1", HostName: host})
		require.NoError(t, err)
		return f
	}
	// list calls Factories and returns the hosts listed and the gets it sent.
	list := func() (hosts []string, gets uint64) {
		t.Helper()
		before := s.requestStats()
		got, err := s.Factories(ctx)
		require.NoError(t, err)
		after := s.requestStats()
		require.Equal(t, before.Children+1, after.Children, "one listing per call")
		for _, f := range got {
			hosts = append(hosts, f.HostName)
		}
		return hosts, after.Get - before.Get
	}

	a := register("a")
	register("b")
	hosts, gets := list()
	require.Equal(t, []string{"a", "b"}, hosts)
	require.EqualValues(t, 2, gets, "first call: every record")

	hosts, gets = list()
	require.Equal(t, []string{"a", "b"}, hosts)
	require.EqualValues(t, 0, gets, "nothing new: no record read")

	register("c")
	hosts, gets = list()
	require.Equal(t, []string{"a", "b", "c"}, hosts)
	require.EqualValues(t, 1, gets, "only the new factory's record")

	require.NoError(t, reg.UnregisterFactory(ctx, a.UUID))
	hosts, gets = list()
	require.Equal(t, []string{"b", "c"}, hosts)
	require.EqualValues(t, 0, gets)

	// The directory deleted and made again: a sequence number may come
	// back with another record under the same name prefix.
	conn := superConn(t, c)
	dir := reg.p.factories()
	names, _, err := conn.Children(dir)
	require.NoError(t, err)
	for _, n := range names {
		require.NoError(t, conn.Delete(dir+"/"+n, -1))
	}
	require.NoError(t, conn.Delete(dir, -1))
	register("d")
	hosts, gets = list()
	require.Equal(t, []string{"d"}, hosts)
	require.EqualValues(t, 1, gets)
}

// TestStrategyRuntimesReadsOnlyChangedRegistrations: a store that watches a
// strategy's registrations keeps their data as its watches read it, and
// StrategyRuntimes then lists the registrations and reads none of them; a
// registration that changed is read again by the re-arming of its watch
// and answered as changed. Without a watch every call reads every
// registration. A factory reads its strategies' registrations at every
// change of any of them: 50 factories × 50 registrations per change at a
// start.
func TestStrategyRuntimesReadsOnlyChangedRegistrations(t *testing.T) {
	_, other, s := twoStores(t)
	ctx := ctxT(t, time.Minute)
	st := schedule.DefaultStrategy("st")
	st.TaskName = "t1"
	_, err := other.CreateStrategy(ctx, st)
	require.NoError(t, err)
	sess := sessionOf(t, other)
	var ids []schedule.FactoryID
	for _, host := range []string{"a", "b", "c"} {
		f, err := other.RegisterFactory(ctx, sess, schedule.Factory{IP: "10.0.0.1", HostName: host})
		require.NoError(t, err)
		_, err = other.RegisterStrategyRuntime(ctx, sess, schedule.StrategyRuntime{StrategyName: "st", UUID: f.UUID})
		require.NoError(t, err)
		ids = append(ids, f.UUID)
	}
	// read returns the registrations (id → requestNum) and the gets sent.
	read := func(s *Store) (map[schedule.FactoryID]int, uint64) {
		t.Helper()
		before := s.requestStats().Get
		rts, err := s.StrategyRuntimes(ctx, "st")
		require.NoError(t, err)
		out := map[schedule.FactoryID]int{}
		for _, rt := range rts {
			out[rt.UUID] = rt.RequestNum
		}
		return out, s.requestStats().Get - before
	}
	want := map[schedule.FactoryID]int{ids[0]: 0, ids[1]: 0, ids[2]: 0}

	got, gets := read(s)
	require.Equal(t, want, got)
	require.EqualValues(t, 3, gets, "no watch: every registration read")

	ch, err := s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntimes, Name: "st"})
	require.NoError(t, err)
	got, gets = read(s)
	require.Equal(t, want, got)
	require.EqualValues(t, 0, gets, "watched: the watches' reads answer")

	rts, err := other.StrategyRuntimes(ctx, "st")
	require.NoError(t, err)
	rts[1].RequestNum = 1
	_, err = other.UpdateStrategyRuntimes(ctx, "st", "", rts[1:2])
	require.NoError(t, err)
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("no signal after a registration changed")
	}
	want[rts[1].UUID] = 1
	got, gets = read(s)
	require.Equal(t, want, got, "the change is seen")
	require.EqualValues(t, 0, gets, "the re-armed watch read the changed registration")

	// Changed without the watch being re-armed yet: read, not answered
	// from what the watch read before.
	require.NoError(t, s.hub.armMu.lock(ctx)) // the hub cannot re-arm
	rts[1].RequestNum, rts[1].Version = 2, rts[1].Version+1
	_, err = other.UpdateStrategyRuntimes(ctx, "st", "", rts[1:2])
	require.NoError(t, err)
	want[rts[1].UUID] = 2
	waitFor(t, 10*time.Second, "the change seen before the re-arming", func() error {
		got, _ := read(s)
		if got[rts[1].UUID] != 2 {
			return fmt.Errorf("requestNum %d", got[rts[1].UUID])
		}
		return nil
	})
	s.hub.armMu.unlock()
}

// TestConfigReadsFromWatchedData: with the configuration watched, reading
// a task type or the strategies sends no get (the watches' reads answer),
// and an edit is seen once its notification has come.
func TestConfigReadsFromWatchedData(t *testing.T) {
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	admin := openStore(t, testConfig(c, root, testAuth))
	s := openStore(t, testConfig(c, root, testAuth))
	ctx := ctxT(t, time.Minute)
	tt := sampleTaskType("t1", 2)
	_, err := admin.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	st := schedule.DefaultStrategy("st")
	st.TaskName = "t1"
	_, err = admin.CreateStrategy(ctx, st)
	require.NoError(t, err)
	// read returns the task type's version, the strategies' assignNums and
	// the gets sent.
	read := func() (schedule.Version, []int, uint64) {
		t.Helper()
		before := s.requestStats().Get
		_, v, err := s.TaskType(ctx, "t1")
		require.NoError(t, err)
		sts, err := s.Strategies(ctx)
		require.NoError(t, err)
		var nums []int
		for _, st := range sts {
			nums = append(nums, st.AssignNum)
		}
		return v, nums, s.requestStats().Get - before
	}
	v0, nums, gets := read()
	require.Equal(t, []int{st.AssignNum}, nums)
	require.EqualValues(t, 2, gets, "no watch: read")

	ch, err := s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchConfig})
	require.NoError(t, err)
	v, nums, gets := read()
	require.Equal(t, v0, v)
	require.Equal(t, []int{st.AssignNum}, nums)
	require.EqualValues(t, 0, gets, "watched: the watches' reads answer")

	st.AssignNum++
	_, err = admin.UpdateStrategy(ctx, st, 0)
	require.NoError(t, err)
	tt.ThreadNumber++
	_, err = admin.UpdateTaskType(ctx, tt, v0)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "both edits seen", func() error {
		select {
		case <-ch:
		case <-ctx.Done():
		}
		v, nums, _ := read()
		if v == v0 || nums[0] != st.AssignNum {
			return fmt.Errorf("version %d, assignNums %v", v, nums)
		}
		return nil
	})
	waitFor(t, 10*time.Second, "the re-armed watches read the edits", func() error {
		if _, _, gets := read(); gets != 0 {
			return fmt.Errorf("%d gets", gets)
		}
		return nil
	})
}

// TestWatchedDataForgottenWithTheSession: the watches of an expired session
// are gone, and a change made meanwhile fires nothing on the new session:
// what the old watches read is forgotten with the session (go-zookeeper
// reports every lost watch, and a session event drops everything), so a
// read on the new session, before the hub has armed the watches again,
// reads the node.
func TestWatchedDataForgottenWithTheSession(t *testing.T) {
	c, other, s := twoStores(t)
	ctx := ctxT(t, time.Minute)
	st := schedule.DefaultStrategy("st")
	st.TaskName = "t1"
	_, err := other.CreateStrategy(ctx, st)
	require.NoError(t, err)
	osess := sessionOf(t, other)
	f, err := other.RegisterFactory(ctx, osess, schedule.Factory{IP: "10.0.0.1", HostName: "a"})
	require.NoError(t, err)
	_, err = other.RegisterStrategyRuntime(ctx, osess, schedule.StrategyRuntime{StrategyName: "st", UUID: f.UUID})
	require.NoError(t, err)
	_, err = s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntimes, Name: "st"})
	require.NoError(t, err)
	before := s.requestStats().Get
	rts, err := s.StrategyRuntimes(ctx, "st")
	require.NoError(t, err)
	require.EqualValues(t, before, s.requestStats().Get, "answered from the watch's read")

	require.NoError(t, s.hub.armMu.lock(ctx)) // the hub cannot arm the new session's watches
	defer s.hub.armMu.unlock()
	old := sessionOf(t, s)
	c.ExpireSession(t, old.ID())
	rts[0].RequestNum = 7
	_, err = other.UpdateStrategyRuntimes(ctx, "st", "", rts)
	require.NoError(t, err)
	waitFor(t, 30*time.Second, "a new session", func() error {
		if sessionOf(t, s).ID() == old.ID() {
			return fmt.Errorf("still 0x%x", old.ID())
		}
		return nil
	})
	got, err := s.StrategyRuntimes(ctx, "st")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, 7, got[0].RequestNum, "the change made while the session was gone")
}

// TestStrategyRuntimeReadsFromItsWatch: a one-registration watch arms two
// ZooKeeper watches (the strategy's children, that registration's data),
// whatever the number of registrations; while it is armed, StrategyRuntime
// of that registration sends no get and sees every change whose signal has
// come, and StrategyRuntimeIDs reads no registration. A registration
// changed while the watch is not re-armed yet, or after the watch ended, is
// read, never answered from what the watch read before.
func TestStrategyRuntimeReadsFromItsWatch(t *testing.T) {
	_, other, s := twoStores(t)
	ctx := ctxT(t, time.Minute)
	st := schedule.DefaultStrategy("st")
	st.TaskName = "t1"
	_, err := other.CreateStrategy(ctx, st)
	require.NoError(t, err)
	sess := sessionOf(t, other)
	var rts []schedule.StrategyRuntime
	for _, host := range []string{"a", "b", "c"} {
		f, err := other.RegisterFactory(ctx, sess, schedule.Factory{IP: "10.0.0.1", HostName: host})
		require.NoError(t, err)
		rt, err := other.RegisterStrategyRuntime(ctx, sess, schedule.StrategyRuntime{StrategyName: "st", UUID: f.UUID})
		require.NoError(t, err)
		rts = append(rts, rt)
	}
	mine := rts[1]
	// read returns the registration's requestNum and the gets sent.
	read := func(id schedule.FactoryID) (int, uint64) {
		t.Helper()
		before := s.requestStats().Get
		rt, err := s.StrategyRuntime(ctx, "st", id)
		require.NoError(t, err)
		return rt.RequestNum, s.requestStats().Get - before
	}

	wctx, stop := context.WithCancel(ctx)
	ch, err := s.Watch(wctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntime, Name: "st", Factory: mine.UUID})
	require.NoError(t, err)
	dir, err := s.p.strategy("st")
	require.NoError(t, err)
	armed := armedUnder(t, ctx, s, dir)
	mp, err := s.p.strategyRuntime("st", mine.UUID)
	require.NoError(t, err)
	first, err := s.p.strategyRuntime("st", rts[0].UUID)
	require.NoError(t, err)
	// The first registration's deletion (a children watch on it), and the
	// watched registration's data: not the directory, whose every join
	// and leave would fire.
	assert.ElementsMatch(t, []watchKey{{first, wChild}, {mp, wData}}, armed, "the watches armed")

	before := s.requestStats()
	ids, err := s.StrategyRuntimeIDs(ctx, "st")
	require.NoError(t, err)
	assert.Equal(t, []schedule.FactoryID{rts[0].UUID, rts[1].UUID, rts[2].UUID}, ids)
	after := s.requestStats()
	assert.EqualValues(t, 1, after.Children-before.Children, "StrategyRuntimeIDs: one listing")
	assert.EqualValues(t, 0, after.Get-before.Get, "StrategyRuntimeIDs: no get")
	n, gets := read(mine.UUID)
	assert.Equal(t, 0, n)
	assert.EqualValues(t, 0, gets, "watched: the watch's read answers")
	_, gets = read(rts[0].UUID)
	assert.EqualValues(t, 1, gets, "another registration, not watched: read")

	update := func(num int) {
		t.Helper()
		mine.RequestNum = num
		got, err := other.UpdateStrategyRuntimes(ctx, "st", "", []schedule.StrategyRuntime{mine})
		require.NoError(t, err)
		mine = got[0]
	}
	update(1)
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("no signal after the registration changed")
	}
	n, gets = read(mine.UUID)
	assert.Equal(t, 1, n, "the change is seen")
	assert.EqualValues(t, 0, gets, "the re-armed watch read the changed registration")

	// Changed while the hub cannot re-arm: read, not answered from before.
	require.NoError(t, s.hub.armMu.lock(ctx))
	update(2)
	waitFor(t, 10*time.Second, "the change seen before the re-arming", func() error {
		if n, _ := read(mine.UUID); n != 2 {
			return fmt.Errorf("requestNum %d", n)
		}
		return nil
	})
	s.hub.armMu.unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("no signal after the re-arming")
	}

	// The watch ended: its last ZooKeeper watch fires at the next change
	// and is not armed again; every change is read.
	stop()
	for num := 3; num <= 4; num++ {
		update(num)
		waitFor(t, 10*time.Second, "a change seen after the watch ended", func() error {
			if n, _ := read(mine.UUID); n != num {
				return fmt.Errorf("requestNum %d, want %d", n, num)
			}
			return nil
		})
	}
}
