package storetest

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// testSessionBasics: a new client has a connected, live session; two
// clients have different sessions.
func testSessionBasics(e *env) {
	a, b := e.client(), e.client()
	sa, sb := e.session(a), e.session(b)
	for _, sess := range []storekit.Session{sa, sb} {
		assert.Equal(e, schedule.SessionConnected, sess.State())
		assert.NotZero(e, sess.ID())
		assert.Positive(e, sess.Timeout())
		assert.NoError(e, sess.Err())
		assert.NotNil(e, sess.Changed())
		select {
		case <-sess.Done():
			e.Errorf("session %#x is done", sess.ID())
		default:
		}
	}
	assert.NotEqual(e, sa.ID(), sb.ID(), "two clients share a session")
	again := e.session(a)
	assert.Equal(e, sa.ID(), again.ID(), "Session changed without an expiry")
}

// testTaskTypeCRUD: create, read, list, version-checked update and delete
// of task types, with ErrExists, ErrConflict and ErrNotFound.
func testTaskTypeCRUD(e *env) {
	s := e.client()
	ta, tb := SampleTaskType(e.name+"_b"), SampleTaskType(e.name+"_a")

	v, err := s.CreateTaskType(e.ctx, ta)
	require.NoError(e, err)
	assert.Equal(e, schedule.Version(0), v, "version of a new node")
	got, gv, err := s.TaskType(e.ctx, ta.BaseTaskType)
	require.NoError(e, err)
	assert.Equal(e, ta, got, "round trip")
	assert.Equal(e, schedule.Version(0), gv)

	_, err = s.CreateTaskType(e.ctx, ta)
	require.ErrorIs(e, err, schedule.ErrExists, "second create")
	_, err = s.CreateTaskType(e.ctx, tb)
	require.NoError(e, err)

	list, err := s.TaskTypes(e.ctx)
	require.NoError(e, err)
	assert.True(e, slices.IsSortedFunc(list, func(x, y schedule.TaskType) int {
		return strings.Compare(x.BaseTaskType, y.BaseTaskType)
	}), "TaskTypes not sorted by name")
	var own []schedule.TaskType
	for _, t := range list {
		if strings.HasPrefix(t.BaseTaskType, e.name+"_") {
			own = append(own, t)
		}
	}
	assert.Equal(e, []schedule.TaskType{tb, ta}, own)

	ta2 := ta
	ta2.ThreadNumber = 9
	ta2.TaskItems = []string{"0", "1", "2", "3", "4"}
	v, err = s.UpdateTaskType(e.ctx, ta2, 0)
	require.NoError(e, err)
	assert.Equal(e, schedule.Version(1), v)
	_, err = s.UpdateTaskType(e.ctx, ta, 0)
	require.ErrorIs(e, err, schedule.ErrConflict, "update with a stale version")
	got, gv, err = s.TaskType(e.ctx, ta.BaseTaskType)
	require.NoError(e, err)
	assert.Equal(e, ta2, got, "the stale update changed the task type")
	assert.Equal(e, schedule.Version(1), gv)
	v, err = s.UpdateTaskType(e.ctx, ta, storekit.AnyVersion)
	require.NoError(e, err, "unconditional update")
	assert.Equal(e, schedule.Version(2), v)

	missing := SampleTaskType(e.name + "_missing")
	_, _, err = s.TaskType(e.ctx, missing.BaseTaskType)
	require.ErrorIs(e, err, schedule.ErrNotFound)
	_, err = s.UpdateTaskType(e.ctx, missing, 0)
	require.ErrorIs(e, err, schedule.ErrNotFound)
	_, err = s.UpdateTaskType(e.ctx, missing, storekit.AnyVersion)
	require.ErrorIs(e, err, schedule.ErrNotFound)
	require.ErrorIs(e, s.DeleteTaskType(e.ctx, missing.BaseTaskType, storekit.AnyVersion), schedule.ErrNotFound)

	require.ErrorIs(e, s.DeleteTaskType(e.ctx, ta.BaseTaskType, 1), schedule.ErrConflict, "delete with a stale version")
	_, _, err = s.TaskType(e.ctx, ta.BaseTaskType)
	require.NoError(e, err, "the stale delete removed the task type")
	require.NoError(e, s.DeleteTaskType(e.ctx, ta.BaseTaskType, 2))
	_, _, err = s.TaskType(e.ctx, ta.BaseTaskType)
	require.ErrorIs(e, err, schedule.ErrNotFound, "after delete")
	require.NoError(e, s.DeleteTaskType(e.ctx, tb.BaseTaskType, storekit.AnyVersion))

	v, err = s.CreateTaskType(e.ctx, ta)
	require.NoError(e, err, "create after delete")
	assert.Equal(e, schedule.Version(0), v, "version of a re-created node")
}

