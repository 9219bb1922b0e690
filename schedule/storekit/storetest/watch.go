package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// watch opens a watch of s for the rest of the subtest.
func (e *env) watch(s storekit.Store, kind storekit.WatchKind, name string) <-chan struct{} {
	e.Helper()
	ch, err := s.Watch(e.ctx, storekit.WatchScope{Kind: kind, Name: name})
	require.NoError(e, err, "Watch")
	require.NotNil(e, ch)
	return ch
}

// step runs one change and checks that ch fired after it. (A watch may fire
// for other reasons too, so only firing is checked, never its absence.)
func (e *env) step(ch <-chan struct{}, what string, change func() error) {
	e.Helper()
	drain(ch)
	require.NoError(e, change(), what)
	e.fired(ch, what)
}

// testWatchServers: a servers watch, opened before the runtime exists,
// fires when servers join and leave, whoever registers them, and when a
// server's session expires.
func testWatchServers(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	ch := e.watch(b, storekit.WatchServers, e.name)
	var s1, s2 schedule.Server
	e.step(ch, "first server registered", func() (err error) {
		s1, err = a.RegisterServer(e.ctx, e.session(a), SampleServer(e.name, "10.0.0.1"))
		return err
	})
	// A heartbeat may or may not fire the watch; nothing is asserted.
	require.NoError(e, a.UpdateServer(e.ctx, s1))
	e.step(ch, "second server registered by the watching client", func() (err error) {
		s2, err = b.RegisterServer(e.ctx, e.session(b), SampleServer(e.name, "10.0.0.2"))
		return err
	})
	e.step(ch, "server unregistered", func() error { return a.UnregisterServer(e.ctx, e.name, s1.UUID) })
	e.step(ch, "the watching client's server unregistered", func() error { return b.UnregisterServer(e.ctx, e.name, s2.UUID) })
	e.registerServer(a, e.name, "10.0.0.3")
	e.step(ch, "a server's session expired", func() error { e.h.Expire(e.T, a); return nil })
}

// testWatchItems: an items watch, opened before the items are built, fires
// at the first build, ownership changes, rebuilds and the runtime's deletion.
func testWatchItems(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	srv := e.registerServer(a, e.name, "10.0.0.1")
	ch := e.watch(b, storekit.WatchItems, e.name)
	var snap schedule.Items
	e.step(ch, "first build", func() (err error) {
		snap, err = a.BuildItems(e.ctx, e.name, srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"0", "1"})
		return err
	})
	e.step(ch, "UpdateItem", func() error {
		_, err := a.UpdateItem(e.ctx, e.name, srv.UUID, e.item(snap, "1"), srv.UUID, "")
		return err
	})
	// A description change (SetItemDesc) may or may not fire; nothing is asserted.
	require.NoError(e, a.SetItemDesc(e.ctx, e.name, "0", "busy"))
	e.step(ch, "rebuild", func() error {
		_, err := a.BuildItems(e.ctx, e.name, srv.UUID, e.items(a, e.name).Mark, []string{"0", "2"})
		return err
	})
	e.step(ch, "DeleteRuntime", func() error {
		if err := a.UnregisterServer(e.ctx, e.name, srv.UUID); err != nil {
			return err
		}
		return a.DeleteRuntime(e.ctx, e.name)
	})
}

// testWatchConfig: a config watch fires when task types and strategies are
// created, updated and deleted.
func testWatchConfig(e *env) {
	a, b := e.client(), e.client()
	ch := e.watch(b, storekit.WatchConfig, "")
	tt := SampleTaskType(e.name)
	st := SampleStrategy(e.name, e.name)
	e.step(ch, "CreateTaskType", func() error { _, err := a.CreateTaskType(e.ctx, tt); return err })
	e.step(ch, "UpdateTaskType", func() error { _, err := a.UpdateTaskType(e.ctx, tt, 0); return err })
	e.step(ch, "DeleteTaskType", func() error { return a.DeleteTaskType(e.ctx, tt.BaseTaskType, 1) })
	e.step(ch, "CreateStrategy", func() error { _, err := a.CreateStrategy(e.ctx, st); return err })
	e.step(ch, "UpdateStrategy", func() error { _, err := a.UpdateStrategy(e.ctx, st, 0); return err })
	e.step(ch, "DeleteStrategy", func() error { return a.DeleteStrategy(e.ctx, st.StrategyName, 1) })
}

