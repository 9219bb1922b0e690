package itest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

func TestMain(m *testing.M) { zktest.Main(m) }

func createTaskType(t testing.TB, s storekit.ConfigStore, tt schedule.TaskType) {
	t.Helper()
	_, err := s.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
}

// Three managers share ten items; a fourth joins and takes its share, and
// only the items that must move, move — each after the batch boundary of
// its previous owner.
func TestManagersBalanceAndJoin(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		obs := b.open(t)
		tt := testTaskType("balance", 10)
		createTaskType(t, obs, tt)
		rec := newRecorder()
		for _, name := range []string{"m1", "m2", "m3"} {
			startManager(t, b, tt, name, rec.deal(name, 5*time.Millisecond))
		}
		before, took := waitBalanced(t, obs, "balance", 3, 10, 20*time.Second)
		t.Logf("%s: 3 servers × 10 items balanced %v after the last start", b.name, took)

		m4 := startManager(t, b, tt, "m4", rec.deal("m4", 5*time.Millisecond))
		id4 := serverOf(t, m4)
		after, took := waitBalanced(t, obs, "balance", 4, 10, 20*time.Second)
		t.Logf("%s: 4th server balanced in %v", b.name, took)

		moved := 0
		for item, owner := range after.owner {
			if owner != before.owner[item] {
				moved++
				assert.Equal(t, id4, owner, "item %s moved, but not to the joining server", item)
				assert.Greater(t, after.epochs[item], before.epochs[item], "item %s: a new grant must raise the epoch", item)
			}
		}
		assert.Equal(t, 2, moved, "10 items from 3 to 4 servers: exactly 2 must move")
		require.Eventually(t, func() bool {
			_, per := rec.count()
			return per["m4"] > 0
		}, 10*time.Second, 10*time.Millisecond, "the joining server processes its items")
		assert.Empty(t, rec.overlaps(), "no item may run on two servers at once")
		assert.Empty(t, rec.epochsGrow())
	})
}

// A graceful stop hands the server's items over at once, and the others
// take them without waiting for any timeout.
func TestManagerGracefulStop(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		obs := b.open(t)
		tt := testTaskType("graceful", 9)
		createTaskType(t, obs, tt)
		rec := newRecorder()
		var ms []*running
		for _, name := range []string{"m1", "m2", "m3"} {
			ms = append(ms, startManager(t, b, tt, name, rec.deal(name, 20*time.Millisecond)))
		}
		waitBalanced(t, obs, "graceful", 3, 9, 20*time.Second)
		start := time.Now()
		ms[0].stop(t) // the leader: the others must also elect a new one
		_, took := waitBalanced(t, obs, "graceful", 2, 9, 20*time.Second)
		t.Logf("%s: graceful stop of the leader → items owned elsewhere after %v (Run returned after %v)", b.name, took, time.Since(start)-took)
		assert.Empty(t, rec.overlaps())
		assert.Empty(t, rec.epochsGrow())
	})
}

// A server whose session expires loses its items to the others, registers
// again under a new session and gets its share back.
func TestManagerSessionExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		obs := b.open(t)
		tt := testTaskType("expiry", 6)
		createTaskType(t, obs, tt)
		rec := newRecorder()
		var ms []*running
		for _, name := range []string{"m1", "m2", "m3"} {
			ms = append(ms, startManager(t, b, tt, name, rec.deal(name, 5*time.Millisecond)))
		}
		waitBalanced(t, obs, "expiry", 3, 6, 20*time.Second)
		old := serverOf(t, ms[1])
		b.expire(t, ms[1].store)
		require.Eventually(t, func() bool {
			id := ms[1].m.Status().Server
			return id != "" && id != old
		}, 20*time.Second, 10*time.Millisecond, "the expired manager registers again")
		o, _ := waitBalanced(t, obs, "expiry", 3, 6, 20*time.Second)
		for item, owner := range o.owner {
			assert.NotEqual(t, old, owner, "item %s still owned by the expired registration", item)
		}
		assert.Empty(t, rec.overlaps())
	})
}

// Items added to or removed from the task type while the cluster runs are
// assigned or released without a restart.
func TestManagerItemsEdited(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		obs := b.open(t)
		tt := testTaskType("edited", 4)
		createTaskType(t, obs, tt)
		rec := newRecorder()
		startManager(t, b, tt, "m1", rec.deal("m1", 5*time.Millisecond))
		startManager(t, b, tt, "m2", rec.deal("m2", 5*time.Millisecond))
		waitBalanced(t, obs, "edited", 2, 4, 20*time.Second)

		ctx := context.Background()
		cur, v, err := obs.TaskType(ctx, "edited")
		require.NoError(t, err)
		cur.TaskItems = itemDefs(2, 8) // removes 0 and 1, adds 4..7
		_, err = obs.UpdateTaskType(ctx, cur, v)
		require.NoError(t, err)
		o, took := waitBalanced(t, obs, "edited", 2, 6, 20*time.Second)
		t.Logf("%s: item list edited → balanced after %v", b.name, took)
		assert.Contains(t, o.removed, schedule.ItemID("0"))
		assert.Contains(t, o.removed, schedule.ItemID("1"))
		for _, id := range []schedule.ItemID{"4", "5", "6", "7"} {
			assert.Contains(t, o.owner, id)
		}
		released := time.Now()
		require.Eventually(t, func() bool { return len(rec.executedSince("7", released)) > 0 }, 10*time.Second, 10*time.Millisecond)
		assert.Empty(t, rec.executedSince("0", released), "a released, removed item is not processed any more")
		assert.Empty(t, rec.overlaps())
	})
}