// testStrategyCRUD: the same for strategies.
func testStrategyCRUD(e *env) {
	s := e.client()
	sa, sb := SampleStrategy(e.name+"_b", "t1"), SampleStrategy(e.name+"_a", "t1$TEST")

	v, err := s.CreateStrategy(e.ctx, sa)
	require.NoError(e, err)
	assert.Equal(e, schedule.Version(0), v)
	got, gv, err := s.Strategy(e.ctx, sa.StrategyName)
	require.NoError(e, err)
	assert.Equal(e, sa, got, "round trip")
	assert.Equal(e, schedule.Version(0), gv)

	_, err = s.CreateStrategy(e.ctx, sa)
	require.ErrorIs(e, err, schedule.ErrExists)
	_, err = s.CreateStrategy(e.ctx, sb)
	require.NoError(e, err)
	list, err := s.Strategies(e.ctx)
	require.NoError(e, err)
	assert.True(e, slices.IsSortedFunc(list, func(x, y schedule.Strategy) int {
		return strings.Compare(x.StrategyName, y.StrategyName)
	}), "Strategies not sorted by name")
	var own []schedule.Strategy
	for _, st := range list {
		if strings.HasPrefix(st.StrategyName, e.name+"_") {
			own = append(own, st)
		}
	}
	assert.Equal(e, []schedule.Strategy{sb, sa}, own)

	sa2 := sa
	sa2.AssignNum, sa2.Sts, sa2.IPList = 7, schedule.StsPause, []string{"10.0.0.1", "host-b"}
	v, err = s.UpdateStrategy(e.ctx, sa2, 0)
	require.NoError(e, err)
	assert.Equal(e, schedule.Version(1), v)
	_, err = s.UpdateStrategy(e.ctx, sa, 0)
	require.ErrorIs(e, err, schedule.ErrConflict)
	got, gv, err = s.Strategy(e.ctx, sa.StrategyName)
	require.NoError(e, err)
	assert.Equal(e, sa2, got)
	assert.Equal(e, schedule.Version(1), gv)
	v, err = s.UpdateStrategy(e.ctx, sa, storekit.AnyVersion)
	require.NoError(e, err)
	assert.Equal(e, schedule.Version(2), v)

	missing := SampleStrategy(e.name+"_missing", "t1")
	_, _, err = s.Strategy(e.ctx, missing.StrategyName)
	require.ErrorIs(e, err, schedule.ErrNotFound)
	_, err = s.UpdateStrategy(e.ctx, missing, 0)
	require.ErrorIs(e, err, schedule.ErrNotFound)
	require.ErrorIs(e, s.DeleteStrategy(e.ctx, missing.StrategyName, storekit.AnyVersion), schedule.ErrNotFound)

	require.ErrorIs(e, s.DeleteStrategy(e.ctx, sa.StrategyName, 0), schedule.ErrConflict)
	require.NoError(e, s.DeleteStrategy(e.ctx, sa.StrategyName, 2))
	_, _, err = s.Strategy(e.ctx, sa.StrategyName)
	require.ErrorIs(e, err, schedule.ErrNotFound)
	require.NoError(e, s.DeleteStrategy(e.ctx, sb.StrategyName, storekit.AnyVersion))
}