// testWatchFactories: a factories watch fires when factories join and
// leave and when a factory state changes.
func testWatchFactories(e *env) {
	a, b := e.client(), e.client()
	ch := e.watch(b, storekit.WatchFactories, "")
	var f schedule.Factory
	e.step(ch, "RegisterFactory", func() (err error) {
		f, err = a.RegisterFactory(e.ctx, e.session(a), SampleFactory("10.0.0.1", e.name))
		return err
	})
	e.step(ch, "SetFactoryState (new)", func() error {
		return a.SetFactoryState(e.ctx, "10.0.0.1", e.name, schedule.FactoryState{Stopped: true, By: "ops"})
	})
	e.step(ch, "SetFactoryState (changed)", func() error {
		return a.SetFactoryState(e.ctx, "10.0.0.1", e.name, schedule.FactoryState{Stopped: false, By: "ops"})
	})
	e.step(ch, "UnregisterFactory", func() error { return a.UnregisterFactory(e.ctx, f.UUID) })
	e.registerFactory(a, "10.0.0.1", e.name)
	e.step(ch, "a factory's session expired", func() error { e.h.Expire(e.T, a); return nil })
}

// testWatchFactoryOfOne: a factories watch for one factory fires when its
// machine's state is written and when its node goes.
func testWatchFactoryOfOne(e *env) {
	a, b := e.client(), e.client()
	f := e.registerFactory(a, "10.0.0.1", e.name)
	ch, err := b.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchFactories, Factory: f.UUID})
	require.NoError(e, err, "Watch")
	e.step(ch, "SetFactoryState (new)", func() error {
		return a.SetFactoryState(e.ctx, "10.0.0.1", e.name, schedule.FactoryState{Stopped: true, By: "ops"})
	})
	e.step(ch, "SetFactoryState (changed)", func() error {
		return a.SetFactoryState(e.ctx, "10.0.0.1", e.name, schedule.FactoryState{Stopped: false, By: "ops"})
	})
	e.step(ch, "UnregisterFactory", func() error { return a.UnregisterFactory(e.ctx, f.UUID) })
	_, err = b.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchFactories, Factory: "not-an-id"})
	require.ErrorIs(e, err, schedule.ErrInvalid, "WatchFactories for a factory id that is not one")
}

// testWatchServersOfOne: a servers watch for one server fires when the
// server that leads leaves while another leads, and, once the watching
// server leads, when a server joins.
func testWatchServersOfOne(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	lead := e.registerServer(a, e.name, "10.0.0.1")
	me := e.registerServer(b, e.name, "10.0.0.2")
	ch, err := b.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: e.name, Server: me.UUID})
	require.NoError(e, err, "Watch")
	e.step(ch, "the leader left", func() error { return a.UnregisterServer(e.ctx, e.name, lead.UUID) })
	e.step(ch, "a server joined the watching server, which leads", func() error {
		_, err := a.RegisterServer(e.ctx, e.session(a), SampleServer(e.name, "10.0.0.3"))
		return err
	})
	_, err = b.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: e.name, Server: "not/an/id"})
	require.ErrorIs(e, err, schedule.ErrInvalid, "WatchServers for a server id that is not one")
}

// testWatchStrategyRuntimeBehindTheFirst: a one-registration watch of a
// registration that does not come first fires when the first one leaves.
func testWatchStrategyRuntimeBehindTheFirst(e *env) {
	a, b := e.client(), e.client()
	e.createStrategy(a, e.name, e.name)
	first := e.registerFactory(a, "10.0.0.1", e.name+"-a")
	second := e.registerFactory(a, "10.0.0.2", e.name+"-b")
	for _, f := range []schedule.Factory{first, second} {
		_, err := a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: f.UUID})
		require.NoError(e, err)
	}
	ch := e.watchRegistration(b, e.name, second.UUID)
	e.step(ch, "the first registration left", func() error { return a.UnregisterStrategyRuntime(e.ctx, e.name, first.UUID) })
	e.step(ch, "a registration joined the watched one, first now", func() error {
		_, err := a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: first.UUID})
		return err
	})
}

