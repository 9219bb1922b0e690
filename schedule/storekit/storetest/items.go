package storetest

import (
	"fmt"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

func itemIDs(snap schedule.Items) []schedule.ItemID {
	ids := make([]schedule.ItemID, len(snap.Items))
	for i, it := range snap.Items {
		ids[i] = it.ID
	}
	return ids
}

// testItemsBuild: BuildItems creates, removes (keeping owner and epoch),
// re-adds (epoch continues) and re-parameterizes items; it writes the mark;
// items read back in natural order; unchanged items keep their version;
// invalid definitions write nothing.
func testItemsBuild(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	srv := e.registerServer(s, e.name, "10.0.0.1")
	other := e.registerServer(s, e.name, "10.0.0.2")

	empty := e.items(s, e.name)
	assert.Empty(e, empty.Items, "items never built")
	assert.Empty(e, empty.Mark.Leader, "mark never built")
	assert.Empty(e, empty.Mark.Defs, "mark never built")

	defs := []string{"10", "2", "0:{TYPE=A,KIND=1}", "1", "11", "a"}
	before, err := s.Now(e.ctx)
	require.NoError(e, err)
	snap, err := s.BuildItems(e.ctx, e.name, srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, defs)
	require.NoError(e, err)
	after, err := s.Now(e.ctx)
	require.NoError(e, err)
	assert.Equal(e, srv.UUID, snap.Mark.Leader)
	assert.Equal(e, defs, snap.Mark.Defs)
	assert.WithinRange(e, snap.Mark.BuiltAt.Time, before.Add(-time.Second), after.Add(time.Second), "mark time is cluster time")
	assert.Equal(e, []schedule.ItemID{"0", "1", "2", "10", "11", "a"}, itemIDs(snap), "natural order")
	for _, it := range snap.Items {
		assert.Equal(e, schedule.ItemActive, it.Sts, "item %s", it.ID)
		assert.Empty(e, it.CurServer, "item %s", it.ID)
		assert.Empty(e, it.ReqServer, "item %s", it.ID)
		assert.Empty(e, it.DealDesc, "item %s", it.ID)
	}
	assert.Equal(e, "TYPE=A,KIND=1", e.item(snap, "0").Parameter)
	assert.Empty(e, e.item(snap, "1").Parameter)
	assert.Equal(e, snap, e.items(s, e.name), "BuildItems result differs from Items")

	i0, err := s.UpdateItem(e.ctx, e.name, srv.UUID, e.item(snap, "0"), srv.UUID, "")
	require.NoError(e, err)
	i10, err := s.UpdateItem(e.ctx, e.name, srv.UUID, e.item(snap, "10"), srv.UUID, other.UUID)
	require.NoError(e, err)
	require.Equal(e, e.item(snap, "10").Epoch+1, i10.Epoch, "the first grant of a new item")

	// Remove 10 and 11, give 1 a parameter.
	defs2 := []string{"0:{TYPE=A,KIND=1}", "1:{X}", "2", "a"}
	snap2, err := s.BuildItems(e.ctx, e.name, srv.UUID, snap.Mark, defs2)
	require.NoError(e, err)
	assert.Equal(e, defs2, snap2.Mark.Defs)
	assert.NotEqual(e, snap.Mark.Version, snap2.Mark.Version, "mark version after a rebuild")
	assert.Equal(e, []schedule.ItemID{"0", "1", "2", "10", "11", "a"}, itemIDs(snap2), "removed items are kept")
	r10 := e.item(snap2, "10")
	assert.Equal(e, schedule.ItemRemoved, r10.Sts)
	assert.Equal(e, srv.UUID, r10.CurServer, "a removed item keeps its owner")
	assert.Equal(e, other.UUID, r10.ReqServer, "a removed item keeps its requested owner")
	assert.Equal(e, i10.Epoch, r10.Epoch, "a removed item keeps its epoch")
	assert.Equal(e, schedule.ItemRemoved, e.item(snap2, "11").Sts)
	p1 := e.item(snap2, "1")
	assert.Equal(e, "X", p1.Parameter)
	assert.Equal(e, schedule.ItemActive, p1.Sts)
	assert.NotEqual(e, e.item(snap, "1").Version, p1.Version, "a changed item keeps its version")
	assert.Equal(e, i0, e.item(snap2, "0"), "an unchanged item was rewritten")
	assert.Equal(e, e.item(snap, "2"), e.item(snap2, "2"), "an unchanged item was rewritten")
	assert.Equal(e, snap2, e.items(s, e.name))

	// The owner releases the removed item; re-adding it keeps the epoch going.
	_, err = s.UpdateItem(e.ctx, e.name, srv.UUID, r10, "", "")
	require.NoError(e, err)
	defs3 := append(defs2, "10")
	snap3, err := s.BuildItems(e.ctx, e.name, srv.UUID, snap2.Mark, defs3)
	require.NoError(e, err)
	a10 := e.item(snap3, "10")
	assert.Equal(e, schedule.ItemActive, a10.Sts, "re-added item")
	assert.Equal(e, i10.Epoch, a10.Epoch, "re-added item")
	assert.Equal(e, schedule.ItemRemoved, e.item(snap3, "11").Sts)
	g10, err := s.UpdateItem(e.ctx, e.name, srv.UUID, a10, other.UUID, "")
	require.NoError(e, err)
	assert.Equal(e, i10.Epoch+1, g10.Epoch, "the epoch of a re-added item continues")

	// Invalid definitions: nothing written.
	cur := e.items(s, e.name)
	for _, bad := range [][]string{{"1:{A"}, {"1", "1"}, {"a/b"}, {"x y"}} {
		_, err := s.BuildItems(e.ctx, e.name, srv.UUID, cur.Mark, bad)
		require.ErrorIs(e, err, schedule.ErrInvalid, "defs %q", bad)
	}
	assert.Equal(e, cur, e.items(s, e.name), "an invalid build wrote")

	// A rebuild with the same definitions rewrites the mark only.
	snap4, err := s.BuildItems(e.ctx, e.name, other.UUID, cur.Mark, defs3)
	require.NoError(e, err)
	assert.Equal(e, other.UUID, snap4.Mark.Leader)
	assert.Equal(e, cur.Items, snap4.Items, "a rebuild with the same definitions changed items")
}

// testItemsBuildConflicts: BuildItems is compare-and-set on the mark and
// guarded by a live server of the runtime: a stale mark, a gone guard, a
// guard of another runtime fail with ErrConflict and write nothing; of two
// concurrent builds from one snapshot exactly one wins.
func testItemsBuildConflicts(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	srvA := e.registerServer(a, e.name, "10.0.0.1")
	srvB := e.registerServer(b, e.name, "10.0.0.2")
	srvX := e.registerServer(b, e.name+"$X", "10.0.0.2")

	first := e.build(a, e.name, srvA.UUID, "0", "1")
	second, err := a.BuildItems(e.ctx, e.name, srvA.UUID, first.Mark, []string{"0", "1", "2"})
	require.NoError(e, err)
	_, err = b.BuildItems(e.ctx, e.name, srvB.UUID, first.Mark, []string{"0"})
	require.ErrorIs(e, err, schedule.ErrConflict, "stale mark")
	assert.Equal(e, second, e.items(b, e.name), "a stale build wrote")

	for round := range 3 {
		cur := e.items(a, e.name)
		da := []string{"0", "1", fmt.Sprint(10 + round)}
		db := []string{"0", fmt.Sprint(20 + round)}
		var snaps [2]schedule.Items
		errs := race(
			func() (err error) { snaps[0], err = a.BuildItems(e.ctx, e.name, srvA.UUID, cur.Mark, da); return err },
			func() (err error) { snaps[1], err = b.BuildItems(e.ctx, e.name, srvB.UUID, cur.Mark, db); return err },
		)
		w := e.oneWinner(errs, "concurrent BuildItems")
		got := e.items(a, e.name)
		assert.Equal(e, snaps[w], got, "round %d: stored items are not the winner's", round)
		assert.Equal(e, [][]string{da, db}[w], got.Mark.Defs)
	}

	cur := e.items(a, e.name)
	require.NoError(e, b.UnregisterServer(e.ctx, e.name, srvB.UUID))
	_, err = b.BuildItems(e.ctx, e.name, srvB.UUID, cur.Mark, []string{"5"})
	require.ErrorIs(e, err, schedule.ErrConflict, "guard unregistered")
	_, err = b.BuildItems(e.ctx, e.name, srvX.UUID, cur.Mark, []string{"5"})
	require.ErrorIs(e, err, schedule.ErrConflict, "guard of another runtime")
	assert.Equal(e, cur, e.items(a, e.name), "a refused build wrote")
}

// testItemEpochs: UpdateItem is compare-and-set on the item's version; the
// epoch grows by one exactly when the item is granted to a server that is
// not its current owner, from the epoch floor the item was created with.
func testItemEpochs(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	A := e.registerServer(s, e.name, "10.0.0.1").UUID
	B := e.registerServer(s, e.name, "10.0.0.2").UUID
	snap := e.build(s, e.name, A, "0", "1")
	it := e.item(snap, "0")
	floor := it.Epoch

	steps := []struct {
		what      string
		cur, req  schedule.ServerID
		wantEpoch int64 // above the floor
	}{
		{"grant to A", A, "", 1},
		{"request B", A, B, 1},
		{"re-grant to A", A, "", 1},
		{"release", "", B, 1},
		{"grant to A after release", A, "", 2},
		{"move to B", B, "", 3},
		{"move back to A", A, A, 4},
	}
	var history []schedule.Item
	for _, st := range steps {
		got, err := s.UpdateItem(e.ctx, e.name, A, it, st.cur, st.req)
		require.NoError(e, err, st.what)
		assert.Equal(e, floor+st.wantEpoch, got.Epoch, "epoch after %s", st.what)
		assert.Equal(e, st.cur, got.CurServer, st.what)
		assert.Equal(e, st.req, got.ReqServer, st.what)
		assert.Equal(e, it.ID, got.ID, st.what)
		assert.Equal(e, it.Sts, got.Sts, st.what)
		assert.Equal(e, it.Parameter, got.Parameter, st.what)
		assert.NotEqual(e, it.Version, got.Version, "version after %s", st.what)
		assert.Equal(e, got, e.item(e.items(s, e.name), "0"), "UpdateItem result differs from Items after %s", st.what)
		history = append(history, it)
		it = got
	}
	for _, stale := range history {
		_, err := s.UpdateItem(e.ctx, e.name, A, stale, B, "")
		require.ErrorIs(e, err, schedule.ErrConflict, "update from stale version %d", stale.Version)
	}
	assert.Equal(e, it, e.item(e.items(s, e.name), "0"), "a stale update wrote")
	assert.Equal(e, e.item(snap, "1"), e.item(e.items(s, e.name), "1"), "another item changed")

	_, err := s.UpdateItem(e.ctx, e.name, A, schedule.Item{ID: "nope"}, A, "")
	require.ErrorIs(e, err, schedule.ErrNotFound, "unknown item")
	_, err = s.UpdateItem(e.ctx, e.name+"$NONE", "", schedule.Item{ID: "0"}, A, "")
	require.ErrorIs(e, err, schedule.ErrNotFound, "item of an unknown runtime")
}

// testItemFencing: once the guard's session has expired, its UpdateItem and
// BuildItems fail with ErrConflict, from its own client and from any other;
// an empty guard skips the check.
func testItemFencing(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	srvA := e.registerServer(a, e.name, "10.0.0.1")
	srvB := e.registerServer(b, e.name, "10.0.0.2")
	snap := e.build(a, e.name, srvA.UUID, "0", "1")
	it, err := a.UpdateItem(e.ctx, e.name, srvA.UUID, e.item(snap, "0"), srvA.UUID, "")
	require.NoError(e, err)
	old := e.session(a)

	e.h.Expire(e.T, a)
	e.eventually("the expired guard's node vanishes", func() error {
		servers, err := b.Servers(e.ctx, e.name)
		if err != nil {
			return err
		}
		if len(servers) != 1 {
			return fmt.Errorf("servers %v", serverIDs(servers))
		}
		return nil
	})
	cur := e.items(b, e.name)
	_, err = b.UpdateItem(e.ctx, e.name, srvA.UUID, it, srvB.UUID, "")
	require.ErrorIs(e, err, schedule.ErrConflict, "UpdateItem guarded by an expired server")
	_, err = b.BuildItems(e.ctx, e.name, srvA.UUID, cur.Mark, []string{"0"})
	require.ErrorIs(e, err, schedule.ErrConflict, "BuildItems guarded by an expired server")
	e.newSession(a, old)
	_, err = a.UpdateItem(e.ctx, e.name, srvA.UUID, it, "", "")
	require.ErrorIs(e, err, schedule.ErrConflict, "the expired owner's own release")
	assert.Equal(e, cur, e.items(b, e.name), "a fenced write went through")

	got, err := b.UpdateItem(e.ctx, e.name, srvB.UUID, it, srvB.UUID, "")
	require.NoError(e, err, "takeover guarded by a live server")
	assert.Equal(e, it.Epoch+1, got.Epoch)
	got, err = b.UpdateItem(e.ctx, e.name, "", got, "", "")
	require.NoError(e, err, "unguarded update")
	assert.Equal(e, it.Epoch+1, got.Epoch)
}

// testItemConcurrentUpdate: several goroutines on two clients update one
// item from the same version at once: exactly one wins per version.
func testItemConcurrentUpdate(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	stores := []storekit.Store{a, b}
	ids := []schedule.ServerID{
		e.registerServer(a, e.name, "10.0.0.1").UUID,
		e.registerServer(b, e.name, "10.0.0.2").UUID,
	}
	e.build(a, e.name, ids[0], "0")
	const writers = 6
	// Each writer requests the item for a server of its own (a requested
	// server must exist), so the stored item tells which writer won.
	reqs := make([]schedule.ServerID, writers)
	for i := range reqs {
		reqs[i] = e.registerServer(a, e.name, fmt.Sprintf("10.0.1.%d", i)).UUID
	}
	for round := range 5 {
		it := e.item(e.items(a, e.name), "0")
		fns := make([]func() error, writers)
		results := make([]schedule.Item, writers)
		for i := range fns {
			s, id := stores[i%2], ids[(i/2)%2]
			fns[i] = func() (err error) {
				results[i], err = s.UpdateItem(e.ctx, e.name, id, it, id, reqs[i])
				return err
			}
		}
		w := e.oneWinner(race(fns...), "concurrent UpdateItem")
		got := e.item(e.items(b, e.name), "0")
		assert.Equal(e, results[w], got, "round %d: stored item is not the winner's", round)
		want := it.Epoch
		if got.CurServer != it.CurServer {
			want++
		}
		assert.Equal(e, want, got.Epoch, "round %d", round)
	}
}

// testItemDesc: SetItemDesc rewrites an item's description and keeps its
// owner, requested owner and epoch.
func testItemDesc(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	srv := e.registerServer(s, e.name, "10.0.0.1")
	snap := e.build(s, e.name, srv.UUID, "0", "1")
	it, err := s.UpdateItem(e.ctx, e.name, srv.UUID, e.item(snap, "0"), srv.UUID, schedule.NoServer)
	require.NoError(e, err)
	require.NoError(e, s.SetItemDesc(e.ctx, e.name, "0", "FetchDataCount=3 说明"))
	got := e.item(e.items(s, e.name), "0")
	assert.Equal(e, "FetchDataCount=3 说明", got.DealDesc)
	assert.Equal(e, it.CurServer, got.CurServer)
	assert.Equal(e, it.ReqServer, got.ReqServer)
	assert.Equal(e, it.Epoch, got.Epoch)
	assert.Equal(e, it.Sts, got.Sts)
	next, err := s.UpdateItem(e.ctx, e.name, srv.UUID, got, srv.UUID, "")
	require.NoError(e, err, "UpdateItem with the version read after SetItemDesc")
	assert.Equal(e, it.Epoch, next.Epoch)
	assert.Equal(e, "FetchDataCount=3 说明", e.item(e.items(s, e.name), "0").DealDesc, "UpdateItem dropped the description")
	assert.Equal(e, e.item(snap, "1"), e.item(e.items(s, e.name), "1"), "SetItemDesc touched another item")
	require.ErrorIs(e, s.SetItemDesc(e.ctx, e.name, "9", "x"), schedule.ErrNotFound)
}

// testItemsStamp: the items stamp is what Items and BuildItems report, stays
// put while nothing is written (heartbeats and registrations included), moves
// with every item or mark write, never repeats, also not after the runtime
// is deleted and built again, and is the same for every client.
func testItemsStamp(e *env) {
	s, other := e.client(), e.client()
	e.createTaskType(s, e.name)
	srv := e.registerServer(s, e.name, "10.0.0.1")
	assert.Empty(e, e.items(s, e.name).Stamp, "a runtime never built has the empty stamp")

	stamp := func() schedule.ItemsStamp {
		e.Helper()
		st, err := s.ItemsStamp(e.ctx, e.name)
		require.NoError(e, err)
		// Another client may be connected to a replica that has not yet
		// applied the write (ZooKeeper orders each client's view, it does
		// not make replicas agree at once): it must come to the same stamp.
		require.Eventually(e, func() bool {
			st2, err := other.ItemsStamp(e.ctx, e.name)
			return err == nil && st2 == st
		}, 10*time.Second, time.Millisecond, "another client never comes to the stamp %q", st)
		return st
	}
	seen := map[schedule.ItemsStamp]string{}
	moved := func(what string) schedule.ItemsStamp {
		e.Helper()
		st := stamp()
		require.NotEmpty(e, st, "stamp after %s", what)
		if prev, ok := seen[st]; ok {
			e.Errorf("stamp %q after %s repeats the one after %s", st, what, prev)
		}
		seen[st] = what
		return st
	}

	snap := e.build(s, e.name, srv.UUID, "0", "1", "2")
	st := moved("the first build")
	assert.Equal(e, st, snap.Stamp, "BuildItems returns the current stamp")
	assert.Equal(e, st, e.items(other, e.name).Stamp, "Items returns the current stamp")

	// Nothing written to the items: the stamp stays.
	srv.HeartBeatTime = schedule.Time{Time: srv.HeartBeatTime.Add(time.Second)}
	require.NoError(e, s.UpdateServer(e.ctx, srv))
	e.registerServer(other, e.name, "10.0.0.2")
	_ = e.items(s, e.name)
	assert.Equal(e, st, stamp(), "heartbeats, registrations and reads moved the stamp")

	it, err := s.UpdateItem(e.ctx, e.name, srv.UUID, e.item(snap, "0"), srv.UUID, "")
	require.NoError(e, err)
	after := e.items(s, e.name)
	assert.Equal(e, moved("UpdateItem"), after.Stamp, "Items after UpdateItem carries the new stamp")
	assert.Equal(e, it, e.item(after, "0"))
	stale := e.item(snap, "1")
	_, err = s.UpdateItem(e.ctx, e.name, "", stale, srv.UUID, "")
	require.NoError(e, err)
	moved("an unguarded UpdateItem")
	require.NoError(e, s.SetItemDesc(e.ctx, e.name, "2", "note"))
	moved("SetItemDesc")
	cur := e.items(s, e.name)
	snap, err = s.BuildItems(e.ctx, e.name, srv.UUID, cur.Mark, []string{"0", "1", "2"})
	require.NoError(e, err)
	st = moved("a rebuild with the same items (the mark only)")
	assert.Equal(e, st, snap.Stamp)
	_, err = s.UpdateItem(e.ctx, e.name, srv.UUID, stale, "", "")
	require.ErrorIs(e, err, schedule.ErrConflict, "a stale UpdateItem")
	assert.Equal(e, st, stamp(), "a failed write moved the stamp")

	// Delete the runtime and build it again: no earlier stamp comes back.
	servers, err := s.Servers(e.ctx, e.name)
	require.NoError(e, err)
	for _, sv := range servers {
		require.NoError(e, s.UnregisterServer(e.ctx, e.name, sv.UUID))
	}
	require.NoError(e, s.DeleteRuntime(e.ctx, e.name))
	srv = e.registerServer(s, e.name, "10.0.0.1")
	e.build(s, e.name, srv.UUID, "0")
	moved("deleting and building the runtime again")
}