// race runs fns at once and returns their errors.
func race(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and every other is
// ErrConflict, and returns the winner's index.
func (e *env) oneWinner(errs []error, what string) int {
	e.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			e.Fatalf("%s: both %d and %d won", what, winner, i)
		case err == nil:
			winner = i
		default:
			require.ErrorIs(e, err, schedule.ErrConflict, "%s: loser %d", what, i)
		}
	}
	require.GreaterOrEqual(e, winner, 0, "%s: nobody won: %v", what, errs)
	return winner
}

// testConfigConcurrentUpdate: two clients update the same version of a task
// type (and of a strategy) at once: exactly one wins, the other gets
// ErrConflict, and the winner's content is stored.
func testConfigConcurrentUpdate(e *env) {
	a, b := e.client(), e.client()
	tt := e.createTaskType(a, e.name)
	st := e.createStrategy(a, e.name, e.name)
	for round := range 3 {
		v := schedule.Version(round)
		ta, tb := tt, tt
		ta.ThreadNumber, tb.ThreadNumber = 10+round, 20+round
		errs := race(
			func() error { _, err := a.UpdateTaskType(e.ctx, ta, v); return err },
			func() error { _, err := b.UpdateTaskType(e.ctx, tb, v); return err },
		)
		w := e.oneWinner(errs, "UpdateTaskType")
		got, gv, err := []storekit.Store{a, b}[w].TaskType(e.ctx, tt.BaseTaskType)
		require.NoError(e, err)
		assert.Equal(e, []schedule.TaskType{ta, tb}[w], got, "round %d: stored content is not the winner's", round)
		assert.Equal(e, v+1, gv)

		sa, sb := st, st
		sa.AssignNum, sb.AssignNum = 10+round, 20+round
		errs = race(
			func() error { _, err := a.UpdateStrategy(e.ctx, sa, v); return err },
			func() error { _, err := b.UpdateStrategy(e.ctx, sb, v); return err },
		)
		w = e.oneWinner(errs, "UpdateStrategy")
		gotS, gv, err := []storekit.Store{a, b}[w].Strategy(e.ctx, st.StrategyName)
		require.NoError(e, err)
		assert.Equal(e, []schedule.Strategy{sa, sb}[w], gotS, "round %d", round)
		assert.Equal(e, v+1, gv)
	}
}

