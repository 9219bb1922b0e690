package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// garbage is what the corrupt-data tests plant: not JSON.
var garbage = []byte(`{"corrupt": [1, 2`)

// corruptEnv plants garbage in one node and checks that it stays there.
type corruptEnv struct {
	*env
	target RawTarget
}

func (e *env) corrupt(target RawTarget) *corruptEnv {
	ce := &corruptEnv{env: e, target: target}
	e.h.WriteRaw(e.T, target, garbage)
	ce.unchanged("WriteRaw")
	return ce
}

// unchanged checks that the planted bytes are still stored (when the
// harness can read them).
func (ce *corruptEnv) unchanged(after string) {
	ce.Helper()
	if ce.h.ReadRaw != nil {
		assert.Equal(ce, string(garbage), string(ce.h.ReadRaw(ce.T, ce.target)), "stored bytes after %s", after)
	}
}

// awaitCorrupt polls read until it fails with ErrCorrupt (the store's client
// may lag behind the harness's write for a moment), then checks the error.
func (ce *corruptEnv) awaitCorrupt(call string, read func() error, names ...string) {
	ce.Helper()
	var err error
	ce.eventually(call+" sees the corrupt node", func() error {
		if err = read(); errors.Is(err, schedule.ErrCorrupt) {
			return nil
		}
		return fmt.Errorf("%s returned %v", call, err)
	})
	ce.isCorrupt(err, call, names...)
}

// isCorrupt checks that err wraps ErrCorrupt and names the node.
func (ce *corruptEnv) isCorrupt(err error, call string, names ...string) {
	ce.Helper()
	require.ErrorIs(ce, err, schedule.ErrCorrupt, call)
	for _, n := range names {
		assert.Contains(ce, err.Error(), n, "%s: the error does not name the node", call)
	}
	ce.unchanged(call)
}

