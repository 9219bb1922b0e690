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
