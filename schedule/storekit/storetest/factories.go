package storetest

import (
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// testStrategyRuntimes: registrations under a strategy need the strategy
// (ErrNotFound), are unique per factory (ErrExists), list sorted by the
// factories' Seq, and are updated all-or-nothing with a version per
// registration and a live guard factory (ErrConflict).
func testStrategyRuntimes(e *env) {
	a, b := e.client(), e.client()
	e.createStrategy(a, e.name, e.name)
	facA := e.registerFactory(a, "10.0.0.1", e.name+"-a")
	facB := e.registerFactory(b, "10.0.0.2", e.name+"-b")
	require.Less(e, facA.Seq, facB.Seq)

	_, err := a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name + "_none", UUID: facA.UUID})
	require.ErrorIs(e, err, schedule.ErrNotFound, "registration under a strategy that does not exist")

	// B registers first: the listing still puts A (lower Seq) first.
	inB := schedule.StrategyRuntime{StrategyName: e.name, UUID: facB.UUID, RequestNum: 1, CurrentNum: 0, Message: "starting"}
	rtB, err := b.RegisterStrategyRuntime(e.ctx, e.session(b), inB)
	require.NoError(e, err)
	assert.Equal(e, inB, rtB)
	inA := schedule.StrategyRuntime{StrategyName: e.name, UUID: facA.UUID, Message: "消息"}
	rtA, err := a.RegisterStrategyRuntime(e.ctx, e.session(a), inA)
	require.NoError(e, err)
	assert.Equal(e, inA, rtA, "registration result (Version 0)")
	_, err = a.RegisterStrategyRuntime(e.ctx, e.session(a), inA)
	require.ErrorIs(e, err, schedule.ErrExists, "second registration")

	eventuallyEqual(e, "registrations sorted by factory Seq", []schedule.StrategyRuntime{rtA, rtB},
		func() ([]schedule.StrategyRuntime, error) { return b.StrategyRuntimes(e.ctx, e.name) })
	none, err := b.StrategyRuntimes(e.ctx, e.name+"_none")
	require.NoError(e, err, "registrations of a strategy that does not exist")
	assert.Empty(e, none)

	// The ids alone, and one registration.
	eventuallyEqual(e, "registration ids sorted by factory Seq", []schedule.FactoryID{facA.UUID, facB.UUID},
		func() ([]schedule.FactoryID, error) { return b.StrategyRuntimeIDs(e.ctx, e.name) })
	noIDs, err := b.StrategyRuntimeIDs(e.ctx, e.name+"_none")
	require.NoError(e, err, "registration ids of a strategy that does not exist")
	assert.Empty(e, noIDs)
	one, err := a.StrategyRuntime(e.ctx, e.name, facB.UUID)
	require.NoError(e, err)
	assert.Equal(e, rtB, one, "StrategyRuntime")
	unregistered := schedule.FactoryID("10.9.9.9$gone$0123456789ABCDEF0123456789ABCDEF$0000000001")
	_, err = a.StrategyRuntime(e.ctx, e.name, unregistered)
	require.ErrorIs(e, err, schedule.ErrNotFound, "StrategyRuntime of a factory not registered")
	_, err = a.StrategyRuntime(e.ctx, e.name+"_none", facA.UUID)
	require.ErrorIs(e, err, schedule.ErrNotFound, "StrategyRuntime under a strategy that does not exist")

	upA, upB := rtA, rtB
	upA.RequestNum, upB.RequestNum = 2, 3
	upB.Version = rtB.Version + 5
	_, err = a.UpdateStrategyRuntimes(e.ctx, e.name, facA.UUID, []schedule.StrategyRuntime{upA, upB})
	require.ErrorIs(e, err, schedule.ErrConflict, "batch with a stale version")
	list, err := a.StrategyRuntimes(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []schedule.StrategyRuntime{rtA, rtB}, list, "a failed batch wrote")

	_, err = a.UpdateStrategyRuntimes(e.ctx, e.name, "10.9.9.9$gone$0123456789ABCDEF0123456789ABCDEF$0000000001",
		[]schedule.StrategyRuntime{rtA})
	require.ErrorIs(e, err, schedule.ErrConflict, "guard factory not registered")

	upB.Version = rtB.Version
	upB.CurrentNum, upB.Message = 3, "running"
	got, err := a.UpdateStrategyRuntimes(e.ctx, e.name, facA.UUID, []schedule.StrategyRuntime{upA, upB})
	require.NoError(e, err)
	require.Len(e, got, 2)
	upA.Version, upB.Version = rtA.Version+1, rtB.Version+1
	assert.Equal(e, []schedule.StrategyRuntime{upA, upB}, got, "batch result")
	eventuallyEqual(e, "registrations after the batch", []schedule.StrategyRuntime{upA, upB},
		func() ([]schedule.StrategyRuntime, error) { return b.StrategyRuntimes(e.ctx, e.name) })
	got, err = b.UpdateStrategyRuntimes(e.ctx, e.name, "", []schedule.StrategyRuntime{upB})
	require.NoError(e, err, "unguarded update")
	upB = got[0]

	require.NoError(e, b.UnregisterStrategyRuntime(e.ctx, e.name, facB.UUID))
	require.NoError(e, b.UnregisterStrategyRuntime(e.ctx, e.name, facB.UUID), "unregistering twice")
	_, err = a.UpdateStrategyRuntimes(e.ctx, e.name, facA.UUID, []schedule.StrategyRuntime{upA, upB})
	require.ErrorIs(e, err, schedule.ErrNotFound, "batch with a registration that is gone")
	list, err = a.StrategyRuntimes(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []schedule.StrategyRuntime{upA}, list, "a failed batch wrote")
}

