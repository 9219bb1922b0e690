package zkstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// TestChunkedWrites: builds, runtime deletions and task type deletions too
// large for one multi go in chunks (here with a tiny limit) and end in the
// same state as one multi would.
func TestChunkedWrites(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth))
	s.maxMulti = 2 << 10 // a dozen items per multi
	ctx := ctxT(t, time.Minute)
	const n = 60
	tt := sampleTaskType("t1", n)
	_, err := s.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	srv, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)

	before := s.requestStats()
	snap, err := s.BuildItems(ctx, "t1", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
	require.NoError(t, err)
	d := s.requestStats().Sub(before)
	t.Logf("chunked first build of %d items: %s", n, d)
	assert.Greater(t, d.Multi, uint64(3), "the build was split")
	require.Len(t, snap.Items, n)
	assert.Equal(t, tt.TaskItems, snap.Mark.Defs)
	assert.Equal(t, snap, mustItems(t, s, "t1"), "the chunked build's result is what is stored")

	// A stale mark fails before any chunk is written.
	_, err = s.BuildItems(ctx, "t1", srv.UUID, schedule.ItemsMark{Version: snap.Mark.Version + 3}, tt.TaskItems[:10])
	require.ErrorIs(t, err, schedule.ErrConflict)
	assert.Equal(t, snap, mustItems(t, s, "t1"), "a stale chunked build wrote")

	// Remove half, re-parameterize one.
	defs := append([]string{"0:{P=1}"}, tt.TaskItems[1:n/2]...)
	snap2, err := s.BuildItems(ctx, "t1", srv.UUID, snap.Mark, defs)
	require.NoError(t, err)
	assert.Equal(t, snap2, mustItems(t, s, "t1"))
	removed := 0
	for _, it := range snap2.Items {
		if it.Sts == schedule.ItemRemoved {
			removed++
		}
	}
	assert.Equal(t, n/2, removed)
	assert.Equal(t, "P=1", snap2.Items[0].Parameter)

	// Bulk grants in chunks: every item written, its notes complete.
	var ups []storekit.ItemUpdate
	for _, it := range snap2.Items {
		ups = append(ups, storekit.ItemUpdate{Old: it, Cur: srv.UUID})
	}
	before = s.requestStats()
	res, err := s.UpdateItems(ctx, "t1", srv.UUID, ups)
	require.NoError(t, err)
	d = s.requestStats().Sub(before)
	t.Logf("chunked grant of %d items: %s", len(ups), d)
	assert.Greater(t, d.Multi, uint64(3), "the grant was split")
	snap2 = mustItems(t, s, "t1")
	for i, r := range res {
		require.NoError(t, r.Err)
		require.Equal(t, snap2.Items[i], r.Item)
	}
	notes, err := s.Notes(ctx, "t1", srv.UUID)
	require.NoError(t, err)
	noted := 0
	for _, n := range notes {
		noted += len(n.Items)
	}
	assert.Equal(t, len(ups), noted, "one note per chunk, every item in one")
	assert.Equal(t, int(d.Multi), len(notes))

	// DeleteRuntime in chunks: refused while a server lives, then done.
	require.ErrorIs(t, s.DeleteRuntime(ctx, "t1"), schedule.ErrNotEmpty)
	assert.Equal(t, snap2, mustItems(t, s, "t1"), "a refused chunked DeleteRuntime removed items")
	require.NoError(t, s.UnregisterServer(ctx, "t1", srv.UUID))
	before = s.requestStats()
	require.NoError(t, s.DeleteRuntime(ctx, "t1"))
	t.Logf("chunked DeleteRuntime: %s", s.requestStats().Sub(before))
	rts, err := s.Runtimes(ctx, "t1")
	require.NoError(t, err)
	assert.Empty(t, rts)

	// DeleteTaskType in chunks, with several runtimes.
	for i := range 3 {
		rt := fmt.Sprintf("t1$R%d", i)
		srv, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer(rt, "10.0.0.1"))
		require.NoError(t, err)
		_, err = s.BuildItems(ctx, rt, srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems[:20])
		require.NoError(t, err)
	}
	require.ErrorIs(t, s.DeleteTaskType(ctx, "t1", 5), schedule.ErrConflict)
	rts, err = s.Runtimes(ctx, "t1")
	require.NoError(t, err)
	assert.Len(t, rts, 3, "a stale chunked delete removed runtimes")
	before = s.requestStats()
	require.NoError(t, s.DeleteTaskType(ctx, "t1", 0))
	t.Logf("chunked DeleteTaskType: %s", s.requestStats().Sub(before))
	_, _, err = s.TaskType(ctx, "t1")
	require.ErrorIs(t, err, schedule.ErrNotFound)
}

func mustItems(t *testing.T, s *Store, rt string) schedule.Items {
	t.Helper()
	snap, err := s.Items(ctxT(t, time.Minute), rt)
	require.NoError(t, err)
	return snap
}

