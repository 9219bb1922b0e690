package zkstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
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
	snap, err := s.BuildItems(ctx, "t1", srv.UUID, schedule.ItemsMark{Version: schedule.AnyVersion}, tt.TaskItems)
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
	var ups []schedule.ItemUpdate
	for _, it := range snap2.Items {
		ups = append(ups, schedule.ItemUpdate{Old: it, Cur: srv.UUID})
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
		_, err = s.BuildItems(ctx, rt, srv.UUID, schedule.ItemsMark{Version: schedule.AnyVersion}, tt.TaskItems[:20])
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