// testWatchStrategyRuntimes: a strategy-runtimes watch fires when
// registrations join, change and leave, and when the strategy is deleted.
func testWatchStrategyRuntimes(e *env) {
	a, b := e.client(), e.client()
	e.createStrategy(a, e.name, e.name)
	f := e.registerFactory(a, "10.0.0.1", e.name)
	ch := e.watch(b, storekit.WatchStrategyRuntimes, e.name)
	var rt schedule.StrategyRuntime
	e.step(ch, "RegisterStrategyRuntime", func() (err error) {
		rt, err = a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: f.UUID})
		return err
	})
	e.step(ch, "UpdateStrategyRuntimes", func() error {
		rt.RequestNum = 3
		_, err := a.UpdateStrategyRuntimes(e.ctx, e.name, f.UUID, []schedule.StrategyRuntime{rt})
		return err
	})
	e.step(ch, "UnregisterStrategyRuntime", func() error { return a.UnregisterStrategyRuntime(e.ctx, e.name, f.UUID) })
	_, err := a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: f.UUID})
	require.NoError(e, err)
	e.step(ch, "a registration's session expired", func() error { e.h.Expire(e.T, a); return nil })
	e.step(ch, "DeleteStrategy", func() error { return b.DeleteStrategy(e.ctx, e.name, storekit.AnyVersion) })
}

// testWatchStrategyRuntime: a one-registration watch, opened before that
// registration exists, fires when any registration joins or leaves and
// when its own registration changes, not when another one changes; and
// StrategyRuntime, which a store may answer from what the watch read,
// reads every change the watch fired for.
func testWatchStrategyRuntime(e *env) {
	a, b := e.client(), e.client()
	e.createStrategy(a, e.name, e.name)
	facA := e.registerFactory(a, "10.0.0.1", e.name+"-a")
	facB := e.registerFactory(a, "10.0.0.2", e.name+"-b")
	chA := e.watchRegistration(b, e.name, facA.UUID)
	chB := e.watchRegistration(b, e.name, facB.UUID)
	var rtA, rtB schedule.StrategyRuntime
	e.step(chA, "the watched registration joined", func() (err error) {
		rtA, err = a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: facA.UUID})
		return err
	})
	e.step(chA, "another registration joined", func() (err error) {
		rtB, err = a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: facB.UUID})
		return err
	})
	for i := range 3 {
		e.step(chA, fmt.Sprintf("the watched registration changed (#%d)", i+1), func() error {
			rtA.RequestNum = i + 1
			got, err := a.UpdateStrategyRuntimes(e.ctx, e.name, "", []schedule.StrategyRuntime{rtA})
			if err == nil {
				rtA = got[0]
			}
			return err
		})
		e.readsAfterFire(chA, fmt.Sprintf("StrategyRuntime after the watch fired for change #%d", i+1), func() error {
			got, err := b.StrategyRuntime(e.ctx, e.name, facA.UUID)
			if err != nil {
				return err
			}
			if got != rtA {
				return fmt.Errorf("read %+v, want %+v", got, rtA)
			}
			return nil
		})
	}

	// Another registration's change: B's watch, on the same client, fires
	// for it twice. A store signals the watches an event concerns together
	// and one event after the other, so by the second signal it has sent
	// whatever the first change would send to A's watch.
	drain(chA)
	for i := range 2 {
		e.step(chB, fmt.Sprintf("another registration changed (#%d)", i+1), func() error {
			rtB.CurrentNum = i + 1
			got, err := a.UpdateStrategyRuntimes(e.ctx, e.name, "", []schedule.StrategyRuntime{rtB})
			if err == nil {
				rtB = got[0]
			}
			return err
		})
	}
	select {
	case <-chA:
		e.Fatalf("the watch of one registration fired for a change of another")
	default:
	}

	e.step(chA, "another registration left", func() error { return a.UnregisterStrategyRuntime(e.ctx, e.name, facB.UUID) })
	e.step(chA, "the watched registration left", func() error { return a.UnregisterStrategyRuntime(e.ctx, e.name, facA.UUID) })
	e.readsAfterFire(chA, "StrategyRuntime after the watch fired for its leaving", func() error {
		_, err := b.StrategyRuntime(e.ctx, e.name, facA.UUID)
		if !errors.Is(err, schedule.ErrNotFound) {
			return fmt.Errorf("read error %v, want ErrNotFound", err)
		}
		return nil
	})
	_, err := a.RegisterStrategyRuntime(e.ctx, e.session(a), schedule.StrategyRuntime{StrategyName: e.name, UUID: facA.UUID})
	require.NoError(e, err)
	e.step(chA, "the watched registration's session expired", func() error { e.h.Expire(e.T, a); return nil })
	e.step(chA, "DeleteStrategy", func() error { return b.DeleteStrategy(e.ctx, e.name, storekit.AnyVersion) })

	_, err = b.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntime, Name: e.name})
	require.ErrorIs(e, err, schedule.ErrInvalid, "WatchStrategyRuntime without a factory")
}

