package storetest

import (
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// view is everything one subtest's setup wrote, as a client reads it.
type view struct {
	tt        schedule.TaskType
	ttV       schedule.Version
	st        schedule.Strategy
	stV       schedule.Version
	servers   []schedule.Server
	runtimes  []string
	items     schedule.Items
	items2    schedule.Items
	factories []schedule.Factory
	rts       []schedule.StrategyRuntime
	state     schedule.FactoryState
}

func (e *env) view(s storekit.Store, rt2, host string) view {
	e.Helper()
	var v view
	var err error
	v.tt, v.ttV, err = s.TaskType(e.ctx, e.name)
	require.NoError(e, err, "TaskType")
	v.st, v.stV, err = s.Strategy(e.ctx, e.name)
	require.NoError(e, err, "Strategy")
	v.servers, err = s.Servers(e.ctx, e.name)
	require.NoError(e, err, "Servers")
	v.runtimes, err = s.Runtimes(e.ctx, e.name)
	require.NoError(e, err, "Runtimes")
	v.items = e.items(s, e.name)
	v.items2 = e.items(s, rt2)
	fs, err := s.Factories(e.ctx)
	require.NoError(e, err, "Factories")
	v.factories = ownFactories(fs, host)
	v.rts, err = s.StrategyRuntimes(e.ctx, e.name)
	require.NoError(e, err, "StrategyRuntimes")
	v.state, err = s.FactoryState(e.ctx, "10.0.3.1", host)
	require.NoError(e, err, "FactoryState")
	_, err = s.TaskTypes(e.ctx)
	require.NoError(e, err, "TaskTypes")
	_, err = s.Strategies(e.ctx)
	require.NoError(e, err, "Strategies")
	return v
}

// testPermissions: a client without the credentials reads everything the
// others wrote, and every kind of write it tries fails with ErrPermission
// and changes nothing.
func testPermissions(e *env) {
	a := e.client()
	n := e.h.NewClientWithoutAuth(e.T)
	require.NotNil(e, n, "Harness.NewClientWithoutAuth returned nil")
	host := e.name
	rt2 := e.name + "$IDLE"

	tt := e.createTaskType(a, e.name)
	st := e.createStrategy(a, e.name, e.name)
	srv := e.registerServer(a, e.name, "10.0.3.1")
	snap := e.build(a, e.name, srv.UUID, "0", "1")
	item, err := a.UpdateItem(e.ctx, e.name, srv.UUID, e.item(snap, "0"), srv.UUID, "")
	require.NoError(e, err)
	idle := e.registerServer(a, rt2, "10.0.3.1")
	e.build(a, rt2, idle.UUID, "0")
	require.NoError(e, a.UnregisterServer(e.ctx, rt2, idle.UUID))
	fac := e.registerFactory(a, "10.0.3.1", host)
	rt, err := a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: fac.UUID})
	require.NoError(e, err)
	require.NoError(e, a.SetFactoryState(e.ctx, "10.0.3.1", host, schedule.FactoryState{Stopped: true, By: "ops"}))

	before := e.view(a, rt2, host)
	eventuallyEqual(e, "what the client without credentials reads", before, func() (view, error) {
		return e.view(n, rt2, host), nil
	})
	_, err = n.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchItems, Name: e.name})
	require.NoError(e, err, "Watch without credentials")
	nSess := e.session(n)

	tt2 := tt
	tt2.ThreadNumber = 8
	st2 := st
	st2.AssignNum = 9
	rt.RequestNum = 5
	writes := []struct {
		what string
		do   func() error
	}{
		{"CreateTaskType", func() error { _, err := n.CreateTaskType(e.ctx, SampleTaskType(e.name+"_n")); return err }},
		{"UpdateTaskType", func() error { _, err := n.UpdateTaskType(e.ctx, tt2, before.ttV); return err }},
		{"DeleteTaskType", func() error { return n.DeleteTaskType(e.ctx, e.name, before.ttV) }},
		{"CreateStrategy", func() error { _, err := n.CreateStrategy(e.ctx, SampleStrategy(e.name+"_n", e.name)); return err }},
		{"UpdateStrategy", func() error { _, err := n.UpdateStrategy(e.ctx, st2, before.stV); return err }},
		{"DeleteStrategy", func() error { return n.DeleteStrategy(e.ctx, e.name, before.stV) }},
		{"RegisterServer", func() error {
			_, err := n.RegisterServer(e.ctx, nSess, SampleServer(e.name, "10.0.3.2"))
			return err
		}},
		{"UpdateServer", func() error { return n.UpdateServer(e.ctx, srv) }},
		{"UnregisterServer", func() error { return n.UnregisterServer(e.ctx, e.name, srv.UUID) }},
		{"DeleteRuntime", func() error { return n.DeleteRuntime(e.ctx, rt2) }},
		{"BuildItems", func() error {
			_, err := n.BuildItems(e.ctx, e.name, srv.UUID, before.items.Mark, []string{"0", "1", "2"})
			return err
		}},
		{"UpdateItem", func() error { _, err := n.UpdateItem(e.ctx, e.name, srv.UUID, item, "", ""); return err }},
		{"SetItemDesc", func() error { return n.SetItemDesc(e.ctx, e.name, "0", "x") }},
		{"RegisterFactory", func() error {
			_, err := n.RegisterFactory(e.ctx, nSess, SampleFactory("10.0.3.2", host+"-n"))
			return err
		}},
		{"UnregisterFactory", func() error { return n.UnregisterFactory(e.ctx, fac.UUID) }},
		{"SetFactoryState", func() error {
			return n.SetFactoryState(e.ctx, "10.0.3.1", host, schedule.FactoryState{Stopped: false})
		}},
		{"SetFactoryState (new node)", func() error {
			return n.SetFactoryState(e.ctx, "10.0.3.1", host+"-n", schedule.FactoryState{Stopped: true})
		}},
		{"RegisterStrategyRuntime", func() error {
			_, err := n.RegisterStrategyRuntime(e.ctx, nSess, schedule.StrategyRuntime{
				StrategyName: e.name, UUID: "10.0.3.2$" + schedule.FactoryID(host) + "-n$0123456789ABCDEF0123456789ABCDEF$0000000001"})
			return err
		}},
		{"UnregisterStrategyRuntime", func() error { return n.UnregisterStrategyRuntime(e.ctx, e.name, fac.UUID) }},
		{"UpdateStrategyRuntimes", func() error {
			_, err := n.UpdateStrategyRuntimes(e.ctx, e.name, fac.UUID, []schedule.StrategyRuntime{rt})
			return err
		}},
	}
	for _, w := range writes {
		assert.ErrorIs(e, w.do(), schedule.ErrPermission, w.what)
	}
	assert.Equal(e, before, e.view(a, rt2, host), "writes without credentials changed something")
	_, _, err = a.TaskType(e.ctx, e.name+"_n")
	assert.ErrorIs(e, err, schedule.ErrNotFound, "CreateTaskType without credentials")
	_, _, err = a.Strategy(e.ctx, e.name+"_n")
	assert.ErrorIs(e, err, schedule.ErrNotFound, "CreateStrategy without credentials")
	got, err := a.FactoryState(e.ctx, "10.0.3.1", host+"-n")
	require.NoError(e, err)
	assert.Equal(e, schedule.FactoryState{}, got, "SetFactoryState without credentials")
}