// TestChunkedGrantsToGoneServer: bulk grants in chunks (a tiny limit) to
// three servers, one of which is gone: only its grants fail (ErrConflict),
// every other grant is written, with its notes, in every chunk.
func TestChunkedGrantsToGoneServer(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth))
	s.maxMulti = 2 << 10
	ctx := ctxT(t, time.Minute)
	const n = 60
	tt := sampleTaskType("t1", n)
	_, err := s.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	var ids []schedule.ServerID
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		srv, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer("t1", ip))
		require.NoError(t, err)
		ids = append(ids, srv.UUID)
	}
	guard, gone := ids[0], ids[3]
	require.NoError(t, s.UnregisterServer(ctx, "t1", gone))
	snap, err := s.BuildItems(ctx, "t1", guard, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
	require.NoError(t, err)
	ups := make([]storekit.ItemUpdate, len(snap.Items))
	for i, it := range snap.Items {
		ups[i] = storekit.ItemUpdate{Old: it, Cur: ids[1+i%3]}
	}
	before := s.requestStats()
	res, err := s.UpdateItems(ctx, "t1", guard, ups)
	require.NoError(t, err)
	d := s.requestStats().Sub(before)
	t.Logf("chunked grants of %d items, a third to a gone server: %s", n, d)
	assert.Greater(t, d.Multi, uint64(3), "the grant was split")
	after := mustItems(t, s, "t1")
	noted := map[schedule.ServerID]int{}
	for i, r := range res {
		if ups[i].Cur == gone {
			require.ErrorIs(t, r.Err, schedule.ErrConflict, "grant %d to the gone server", i)
			assert.Equal(t, snap.Items[i], after.Items[i])
			continue
		}
		require.NoError(t, r.Err, "grant %d", i)
		require.Equal(t, after.Items[i], r.Item)
		noted[ups[i].Cur]++
	}
	assert.Equal(t, map[schedule.ServerID]int{ids[1]: n / 3, ids[2]: n / 3}, noted)
	for _, id := range ids[1:3] {
		notes, err := s.Notes(ctx, "t1", id)
		require.NoError(t, err)
		got := 0
		for _, nt := range notes {
			got += len(nt.Items)
		}
		assert.Equal(t, n/3, got, "every grant to %s in its notes", id)
	}
}

// TestBatchLen: a batch holds what fits in the limit, each distinct
// grantee's check counted once.
func TestBatchLen(t *testing.T) {
	g := func(id string) grantee {
		return grantee{id: schedule.ServerID(id), path: "/r/baseTaskType/t/t/server/" + id}
	}
	up := func(gs ...grantee) pendingUpdate {
		return pendingUpdate{path: "/r/baseTaskType/t/t/taskItem/1", data: make([]byte, 100),
			it: schedule.Item{ID: "1"}, grantees: gs}
	}
	a, b := g("t$1$A$1"), g("t$1$B$2")
	one, check := updateSize(up()), granteeCheckSize(a)
	for _, c := range []struct {
		name  string
		pend  []pendingUpdate
		limit int
		want  int
	}{
		{"no grantees", []pendingUpdate{up(), up(), up()}, 3 * one, 3},
		{"no grantees, a byte short", []pendingUpdate{up(), up(), up()}, 3*one - 1, 2},
		{"one grantee checked once", []pendingUpdate{up(a), up(a), up(a)}, 3*one + check, 3},
		{"one grantee, a byte short", []pendingUpdate{up(a), up(a), up(a)}, 3*one + check - 1, 2},
		{"two grantees", []pendingUpdate{up(a), up(b), up(a)}, 3*one + 2*check, 3},
		{"two grantees, a byte short", []pendingUpdate{up(a), up(b), up(a)}, 3*one + 2*check - 1, 2},
		{"grant and request", []pendingUpdate{up(a, b), up(b, a)}, 2*one + 2*check, 2},
		{"the first always goes", []pendingUpdate{up(a, b), up()}, 1, 1},
	} {
		assert.Equal(t, c.want, batchLen(c.pend, c.limit), c.name)
	}
}

// TestGranteesOf: what a write newly names, other than its guard, must be
// live: a new owner and a new request; NoServer and the guard are not checked.
func TestGranteesOf(t *testing.T) {
	const guard, x, y = "g$1$G$1", "x$1$X$1", "y$1$Y$1"
	item := func(cur, req schedule.ServerID) schedule.Item { return schedule.Item{CurServer: cur, ReqServer: req} }
	for _, c := range []struct {
		name     string
		old, new schedule.Item
		want     []schedule.ServerID
	}{
		{"grant", item("", ""), item(x, ""), []schedule.ServerID{x}},
		{"grant to the guard", item("", ""), item(guard, ""), nil},
		{"takeover", item(y, ""), item(x, ""), []schedule.ServerID{x}},
		{"owner kept", item(x, ""), item(x, schedule.NoServer), nil},
		{"request", item(x, ""), item(x, y), []schedule.ServerID{y}},
		{"request kept", item(x, y), item("", y), nil},
		{"grant and request", item("", ""), item(x, y), []schedule.ServerID{x, y}},
		{"grant and request of one server", item("", ""), item(x, x), []schedule.ServerID{x}},
		{"release", item(x, y), item("", ""), nil},
	} {
		assert.Equal(t, c.want, granteesOf(c.old, c.new, guard), c.name)
	}
}