// readsAfterFire checks a read made after a watch fired for a change.
// A step's change may fire a watch more than once (its events can reach a
// store in separate batches), so the signal a step waited for may be the
// late second one of the step before it, and the signal for this change
// still to come. A read that does not yet show the change is therefore
// made again after each further signal; it fails if the watch stays quiet
// for the harness's Wait while the read still misses the change, which is
// what a store that answers from stale watched data does.
func (e *env) readsAfterFire(ch <-chan struct{}, what string, check func() error) {
	e.Helper()
	timer := time.NewTimer(e.h.Wait)
	defer timer.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			e.Fatalf("%s: %v (the watch did not fire again within %s)", what, err, e.h.Wait)
		}
	}
}

// watchRegistration opens a WatchStrategyRuntime watch of s for the rest of
// the subtest.
func (e *env) watchRegistration(s storekit.Store, strategy string, id schedule.FactoryID) <-chan struct{} {
	e.Helper()
	ch, err := s.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntime, Name: strategy, Factory: id})
	require.NoError(e, err, "Watch")
	require.NotNil(e, ch)
	return ch
}

// testWatchAfterExpiry: a client's own watches fire when its session
// expires (events may have been lost), and keep working on the new session.
func testWatchAfterExpiry(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(b, e.name)
	old := e.session(a)
	quiet := e.watch(a, storekit.WatchServers, e.name)
	items := e.watch(a, storekit.WatchItems, e.name)
	e.step(quiet, "the watching client's session expired", func() error { e.h.Expire(e.T, a); return nil })
	e.fired(items, "the watching client's session expired")
	e.newSession(a, old)
	e.step(quiet, "a server joined after the expiry", func() error {
		_, err := b.RegisterServer(e.ctx, e.session(b), SampleServer(e.name, "10.0.0.2"))
		return err
	})
}

// testWatchClosed: a watch channel is closed when its context ends and when
// the client closes; no watch can be opened on a closed client.
func testWatchClosed(e *env) {
	a := e.client()
	ctx, cancel := context.WithCancel(e.ctx)
	ch := e.watchCtx(ctx, a, storekit.WatchConfig, "")
	ch2 := e.watch(a, storekit.WatchItems, e.name)
	cancel()
	e.closed(ch, "its context was cancelled")
	select {
	case _, ok := <-ch2:
		require.True(e, ok, "cancelling one watch closed another")
	default:
	}
	ch3 := e.watch(a, storekit.WatchFactories, "")
	require.NoError(e, a.Close())
	e.closed(ch2, "Close")
	e.closed(ch3, "Close")
	_, err := a.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchConfig})
	require.ErrorIs(e, err, schedule.ErrClosed)
	_, err = e.client().Watch(e.ctx, storekit.WatchScope{Kind: 0})
	require.ErrorIs(e, err, schedule.ErrInvalid, "unknown watch kind")
}

func (e *env) watchCtx(ctx context.Context, s storekit.Store, kind storekit.WatchKind, name string) <-chan struct{} {
	e.Helper()
	ch, err := s.Watch(ctx, storekit.WatchScope{Kind: kind, Name: name})
	require.NoError(e, err, "Watch")
	return ch
}

// testWatchOverlapping: scopes of one client that share a node each keep
// their watch on it. A strategy's node is a child of the config scope (whose
// data it watches) and the directory of the strategy's runtimes scope (which
// watches only its children): every change of the strategy fires the config
// watch, however often it changes.
func testWatchOverlapping(e *env) {
	a, b := e.client(), e.client()
	st := e.createStrategy(a, e.name, e.name)
	cfg := e.watch(b, storekit.WatchConfig, "")
	e.watch(b, storekit.WatchStrategyRuntimes, e.name)
	v := schedule.Version(0)
	for i := range 8 {
		e.step(cfg, fmt.Sprintf("UpdateStrategy #%d", i+1), func() (err error) {
			st.Sts = []string{schedule.StsPause, schedule.StsResume}[i%2]
			v, err = a.UpdateStrategy(e.ctx, st, v)
			return err
		})
	}
}
