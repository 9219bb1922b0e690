package storetest

import (
	"fmt"
	"strings"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// noteItems returns, per note of a box, its writer and items, as
// "by:item,item".
func (e *env) noteItems(s storekit.Store, rt string, box schedule.ServerID) []string {
	e.Helper()
	notes, err := s.Notes(e.ctx, rt, box)
	require.NoError(e, err, "Notes %s", box)
	var out []string
	for i, n := range notes {
		if i > 0 {
			require.Less(e, notes[i-1].Name, n.Name, "notes in the order written")
		}
		out = append(out, fmt.Sprintf("%s:%v", n.By, n.Items))
	}
	return out
}

// consume deletes every note of a box.
func (e *env) consume(s storekit.Store, rt string, box schedule.ServerID) {
	e.Helper()
	notes, err := s.Notes(e.ctx, rt, box)
	require.NoError(e, err)
	var names []string
	for _, n := range notes {
		names = append(names, n.Name)
	}
	require.NoError(e, s.DeleteNotes(e.ctx, rt, "", box, names))
}

// testItemNotes: item writes leave one note per batch in the box of each
// server they concern (the old owner when owner or request changes, the new
// owner when the owner changes) and in the leader's box; notes read back in
// order, are deleted by name, and whole boxes are deleted and come back
// with the next note.
func testItemNotes(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	A := e.registerServer(s, e.name, "10.0.0.1").UUID
	B := e.registerServer(s, e.name, "10.0.0.2").UUID
	snap := e.build(s, e.name, A, "0", "1", "2", "3", "4")
	notes, err := s.Notes(e.ctx, e.name, A)
	require.NoError(e, err)
	assert.Empty(e, notes, "a box never written to")

	res, err := s.UpdateItems(e.ctx, e.name, A, []storekit.ItemUpdate{
		{Old: e.item(snap, "2"), Cur: A}, {Old: e.item(snap, "0"), Cur: A}, {Old: e.item(snap, "3"), Cur: B},
	})
	require.NoError(e, err)
	require.Len(e, res, 3)
	for i, want := range []schedule.ItemID{"2", "0", "3"} {
		require.NoError(e, res[i].Err, "update %d", i)
		assert.Equal(e, want, res[i].Item.ID, "results in the order of the updates")
		assert.Equal(e, e.item(snap, want).Epoch+1, res[i].Item.Epoch, "a grant raises the epoch")
	}
	assert.Equal(e, res[0].Item, e.item(e.items(s, e.name), "2"), "the result is the stored item")
	assert.Equal(e, []string{string(A) + ":[0 2]"}, e.noteItems(s, e.name, A))
	assert.Equal(e, []string{string(A) + ":[3]"}, e.noteItems(s, e.name, B))
	assert.Equal(e, []string{string(A) + ":[0 2 3]"}, e.noteItems(s, e.name, storekit.LeaderBox))

	// A request concerns the owner; the handover the owner and the next.
	e.consume(s, e.name, A)
	e.consume(s, e.name, B)
	r0, err := s.UpdateItem(e.ctx, e.name, A, res[1].Item, A, B)
	require.NoError(e, err)
	assert.Equal(e, []string{string(A) + ":[0]"}, e.noteItems(s, e.name, A), "request")
	assert.Empty(e, e.noteItems(s, e.name, B), "a request does not concern the requested server")
	_, err = s.UpdateItem(e.ctx, e.name, "", r0, B, "")
	require.NoError(e, err)
	assert.Equal(e, []string{string(A) + ":[0]", ":[0]"}, e.noteItems(s, e.name, A), "handover, unguarded")
	assert.Equal(e, []string{":[0]"}, e.noteItems(s, e.name, B), "handover")
	assert.Len(e, e.noteItems(s, e.name, storekit.LeaderBox), 3, "every write leaves a note for the leader")

	boxes, err := s.NoteBoxes(e.ctx, e.name)
	require.NoError(e, err)
	assert.ElementsMatch(e, []schedule.ServerID{A, B, storekit.LeaderBox}, boxes)
	assert.IsIncreasing(e, boxes, "sorted")

	// Deleting by name, missing names skipped; deleting a whole box.
	notes, err = s.Notes(e.ctx, e.name, A)
	require.NoError(e, err)
	require.ErrorIs(e, s.DeleteNotes(e.ctx, e.name, "", A, []string{"a/b"}), schedule.ErrInvalid, "a note name with a slash")
	require.NoError(e, s.DeleteNotes(e.ctx, e.name, A, A, []string{notes[0].Name, notes[0].Name + "0"}))
	assert.Equal(e, []string{":[0]"}, e.noteItems(s, e.name, A))
	require.NoError(e, s.DeleteNotes(e.ctx, e.name, A, B, nil))
	require.NoError(e, s.DeleteNotes(e.ctx, e.name, "", B, nil), "deleting a missing box")
	boxes, err = s.NoteBoxes(e.ctx, e.name)
	require.NoError(e, err)
	assert.NotContains(e, boxes, B)
	_, err = s.UpdateItem(e.ctx, e.name, A, e.item(e.items(s, e.name), "4"), B, "")
	require.NoError(e, err, "a write to a deleted box")
	assert.Equal(e, []string{string(A) + ":[4]"}, e.noteItems(s, e.name, B), "the box is back")
}

// testUpdateItems: a stale or missing item is left out of a batch with
// ErrConflict or ErrNotFound, the rest is written; a gone guard fails the
// whole call with ErrConflict and writes nothing; a large batch is written
// whole; ItemsByID reads only what it names.
func testUpdateItems(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	A := e.registerServer(s, e.name, "10.0.0.1").UUID
	gone := e.registerServer(s, e.name, "10.0.0.2").UUID
	defs := make([]string, 300)
	for i := range defs {
		defs[i] = fmt.Sprint(i)
	}
	snap := e.build(s, e.name, A, defs...)
	stale := e.item(snap, "1")
	_, err := s.UpdateItem(e.ctx, e.name, A, stale, A, "")
	require.NoError(e, err)

	res, err := s.UpdateItems(e.ctx, e.name, A, []storekit.ItemUpdate{
		{Old: e.item(snap, "0"), Cur: A}, {Old: stale, Cur: A}, {Old: schedule.Item{ID: "nope", Version: 0}, Cur: A}, {Old: e.item(snap, "2"), Cur: A},
	})
	require.NoError(e, err)
	require.Len(e, res, 4)
	assert.NoError(e, res[0].Err)
	assert.ErrorIs(e, res[1].Err, schedule.ErrConflict, "stale item")
	assert.ErrorIs(e, res[2].Err, schedule.ErrNotFound, "missing item")
	assert.NoError(e, res[3].Err)
	got, err := s.ItemsByID(e.ctx, e.name, []schedule.ItemID{"2", "nope", "0"})
	require.NoError(e, err)
	assert.Equal(e, []schedule.Item{res[0].Item, res[3].Item}, got.Items, "ItemsByID: sorted, missing left out")
	assert.Equal(e, snap.Mark, got.Mark, "ItemsByID reads the mark")
	assert.Empty(e, got.Stamp)

	require.NoError(e, s.UnregisterServer(e.ctx, e.name, gone))
	_, err = s.UpdateItems(e.ctx, e.name, gone, []storekit.ItemUpdate{{Old: e.item(snap, "3"), Cur: gone}})
	require.ErrorIs(e, err, schedule.ErrConflict, "guard gone")
	assert.Equal(e, e.item(snap, "3"), e.item(e.items(s, e.name), "3"), "nothing written without the guard")
	kept := e.noteItems(s, e.name, A)
	require.NotEmpty(e, kept)
	require.ErrorIs(e, s.DeleteNotes(e.ctx, e.name, gone, A, nil), schedule.ErrConflict, "DeleteNotes, guard gone")
	notes, err := s.Notes(e.ctx, e.name, A)
	require.NoError(e, err)
	require.ErrorIs(e, s.DeleteNotes(e.ctx, e.name, gone, A, []string{notes[0].Name}), schedule.ErrConflict, "DeleteNotes, guard gone")
	assert.Equal(e, kept, e.noteItems(s, e.name, A), "nothing deleted without the guard")

	e.consume(s, e.name, A)
	var ups []storekit.ItemUpdate
	for _, it := range e.items(s, e.name).Items {
		ups = append(ups, storekit.ItemUpdate{Old: it, Cur: A, Req: schedule.NoServer})
	}
	res, err = s.UpdateItems(e.ctx, e.name, A, ups)
	require.NoError(e, err)
	after := e.items(s, e.name)
	for i, r := range res {
		require.NoError(e, r.Err, "item %s", ups[i].Old.ID)
		require.Equal(e, r.Item, e.item(after, r.Item.ID))
		require.Equal(e, schedule.NoServer, r.Item.ReqServer)
	}
	notes, err = s.Notes(e.ctx, e.name, A)
	require.NoError(e, err)
	noted := map[schedule.ItemID]bool{}
	for _, nt := range notes {
		for _, id := range nt.Items {
			noted[id] = true
		}
	}
	assert.Len(e, noted, len(ups), "every item granted to or requested of A is in A's notes")
}

// testGranteeGone: a write that grants an item to (or requests it for) a
// server other than the guard whose node does not exist (it stopped, or its
// session ended, after the writer read the servers) fails with ErrConflict
// and writes nothing, guarded or not; in UpdateItems only those updates
// fail, the others are written. A release by an owner whose node is gone,
// and a write that keeps a gone owner or request as it is, still go
// through: only what the write newly names must be live. A grantee that is
// not a server id is invalid input.
func testGranteeGone(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	A := e.registerServer(s, e.name, "10.0.0.1").UUID
	B := e.registerServer(s, e.name, "10.0.0.2").UUID
	G := e.registerServer(s, e.name, "10.0.0.3").UUID
	snap := e.build(s, e.name, A, "0", "1", "2", "3", "4", "5")
	owned, err := s.UpdateItem(e.ctx, e.name, A, e.item(snap, "5"), G, "")
	require.NoError(e, err, "grant to G while it is live")
	require.NoError(e, s.UnregisterServer(e.ctx, e.name, G))
	never := schedule.ServerID(strings.Replace(string(G), "$10.0.0.3$", "$10.0.0.9$", 1))
	require.NoError(e, schedule.ValidateName(schedule.NameServerID, string(never)))

	nothingWritten := func(what string, before schedule.Items, leaderNotes []string) {
		e.Helper()
		after := e.items(s, e.name)
		assert.Equal(e, before.Items, after.Items, "%s: an item was written", what)
		stamp, err := s.ItemsStamp(e.ctx, e.name)
		require.NoError(e, err)
		assert.Equal(e, before.Stamp, stamp, "%s: the items stamp moved", what)
		assert.Equal(e, leaderNotes, e.noteItems(s, e.name, storekit.LeaderBox), "%s: a note was written", what)
	}
	before, notes := e.items(s, e.name), e.noteItems(s, e.name, storekit.LeaderBox)
	for _, c := range []struct {
		what     string
		guard    schedule.ServerID
		cur, req schedule.ServerID
	}{
		{"guarded grant to a gone server", A, G, ""},
		{"unguarded grant to a gone server", "", G, ""},
		{"grant to a server that never was", A, never, ""},
		{"request for a gone server", A, "", G},
		{"grant to a live server, request for a gone one", A, B, G},
	} {
		_, err := s.UpdateItem(e.ctx, e.name, c.guard, e.item(before, "0"), c.cur, c.req)
		require.ErrorIs(e, err, schedule.ErrConflict, c.what)
		assert.NotErrorIs(e, err, schedule.ErrNotFound, "%s: the item is there", c.what)
		nothingWritten(c.what, before, notes)
	}
	_, err = s.UpdateItem(e.ctx, e.name, A, e.item(before, "0"), "not-a-server", "")
	require.ErrorIs(e, err, schedule.ErrInvalid, "a grantee that is not a server id")
	nothingWritten("invalid grantee", before, notes)

	// One batch: the grants to live servers are written, those to G fail.
	res, err := s.UpdateItems(e.ctx, e.name, A, []storekit.ItemUpdate{
		{Old: e.item(before, "0"), Cur: B},
		{Old: e.item(before, "1"), Cur: G},
		{Old: e.item(before, "2"), Cur: A},
		{Old: e.item(before, "3"), Cur: B, Req: G},
		{Old: e.item(before, "4"), Cur: never},
	})
	require.NoError(e, err, "one gone grantee does not fail the call")
	require.Len(e, res, 5)
	for _, i := range []int{1, 3, 4} {
		assert.ErrorIs(e, res[i].Err, schedule.ErrConflict, "update %d grants to a gone server", i)
	}
	require.NoError(e, res[0].Err)
	require.NoError(e, res[2].Err)
	after := e.items(s, e.name)
	assert.Equal(e, B, e.item(after, "0").CurServer)
	assert.Equal(e, A, e.item(after, "2").CurServer)
	for _, id := range []schedule.ItemID{"1", "3", "4"} {
		assert.Equal(e, e.item(before, id), e.item(after, id), "item %s was written", id)
	}
	assert.Equal(e, []schedule.Item{res[0].Item, res[2].Item}, []schedule.Item{e.item(after, "0"), e.item(after, "2")})

	// What names no new server goes through: G's own release (after its
	// node is gone, as a graceful stop does) and a write keeping G as it is.
	kept, err := s.UpdateItem(e.ctx, e.name, A, owned, G, schedule.NoServer)
	require.NoError(e, err, "a request to let go, the gone owner kept")
	assert.Equal(e, owned.Epoch, kept.Epoch)
	released, err := s.UpdateItem(e.ctx, e.name, "", kept, "", "")
	require.NoError(e, err, "the gone owner's release to nobody")
	assert.Empty(e, released.CurServer)
	granted, err := s.UpdateItem(e.ctx, e.name, B, released, B, "")
	require.NoError(e, err, "a grant by the grantee itself")
	assert.Equal(e, owned.Epoch+1, granted.Epoch)
}

// testWatchNotes: a notes watch, opened before its box exists, fires on
// the first note, later notes and their deletion; a mark watch fires on
// builds.
func testWatchNotes(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	A := e.registerServer(a, e.name, "10.0.0.1").UUID
	B := e.registerServer(a, e.name, "10.0.0.2").UUID
	notes, err := b.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchNotes, Name: e.name, Server: B})
	require.NoError(e, err)
	mark := e.watch(b, storekit.WatchMark, e.name)
	var snap schedule.Items
	e.step(mark, "first build", func() (err error) {
		snap, err = a.BuildItems(e.ctx, e.name, A, schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"0", "1"})
		return err
	})
	var it schedule.Item
	e.step(notes, "first note", func() (err error) {
		it, err = a.UpdateItem(e.ctx, e.name, A, e.item(snap, "0"), B, "")
		return err
	})
	e.step(notes, "second note", func() (err error) {
		_, err = a.UpdateItem(e.ctx, e.name, A, it, A, "")
		return err
	})
	e.step(notes, "notes consumed", func() error {
		e.consume(b, e.name, B)
		return nil
	})
	e.step(mark, "rebuild", func() error {
		_, err := a.BuildItems(e.ctx, e.name, A, e.items(a, e.name).Mark, []string{"0", "2"})
		return err
	})
	_, err = b.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchNotes, Name: e.name, Server: "a/b"})
	require.ErrorIs(e, err, schedule.ErrInvalid, "a box name that is no server id")
}