// testConfigValidation: invalid task types and strategies fail with
// ErrInvalid and nothing is written.
func testConfigValidation(e *env) {
	s := e.client()

	bad := SampleTaskType(e.name)
	bad.DealBeanName = ""
	bad.JudgeDeadInterval = bad.HeartBeatRate // < 5*HeartBeatRate
	_, err := s.CreateTaskType(e.ctx, bad)
	require.ErrorIs(e, err, schedule.ErrInvalid)
	_, _, err = s.TaskType(e.ctx, bad.BaseTaskType)
	require.ErrorIs(e, err, schedule.ErrNotFound, "an invalid create wrote the task type")

	_, err = s.CreateTaskType(e.ctx, SampleTaskType(e.name+"/x"))
	require.ErrorIs(e, err, schedule.ErrInvalid, "task type name with '/'")
	_, err = s.CreateTaskType(e.ctx, SampleTaskType(e.name+"$x"))
	require.ErrorIs(e, err, schedule.ErrInvalid, "task type name with '$'")

	good := e.createTaskType(s, e.name)
	for _, mutate := range []func(*schedule.TaskType){
		func(t *schedule.TaskType) { t.ThreadNumber = 0 },
		func(t *schedule.TaskType) { t.TaskItems = []string{"1:{A"} },
		func(t *schedule.TaskType) { t.TaskItems = []string{"1", "1"} },
		func(t *schedule.TaskType) { t.PermitRunStartTime = "not a cron" },
	} {
		t := good
		t.TaskItems = slices.Clone(good.TaskItems)
		mutate(&t)
		_, err := s.UpdateTaskType(e.ctx, t, 0)
		require.ErrorIs(e, err, schedule.ErrInvalid, "update with %+v", t)
	}
	got, v, err := s.TaskType(e.ctx, good.BaseTaskType)
	require.NoError(e, err)
	assert.Equal(e, good, got, "an invalid update changed the task type")
	assert.Equal(e, schedule.Version(0), v, "an invalid update wrote")

	badS := SampleStrategy(e.name, e.name)
	badS.AssignNum = -1
	badS.Kind = "Foo"
	_, err = s.CreateStrategy(e.ctx, badS)
	require.ErrorIs(e, err, schedule.ErrInvalid)
	_, _, err = s.Strategy(e.ctx, badS.StrategyName)
	require.ErrorIs(e, err, schedule.ErrNotFound, "an invalid create wrote the strategy")
	goodS := e.createStrategy(s, e.name, e.name)
	badS = goodS
	badS.IPList = nil
	_, err = s.UpdateStrategy(e.ctx, badS, 0)
	require.ErrorIs(e, err, schedule.ErrInvalid)
	gotS, v, err := s.Strategy(e.ctx, goodS.StrategyName)
	require.NoError(e, err)
	assert.Equal(e, goodS, gotS)
	assert.Equal(e, schedule.Version(0), v)
}

// testInvalidNames: names that cannot be path elements fail with ErrInvalid
// on reads and writes alike, before reaching the backend.
func testInvalidNames(e *env) {
	s := e.client()
	sess := e.session(s)
	for _, bad := range []string{"a/b", "", "..", "a b"} {
		_, _, err := s.TaskType(e.ctx, bad)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "TaskType(%q)", bad)
		_, _, err = s.Strategy(e.ctx, bad)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "Strategy(%q)", bad)
		_, err = s.Servers(e.ctx, bad)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "Servers(%q)", bad)
		_, err = s.ServerIDs(e.ctx, bad)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "ServerIDs(%q)", bad)
		_, err = s.ServersByID(e.ctx, bad, nil)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "ServersByID(%q)", bad)
		if bad != "" {
			_, err = s.ServersByID(e.ctx, e.name, []schedule.ServerID{schedule.ServerID(bad)})
			assert.ErrorIs(e, err, schedule.ErrInvalid, "ServersByID(id %q)", bad)
		}
		_, err = s.Items(e.ctx, bad)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "Items(%q)", bad)
		_, err = s.Runtimes(e.ctx, bad)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "Runtimes(%q)", bad)
		_, err = s.StrategyRuntimes(e.ctx, bad)
		assert.ErrorIs(e, err, schedule.ErrInvalid, "StrategyRuntimes(%q)", bad)
		_, err = s.FactoryState(e.ctx, bad, "h")
		assert.ErrorIs(e, err, schedule.ErrInvalid, "FactoryState(%q)", bad)
		_, err = s.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: bad})
		assert.ErrorIs(e, err, schedule.ErrInvalid, "Watch(servers %q)", bad)
	}
	e.createTaskType(s, e.name)
	rec := SampleServer(e.name, "10.0.0.1")
	rec.IP = "10.0.0.1/8"
	_, err := s.RegisterServer(e.ctx, sess, rec)
	assert.ErrorIs(e, err, schedule.ErrInvalid, "server IP with '/'")
	f := SampleFactory("10.0.0.1", "h$x")
	_, err = s.RegisterFactory(e.ctx, sess, f)
	assert.ErrorIs(e, err, schedule.ErrInvalid, "factory host with '$'")
	require.ErrorIs(e, s.SetItemDesc(e.ctx, e.name, "0", "x"), schedule.ErrNotFound, "SetItemDesc of an unknown item")
	_, err = s.UpdateItem(e.ctx, e.name, "", schedule.Item{ID: "0"}, "", "")
	require.ErrorIs(e, err, schedule.ErrNotFound, "UpdateItem of an unknown item")
}