// checkFactoryID checks the node name "<ip>$<hostName>$<uuid>$<seq10>".
func (e *env) checkFactoryID(rec schedule.Factory) {
	e.Helper()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(rec.IP+"$"+rec.HostName+"$"+rec.ProcessUUID+"$") + `([0-9]{10})$`)
	m := re.FindStringSubmatch(string(rec.UUID))
	require.NotNil(e, m, "factory id %q is not <ip>$<hostName>$<processUUID %q>$<seq10>", rec.UUID, rec.ProcessUUID)
	seq, _ := strconv.ParseInt(m[1], 10, 64)
	assert.Equal(e, seq, rec.Seq, "Seq of %s", rec.UUID)
}

// testFactorySequence: factories get strictly increasing sequence numbers
// in registration order, a generated or given process UUID, and list sorted
// by Seq with every field intact.
func testFactorySequence(e *env) {
	a, b := e.client(), e.client()
	var regs []schedule.Factory
	for i := range 4 {
		s := []storekit.Store{a, b}[i%2]
		in := SampleFactory("10.0.1."+strconv.Itoa(i+1), e.name+"-"+strconv.Itoa(i))
		in.Session = e.session(s).ID()
		in.RegisterTime = schedule.Time{Time: time.Date(2026, 11, 21, 18, 5, 2, 123456789, time.FixedZone("CST", 8*3600))}
		if i == 3 {
			in.ProcessUUID = "0123456789ABCDEF0123456789ABCDEF"
		}
		got, err := s.RegisterFactory(e.ctx, e.session(s), in)
		require.NoError(e, err)
		if i == 3 {
			assert.Equal(e, in.ProcessUUID, got.ProcessUUID, "given process UUID")
		} else {
			assert.Regexp(e, `^[0-9A-F]{32}$`, got.ProcessUUID, "generated process UUID")
		}
		e.checkFactoryID(got)
		if len(regs) > 0 {
			require.Greater(e, got.Seq, regs[len(regs)-1].Seq, "sequence not increasing")
		}
		want := in
		want.UUID, want.Seq, want.ProcessUUID = got.UUID, got.Seq, got.ProcessUUID
		want.RegisterTime = schedule.Time{Time: time.Date(2026, 11, 21, 10, 5, 2, 123000000, time.UTC)}
		regs = append(regs, want)
	}
	eventuallyEqual(e, "factory records round trip, in registration order", regs, func() ([]schedule.Factory, error) {
		all, err := b.Factories(e.ctx)
		if err == nil && !slices.IsSortedFunc(all, func(x, y schedule.Factory) int { return int(x.Seq - y.Seq) }) {
			e.Fatalf("Factories not sorted by Seq: %+v", all)
		}
		return ownFactories(all, e.name), err
	})

	require.NoError(e, a.UnregisterFactory(e.ctx, regs[0].UUID))
	require.NoError(e, a.UnregisterFactory(e.ctx, regs[0].UUID), "unregistering twice")
	all, err := a.Factories(e.ctx)
	require.NoError(e, err)
	assert.Equal(e, regs[1:], ownFactories(all, e.name))
	// FactoryIDs lists the same factories in the same order (other tests
	// may register factories between the two reads: look again then).
	eventuallyEqual(e, "FactoryIDs in the order of Factories", true, func() (bool, error) {
		all, err := a.Factories(e.ctx)
		if err != nil {
			return false, err
		}
		ids, err := a.FactoryIDs(e.ctx)
		if err != nil {
			return false, err
		}
		want := make([]schedule.FactoryID, len(all))
		for i, f := range all {
			want[i] = f.UUID
		}
		return slices.Equal(want, ids) && slices.Contains(ids, regs[1].UUID) && !slices.Contains(ids, regs[0].UUID), nil
	})
}

// testFactoryStateDurable: a factory state is the zero state until set,
// then survives the writer's session expiry, its close, and other clients.
func testFactoryStateDurable(e *env) {
	a := e.client()
	ip, host := "10.0.2.1", e.name
	got, err := a.FactoryState(e.ctx, ip, host)
	require.NoError(e, err)
	assert.Equal(e, schedule.FactoryState{}, got, "state never set")

	st := schedule.FactoryState{Stopped: true, By: "ops@example", At: millis(time.Now()), Reason: "disk full, 磁盘"}
	require.NoError(e, a.SetFactoryState(e.ctx, ip, host, st))
	got, err = a.FactoryState(e.ctx, ip, host)
	require.NoError(e, err)
	assert.Equal(e, st, got)
	other, err := a.FactoryState(e.ctx, ip, host+"x")
	require.NoError(e, err)
	assert.Equal(e, schedule.FactoryState{}, other, "the state of another machine")

	old := e.session(a)
	e.h.Expire(e.T, a)
	e.newSession(a, old)
	got, err = a.FactoryState(e.ctx, ip, host)
	require.NoError(e, err)
	assert.Equal(e, st, got, "after the writer's session expired")
	require.NoError(e, a.Close())

	b := e.client()
	eventuallyEqual(e, "the state from a new client after the writer closed", st, func() (schedule.FactoryState, error) {
		return b.FactoryState(e.ctx, ip, host)
	})
	resumed := schedule.FactoryState{Stopped: false, By: "ops", At: millis(time.Now())}
	require.NoError(e, b.SetFactoryState(e.ctx, ip, host, resumed))
	c := e.client()
	eventuallyEqual(e, "the new state from another client", resumed, func() (schedule.FactoryState, error) {
		return c.FactoryState(e.ctx, ip, host)
	})
}
