package storetest

import (
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// The epoch of an item is a fencing token that a data store compares with
// the highest it has seen for the item: it must never restart, however the
// item's node comes and goes. These subtests grant items, delete them in
// each way the contract allows, create them again and grant them again,
// over several rounds, and check that every grant's epoch is larger than
// every epoch handed out for that item before.

// epochRounds is how many times each subtest deletes and re-creates.
const epochRounds = 3

// grantAll grants every active item of snap to each of owners in turn
// (guarded by guard) and checks that each grant's epoch is larger than
// every epoch seen for the item so far, recorded in highest.
func (e *env) grantAll(s storekit.Store, rt string, guard schedule.ServerID, snap schedule.Items, highest map[schedule.ItemID]int64, round int, owners ...schedule.ServerID) {
	e.Helper()
	for _, it := range snap.Items {
		if it.Sts != schedule.ItemActive {
			continue
		}
		for _, owner := range owners {
			got, err := s.UpdateItem(e.ctx, rt, guard, it, owner, "")
			require.NoError(e, err, "round %d: grant item %s to %s", round, it.ID, owner)
			if prev, ok := highest[it.ID]; ok {
				assert.Greater(e, got.Epoch, prev, "round %d: the grant of item %s to %s has an epoch not above one handed out before", round, it.ID, owner)
			}
			highest[it.ID] = max(highest[it.ID], got.Epoch)
			it = got
		}
	}
}

// testEpochsAfterTaskTypeDelete: deleting a task type (its runtimes,
// servers and items with it) and creating it again does not restart the
// epochs of its items.
func testEpochsAfterTaskTypeDelete(e *env) {
	s := e.client()
	highest := map[schedule.ItemID]int64{}
	for round := range epochRounds {
		e.createTaskType(s, e.name)
		A := e.registerServer(s, e.name, "10.0.0.1").UUID
		B := e.registerServer(s, e.name, "10.0.0.2").UUID
		snap := e.build(s, e.name, A, "0", "1", "2")
		e.grantAll(s, e.name, A, snap, highest, round, A, B, A)
		_, v, err := s.TaskType(e.ctx, e.name)
		require.NoError(e, err)
		require.NoError(e, s.DeleteTaskType(e.ctx, e.name, v), "round %d", round)
		require.Empty(e, e.items(s, e.name).Items, "round %d: items after DeleteTaskType", round)
	}
	require.Len(e, highest, 3)
}

// testEpochsAfterRuntimeDelete: deleting an ownSign runtime (as a leader
// does once it has expired) and using the ownSign again, built by its
// servers or by an operator (no guard) before any registers, does not
// restart the epochs of its items, nor touch those of another runtime. An
// unguarded build of a task type that does not exist is ErrNotFound.
func testEpochsAfterRuntimeDelete(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	rt := e.name + "$EPOCH"
	keep := e.registerServer(s, e.name, "10.0.0.9").UUID
	kept := e.grantFirst(s, e.name, keep, e.build(s, e.name, keep, "0"))

	highest := map[schedule.ItemID]int64{}
	for round := range epochRounds {
		var snap schedule.Items
		if round%2 == 1 {
			// An operator's build (no guard) of the runtime that is gone.
			var err error
			snap, err = s.BuildItems(e.ctx, rt, "", schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"0", "1", "2"})
			require.NoError(e, err, "round %d: unguarded build of a deleted runtime", round)
		}
		A := e.registerServer(s, rt, "10.0.0.1").UUID
		B := e.registerServer(s, rt, "10.0.0.2").UUID
		if round%2 == 0 {
			snap = e.build(s, rt, A, "0", "1", "2")
		}
		e.grantAll(s, rt, A, snap, highest, round, B, A)
		for _, id := range []schedule.ServerID{A, B} {
			require.NoError(e, s.UnregisterServer(e.ctx, rt, id))
		}
		require.NoError(e, s.DeleteRuntime(e.ctx, rt), "round %d", round)
		require.Empty(e, e.items(s, rt).Items, "round %d: items after DeleteRuntime", round)
	}
	require.Len(e, highest, 3)
	assert.Equal(e, kept, e.item(e.items(s, e.name), "0"), "deleting %s changed an item of %s", rt, e.name)
	_, err := s.BuildItems(e.ctx, e.name+"x$EPOCH", "", schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"0"})
	require.ErrorIs(e, err, schedule.ErrNotFound, "unguarded build without the task type")
}

// grantFirst grants the first item of snap to owner and returns it.
func (e *env) grantFirst(s storekit.Store, rt string, owner schedule.ServerID, snap schedule.Items) schedule.Item {
	e.Helper()
	require.NotEmpty(e, snap.Items)
	got, err := s.UpdateItem(e.ctx, rt, owner, snap.Items[0], owner, "")
	require.NoError(e, err)
	return got
}

// testEpochsAfterItemRemoval: items removed from the item list (released
// by their owner, or still owned) and added back later continue their
// epochs.
func testEpochsAfterItemRemoval(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	A := e.registerServer(s, e.name, "10.0.0.1").UUID
	B := e.registerServer(s, e.name, "10.0.0.2").UUID
	all := []string{"0", "1", "2"}
	snap := e.build(s, e.name, A, all...)
	highest := map[schedule.ItemID]int64{}
	for round := range epochRounds {
		e.grantAll(s, e.name, A, snap, highest, round, A, B)
		// Remove 1 and 2; the owner releases 1 and keeps 2 for now.
		cur, err := s.BuildItems(e.ctx, e.name, A, e.items(s, e.name).Mark, all[:1])
		require.NoError(e, err, "round %d: remove items", round)
		removed := e.item(cur, "1")
		require.Equal(e, schedule.ItemRemoved, removed.Sts)
		_, err = s.UpdateItem(e.ctx, e.name, A, removed, "", "")
		require.NoError(e, err, "round %d: release a removed item", round)
		snap, err = s.BuildItems(e.ctx, e.name, A, e.items(s, e.name).Mark, all)
		require.NoError(e, err, "round %d: add the items back", round)
	}
	require.Len(e, highest, 3)
}