// testDeleteTaskTypeCascade: deleting a task type removes all its runtimes,
// live servers' nodes and items included.
func testDeleteTaskTypeCascade(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	srv := e.registerServer(s, e.name, "10.0.0.1")
	srvT := e.registerServer(s, e.name+"$TEST", "10.0.0.1")
	e.build(s, e.name, srv.UUID, "0", "1")
	e.build(s, e.name+"$TEST", srvT.UUID, "0")

	rts, err := s.Runtimes(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []string{e.name, e.name + "$TEST"}, rts)

	require.ErrorIs(e, s.DeleteTaskType(e.ctx, e.name, 1), schedule.ErrConflict)
	require.NoError(e, s.DeleteTaskType(e.ctx, e.name, 0))
	rts, err = s.Runtimes(e.ctx, e.name)
	require.NoError(e, err, "Runtimes of a deleted task type")
	assert.Empty(e, rts)
	for _, rt := range []string{e.name, e.name + "$TEST"} {
		servers, err := s.Servers(e.ctx, rt)
		require.NoError(e, err)
		assert.Empty(e, servers, "servers of %s", rt)
		snap := e.items(s, rt)
		assert.Empty(e, snap.Items, "items of %s", rt)
		assert.Empty(e, snap.Mark.Leader, "mark of %s", rt)
	}
	require.ErrorIs(e, s.UpdateServer(e.ctx, srv), schedule.ErrNotFound, "heartbeat of a deleted server")
	_, err = s.RegisterServer(e.ctx, e.session(s), SampleServer(e.name, "10.0.0.1"))
	require.ErrorIs(e, err, schedule.ErrNotFound, "RegisterServer without a task type")
}

// testDeleteStrategyCascade: deleting a strategy removes the factories'
// registrations below it.
func testDeleteStrategyCascade(e *env) {
	s := e.client()
	e.createStrategy(s, e.name, e.name)
	f := e.registerFactory(s, "10.0.0.1", e.name)
	_, err := s.RegisterStrategyRuntime(e.ctx, e.session(s), schedule.StrategyRuntime{StrategyName: e.name, UUID: f.UUID})
	require.NoError(e, err)
	require.NoError(e, s.DeleteStrategy(e.ctx, e.name, 0))
	rts, err := s.StrategyRuntimes(e.ctx, e.name)
	require.NoError(e, err, "StrategyRuntimes of a deleted strategy")
	assert.Empty(e, rts)
	_, err = s.CreateStrategy(e.ctx, SampleStrategy(e.name, e.name))
	require.NoError(e, err)
	rts, err = s.StrategyRuntimes(e.ctx, e.name)
	require.NoError(e, err)
	assert.Empty(e, rts, "registrations came back with the strategy")
}

// testClusterClock: Now is close to the local clock (the backend runs on
// this host) and ClockInfo is populated.
func testClusterClock(e *env) {
	s := e.client()
	before := time.Now()
	now, err := s.Now(e.ctx)
	after := time.Now()
	require.NoError(e, err)
	assert.WithinRange(e, now, before.Add(-time.Second), after.Add(time.Second), "cluster time")
	info := s.ClockInfo()
	assert.False(e, info.At.IsZero(), "ClockInfo.At not set after Now")
	assert.WithinDuration(e, time.Now(), info.At, time.Minute, "ClockInfo.At")
	assert.Less(e, info.Offset.Abs(), time.Second, "ClockInfo.Offset")
	assert.GreaterOrEqual(e, info.RTT, time.Duration(0), "ClockInfo.RTT")
	now2, err := s.Now(e.ctx)
	require.NoError(e, err)
	assert.False(e, now2.Before(now.Add(-10*time.Millisecond)), "cluster time went back: %s then %s", now, now2)
}
