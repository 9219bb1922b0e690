package zkstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/zkreq"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// measure returns the requests f sent (the liveness probe left out), read
// through zkreq.Of as tbsbench reads them.
func measure(t *testing.T, s *Store, what string, f func()) zkreq.Stats {
	t.Helper()
	before := zkreq.Of(s)
	start := time.Now()
	f()
	took := time.Since(start)
	d := zkreq.Of(s).Sub(before)
	d.Probe = 0
	t.Logf("%-46s %4d requests (%s) in %v", what, d.Total(), d, took.Round(10*time.Microsecond))
	return d
}

// TestRoundTrips measures the ZooKeeper requests of the typical operations
// with the counting wrapper, and pins the bounds that define the design:
// a heartbeat is one set, an ownership change one multi, reading N items
// N+2 pipelined reads, a registration one create, a first build of N items
// one multi.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	cfg := testConfig(c, c.UniqueRoot(t), testAuth)
	cfg.CalibrationInterval = time.Hour // no calibration in the middle
	s := openStore(t, cfg)
	ctx := ctxT(t, time.Minute)
	_, err := s.Now(ctx)
	require.NoError(t, err)
	const n = 100
	tt := sampleTaskType("t1", n)
	sess := sessionOf(t, s)

	d := measure(t, s, "CreateTaskType", func() {
		_, err = s.CreateTaskType(ctx, tt)
		require.NoError(t, err)
	})
	assert.Equal(t, zkreq.Stats{Create: 1}, d)

	var srv, srv2 schedule.Server
	measure(t, s, "RegisterServer (first: creates the runtime)", func() {
		srv, err = s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.1"))
		require.NoError(t, err)
	})
	d = measure(t, s, "RegisterServer", func() {
		srv2, err = s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.2"))
		require.NoError(t, err)
	})
	assert.Equal(t, zkreq.Stats{Create: 1}, d, "a registration is one create")

	d = measure(t, s, "UpdateServer (heartbeat)", func() {
		require.NoError(t, s.UpdateServer(ctx, srv))
	})
	assert.Equal(t, zkreq.Stats{Set: 1}, d, "a heartbeat is one set")

	var snap schedule.Items
	d = measure(t, s, fmt.Sprintf("BuildItems, first build of %d items", n), func() {
		snap, err = s.BuildItems(ctx, "t1", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
		require.NoError(t, err)
	})
	assert.Equal(t, uint64(1), d.Multi, "a build is one multi")
	assert.LessOrEqual(t, d.Total(), uint64(4), "a first build reads the stamp, the (missing) mark and children, then one multi")

	d = measure(t, s, fmt.Sprintf("Items of %d items", n), func() {
		got, err := s.Items(ctx, "t1")
		require.NoError(t, err)
		require.Len(t, got.Items, n)
	})
	assert.Equal(t, zkreq.Stats{Get: n + 1, Children: 1, Exists: 1}, d, "reading N items is N+3 requests (the stamp, the mark, the children, the items)")

	d = measure(t, s, fmt.Sprintf("ItemsStamp of %d items", n), func() {
		st, err := s.ItemsStamp(ctx, "t1")
		require.NoError(t, err)
		require.NotEmpty(t, st)
	})
	assert.Equal(t, zkreq.Stats{Exists: 1}, d, "the items stamp is one exists whatever the number of items")

	var it schedule.Item
	d = measure(t, s, "UpdateItem (ownership change, guarded)", func() {
		it, err = s.UpdateItem(ctx, "t1", srv.UUID, snap.Items[0], srv2.UUID, "")
		require.NoError(t, err)
	})
	assert.Equal(t, zkreq.Stats{Multi: 1, Create: 3}, d,
		"an ownership change is one multi (the first write to a note box creates it, and the notes directory, once per store)")
	d = measure(t, s, "UpdateItem (unguarded)", func() {
		_, err = s.UpdateItem(ctx, "t1", "", it, srv2.UUID, srv.UUID)
		require.NoError(t, err)
	})
	assert.Equal(t, zkreq.Stats{Multi: 1}, d, "the item and the stamp's bump in one multi")

	cur, err := s.Items(ctx, "t1")
	require.NoError(t, err)
	d = measure(t, s, fmt.Sprintf("BuildItems, rebuild of %d items (one removed)", n), func() {
		_, err = s.BuildItems(ctx, "t1", srv.UUID, cur.Mark, tt.TaskItems[1:])
		require.NoError(t, err)
	})
	assert.Equal(t, zkreq.Stats{Get: n + 1, Children: 1, Exists: 1, Multi: 1}, d, "a rebuild reads the items, then one multi")

	d = measure(t, s, "Servers (2 servers)", func() {
		list, err := s.Servers(ctx, "t1")
		require.NoError(t, err)
		require.Len(t, list, 2)
	})
	assert.Equal(t, zkreq.Stats{Children: 1, Get: 2}, d)

	measure(t, s, "SetItemDesc", func() { require.NoError(t, s.SetItemDesc(ctx, "t1", "5", "busy")) })

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ch <-chan struct{}
	d = measure(t, s, fmt.Sprintf("Watch(items) of %d items: arming", n), func() {
		ch, err = s.Watch(wctx, storekit.WatchScope{Kind: storekit.WatchItems, Name: "t1"})
		require.NoError(t, err)
	})
	assert.Equal(t, zkreq.Stats{Watch: n + 2}, d, "a children watch, the mark's and every item's data watch")
	d = measure(t, s, "Watch(items) again (shared)", func() {
		_, err = s.Watch(wctx, storekit.WatchScope{Kind: storekit.WatchItems, Name: "t1"})
		require.NoError(t, err)
	})
	assert.Equal(t, zkreq.Stats{}, d, "a second watcher of a scope shares its watches")

	// An item change re-arms that item's watch only (counted once the
	// watch has fired and been re-armed).
	cur, err = s.Items(ctx, "t1")
	require.NoError(t, err)
	before := s.requestStats()
	_, err = s.UpdateItem(ctx, "t1", srv.UUID, cur.Items[3], srv.UUID, "")
	require.NoError(t, err)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the items watch did not fire")
	}
	d = s.requestStats().Sub(before)
	d.Probe = 0
	t.Logf("%-46s %4d requests (%s)", "UpdateItem with the items watched", d.Total(), d)
	assert.Equal(t, zkreq.Stats{Multi: 1, Watch: 1, Create: 1}, d, "the update, and the re-arming of that item's watch (and the new owner's note box, once)")

	// Steady state: watches only, no polling.
	before = s.requestStats()
	waitFor(t, 10*time.Second, "three liveness probes", func() error {
		if p := s.requestStats().Probe - before.Probe; p < 3 {
			return fmt.Errorf("%d probes", p)
		}
		return nil
	})
	d = s.requestStats().Sub(before)
	d.Probe = 0
	assert.Equal(t, zkreq.Stats{}, d, "requests at steady state besides the probe")

	d = measure(t, s, "UnregisterServer", func() { require.NoError(t, s.UnregisterServer(ctx, "t1", srv.UUID)) })
	assert.Equal(t, zkreq.Stats{Delete: 1}, d)
	require.NoError(t, s.UnregisterServer(ctx, "t1", srv2.UUID))
	d = measure(t, s, fmt.Sprintf("DeleteRuntime (%d items)", n), func() { require.NoError(t, s.DeleteRuntime(ctx, "t1")) })
	assert.Equal(t, uint64(1), d.Multi, "a runtime goes in one multi")
}