// TestUpdateItemsManyConflicts: a batch in which several items moved since
// the caller read them writes every other update in the same call, and
// finds the stale ones together: ZooKeeper names only the first failed op
// of a multi, and one more multi per conflict made a batch of hundreds of
// grants take a second or more while servers joined.
func TestUpdateItemsManyConflicts(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth))
	ctx := ctxT(t, time.Minute)
	const n = 30
	tt := sampleTaskType("t1", n)
	_, err := s.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	var ids []schedule.ServerID
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		srv, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer("t1", ip))
		require.NoError(t, err)
		ids = append(ids, srv.UUID)
	}
	guard, gone := ids[0], ids[2]
	snap, err := s.BuildItems(ctx, "t1", guard, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
	require.NoError(t, err)

	// Every third item moves after the read (someone else's write), and
	// the grantee of the items 1, 4 leaves.
	moved := map[int]bool{}
	for i := 0; i < n; i += 3 {
		_, err := s.UpdateItem(ctx, "t1", guard, snap.Items[i], guard, "")
		require.NoError(t, err)
		moved[i] = true
	}
	ups := make([]storekit.ItemUpdate, n)
	for i, it := range snap.Items {
		ups[i] = storekit.ItemUpdate{Old: it, Cur: ids[1]}
	}
	for _, i := range []int{1, 4} {
		ups[i].Cur = gone
	}
	require.NoError(t, s.UnregisterServer(ctx, "t1", gone))

	before := s.requestStats()
	res, err := s.UpdateItems(ctx, "t1", guard, ups)
	require.NoError(t, err)
	d := s.requestStats().Sub(before)
	t.Logf("%d updates, %d of them stale, 2 to a gone server: %s", n, len(moved), d)
	after := mustItems(t, s, "t1")
	for i, r := range res {
		switch {
		case moved[i], ups[i].Cur == gone:
			require.ErrorIs(t, r.Err, schedule.ErrConflict, "update %d", i)
		default:
			require.NoError(t, r.Err, "update %d", i)
			require.Equal(t, after.Items[i], r.Item)
			assert.Equal(t, ids[1], after.Items[i].CurServer)
		}
	}
	assert.LessOrEqual(t, d.Multi, uint64(2), "one multi that failed, one without every stale update")
}

// TestChunkedGrantsGoOutTogether: the multis of one UpdateItems go out
// together (parallelMultis at a time), not one round trip after the other:
// a leader's first 2,000 grants are two multis, and the second waited for
// the first's answer, a second or more under load. The client here sees
// every answer rtt late, as over a slow link.
func TestChunkedGrantsGoOutTogether(t *testing.T) {
	t.Parallel()
	const n, rtt = 48, 150 * time.Millisecond
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	ctx := ctxT(t, time.Minute)
	admin := openStore(t, testConfig(c, root, testAuth))
	tt := sampleTaskType("t1", n)
	_, err := admin.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	s, rounds := slowStore(t, c, root, rtt)
	s.maxMulti = 2 << 10 // a dozen items per multi
	srv, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	snap, err := s.BuildItems(ctx, "t1", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
	require.NoError(t, err)
	var ups []storekit.ItemUpdate
	for _, it := range snap.Items {
		ups = append(ups, storekit.ItemUpdate{Old: it, Cur: srv.UUID})
	}
	_, err = s.Notes(ctx, "t1", srv.UUID) // the note box exists: no creation in the count
	require.NoError(t, err)

	before, rounds0 := s.requestStats(), rounds.n.Load()
	res, err := s.UpdateItems(ctx, "t1", srv.UUID, ups)
	require.NoError(t, err)
	d, trips := s.requestStats().Sub(before), rounds.n.Load()-rounds0
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	t.Logf("%d grants in %d multis: %d round trips (each %v)", n, d.Multi, trips, rtt)
	require.GreaterOrEqual(t, d.Multi, uint64(4), "the grants were not split")
	// Together: about d.Multi/parallelMultis round trips, plus the odd
	// ping or probe (9-11 under -race); one after the other, at least
	// d.Multi (29).
	assert.Less(t, trips, int64(d.Multi*2/3), "%d multis took %d round trips", d.Multi, trips)
	assert.Equal(t, mustItems(t, s, "t1").Items, func() []schedule.Item {
		out := make([]schedule.Item, len(res))
		for i, r := range res {
			out[i] = r.Item
		}
		return out
	}(), "what UpdateItems returned is what is stored")
}
