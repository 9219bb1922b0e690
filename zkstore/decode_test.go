package zkstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// A configuration document is decoded once per change: reading an
// unchanged task type again (a factory does at every round) costs no
// decoding, a caller that changes what it got does not change the next
// read, and a change is read as changed.
func TestTaskTypeDecodedOncePerChange(t *testing.T) {
	c := sharedCluster(t)
	ctx := ctxT(t, time.Minute)
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth))
	tt := schedule.DefaultTaskType("dec")
	tt.DealBeanName = "d"
	tt.TaskItems = []string{"0", "1", "2"}
	_, err := s.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	_, err = s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchConfig}) // reads come from the watched data
	require.NoError(t, err)

	got, v, err := s.TaskType(ctx, "dec")
	require.NoError(t, err)
	before := s.decodes.Load()
	got.TaskItems[0] = "changed by the caller"
	for range 5 {
		again, _, err := s.TaskType(ctx, "dec")
		require.NoError(t, err)
		require.Equal(t, []string{"0", "1", "2"}, again.TaskItems, "a read shares the items with an earlier one")
		again.TaskItems[1] = "changed by the caller too"
		list, err := s.TaskTypes(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
	}
	require.Equal(t, before, s.decodes.Load(), "an unchanged task type was decoded again")

	tt.TaskItems = []string{"0", "1", "2", "3"}
	_, err = s.UpdateTaskType(ctx, tt, v)
	require.NoError(t, err)
	waitFor(t, 30*time.Second, "the change is read", func() error {
		cur, _, err := s.TaskType(ctx, "dec")
		if err != nil {
			return err
		}
		if len(cur.TaskItems) != 4 {
			return fmt.Errorf("items %v", cur.TaskItems)
		}
		return nil
	})
}

// The mark is decoded once per change too: every owner reads it with the
// items its notes name.
func TestMarkDecodedOncePerChange(t *testing.T) {
	c := sharedCluster(t)
	ctx := ctxT(t, time.Minute)
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth))
	tt := schedule.DefaultTaskType("t1")
	tt.DealBeanName = "d"
	tt.TaskItems = []string{"0", "1", "2"}
	_, err := s.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	srv, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	snap, err := s.BuildItems(ctx, "t1", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
	require.NoError(t, err)

	first, err := s.ItemsByID(ctx, "t1", []schedule.ItemID{"0"})
	require.NoError(t, err)
	before := s.decodes.Load()
	first.Mark.Defs[0] = "changed by the caller"
	for range 3 {
		got, err := s.ItemsByID(ctx, "t1", []schedule.ItemID{"1"})
		require.NoError(t, err)
		require.Equal(t, []string{"0", "1", "2"}, got.Mark.Defs, "a read shares the defs with an earlier one")
		got.Mark.Defs[1] = "changed by the caller too"
	}
	require.Equal(t, before, s.decodes.Load(), "an unchanged mark was decoded again")

	_, err = s.BuildItems(ctx, "t1", srv.UUID, snap.Mark, []string{"0", "1"})
	require.NoError(t, err)
	got, err := s.ItemsByID(ctx, "t1", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"0", "1"}, got.Mark.Defs, "the rebuilt mark")
}