// testCorruptData: for every kind of node, data that does not decode makes
// reads fail with ErrCorrupt naming the node; nothing overwrites it
// implicitly; a version-checked write replaces it only with the right
// version. (Exclusive: a corrupt task type or strategy fails every
// listing.)
func testCorruptData(e *env) {
	s := e.client()

	e.Run("taskType", func(t *testing.T) {
		e := e.sub(t)
		base := e.name + "_tt"
		tt := e.createTaskType(s, base)
		ce := e.corrupt(RawTarget{Kind: "taskType", Name: base})
		ce.awaitCorrupt("TaskType", func() error { _, _, err := s.TaskType(e.ctx, base); return err }, base)
		_, err := s.TaskTypes(e.ctx)
		ce.isCorrupt(err, "TaskTypes", base)
		_, err = s.UpdateTaskType(e.ctx, tt, 0)
		require.Error(t, err, "UpdateTaskType with the version before the corruption")
		ce.unchanged("UpdateTaskType with a stale version")
		_, err = s.CreateTaskType(e.ctx, tt)
		require.ErrorIs(t, err, schedule.ErrExists)
		ce.unchanged("CreateTaskType")
		v, err := s.UpdateTaskType(e.ctx, tt, 1)
		require.NoError(t, err, "UpdateTaskType with the corrupt node's version")
		got, gv, err := s.TaskType(e.ctx, base)
		require.NoError(t, err, "after the repair")
		assert.Equal(t, tt, got)
		assert.Equal(t, v, gv)
		require.NoError(t, s.DeleteTaskType(e.ctx, base, v))
	})

	e.Run("strategy", func(t *testing.T) {
		e := e.sub(t)
		name := e.name + "_st"
		st := e.createStrategy(s, name, name)
		ce := e.corrupt(RawTarget{Kind: "strategy", Name: name})
		ce.awaitCorrupt("Strategy", func() error { _, _, err := s.Strategy(e.ctx, name); return err }, name)
		_, err := s.Strategies(e.ctx)
		ce.isCorrupt(err, "Strategies", name)
		_, err = s.UpdateStrategy(e.ctx, st, 0)
		require.Error(t, err, "UpdateStrategy with the version before the corruption")
		ce.unchanged("UpdateStrategy with a stale version")
		v, err := s.UpdateStrategy(e.ctx, st, 1)
		require.NoError(t, err, "UpdateStrategy with the corrupt node's version")
		got, _, err := s.Strategy(e.ctx, name)
		require.NoError(t, err)
		assert.Equal(t, st, got)
		require.NoError(t, s.DeleteStrategy(e.ctx, name, v))
	})

	base := e.name + "_rt"
	e.createTaskType(s, base)
	rt := base + "$C"
	srv := e.registerServer(s, rt, "10.0.4.1")

	e.Run("server", func(t *testing.T) {
		e := e.sub(t)
		bad := e.registerServer(s, rt, "10.0.4.2")
		ce := e.corrupt(RawTarget{Kind: "server", Runtime: rt, Name: string(bad.UUID)})
		ce.awaitCorrupt("Servers", func() error { _, err := s.Servers(e.ctx, rt); return err }, string(bad.UUID))
		require.NoError(t, s.UnregisterServer(e.ctx, rt, bad.UUID))
		servers, err := s.Servers(e.ctx, rt)
		require.NoError(t, err)
		assert.Equal(t, []schedule.ServerID{srv.UUID}, serverIDs(servers))
	})

	e.Run("item", func(t *testing.T) {
		e := e.sub(t)
		snap := e.build(s, rt, srv.UUID, "0", "x1", "2")
		ce := e.corrupt(RawTarget{Kind: "item", Runtime: rt, Name: "x1"})
		ce.awaitCorrupt("Items", func() error { _, err := s.Items(e.ctx, rt); return err }, rt, "x1")
		_, err := s.BuildItems(e.ctx, rt, srv.UUID, snap.Mark, []string{"0", "x1", "2", "3"})
		ce.isCorrupt(err, "BuildItems over a corrupt item", rt, "x1")
		_, err = s.BuildItems(e.ctx, rt, srv.UUID, snap.Mark, []string{"0"})
		ce.isCorrupt(err, "BuildItems removing a corrupt item", rt, "x1")
		_, err = s.Items(e.ctx, rt)
		ce.isCorrupt(err, "Items after the refused builds", rt, "x1")
	})

	e.Run("strategyRuntime", func(t *testing.T) {
		e := e.sub(t)
		name := e.name + "_sr"
		e.createStrategy(s, name, name)
		f := e.registerFactory(s, "10.0.4.1", e.name)
		_, err := s.RegisterStrategyRuntime(e.ctx, e.session(s), schedule.StrategyRuntime{StrategyName: name, UUID: f.UUID})
		require.NoError(t, err)
		ce := e.corrupt(RawTarget{Kind: "strategyRuntime", Name: name + "/" + string(f.UUID)})
		ce.awaitCorrupt("StrategyRuntimes", func() error { _, err := s.StrategyRuntimes(e.ctx, name); return err }, string(f.UUID))
		_, err = s.UpdateStrategyRuntimes(e.ctx, name, "", []schedule.StrategyRuntime{{StrategyName: name, UUID: f.UUID, Version: 0}})
		require.Error(t, err, "UpdateStrategyRuntimes with the version before the corruption")
		ce.unchanged("UpdateStrategyRuntimes with a stale version")
		require.NoError(t, s.DeleteStrategy(e.ctx, name, storekit.AnyVersion))
	})

	e.Run("factoryState", func(t *testing.T) {
		e := e.sub(t)
		ip, host := "10.0.4.1", e.name
		require.NoError(t, s.SetFactoryState(e.ctx, ip, host, schedule.FactoryState{Stopped: true}))
		ce := e.corrupt(RawTarget{Kind: "factoryState", Name: ip + "$" + host})
		ce.awaitCorrupt("FactoryState", func() error { _, err := s.FactoryState(e.ctx, ip, host); return err }, ip+"$"+host)
		st := schedule.FactoryState{Stopped: false, By: "ops"}
		require.NoError(t, s.SetFactoryState(e.ctx, ip, host, st), "SetFactoryState over a corrupt state")
		got, err := s.FactoryState(e.ctx, ip, host)
		require.NoError(t, err)
		assert.Equal(t, st, got)
	})

	// Nothing this subtest left behind fails the listings of the others.
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Wait)
	defer cancel()
	_, err := s.TaskTypes(ctx)
	require.NoError(e, err)
	_, err = s.Strategies(ctx)
	require.NoError(e, err)
}
