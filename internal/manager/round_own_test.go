package manager_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/readpath"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// A leader that owns an item it had asked itself to hand over, whose
// release has passed its batch boundary, and whose request it changes in
// this round (the requested server left and another takes its place, as
// while servers join at the start), hands the item to the new target in
// the same round: its owner's part sees the leader's writes. Against the
// items as read before those writes the handover conflicted (and the whole
// batch of handovers with it) and waited for the retry's backoff.
func TestLeaderOwnerHandsOverToTheTargetItJustWrote(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(map[bool]string{false: "notes", true: "previous way"}[old], func(t *testing.T) {
			if old {
				readpath.UseOld(true)
				t.Cleanup(func() { readpath.UseOld(false) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st := memstore.New(memstore.Config{}).Connect(memstore.ClientConfig{})
			defer st.Close()
			tt := schedule.DefaultTaskType("own")
			tt.DealBeanName = "d"
			tt.TaskItems = []string{"0", "1"}
			_, err := st.CreateTaskType(ctx, tt)
			require.NoError(t, err)
			rt := schedule.RuntimeName(tt.BaseTaskType, "")
			sess, err := st.Session(ctx)
			require.NoError(t, err)
			register := func(host string) schedule.ServerID {
				now := schedule.Time{Time: time.Now()}
				rec, err := st.RegisterServer(ctx, sess, schedule.Server{TaskType: rt, BaseTaskType: tt.BaseTaskType,
					OwnSign: schedule.DefaultOwnSign, IP: "127.0.0.1", HostName: host, ThreadNum: 1,
					RegisterTime: now, HeartBeatTime: now, IsRegister: true})
				require.NoError(t, err)
				return rec.UUID
			}
			me := register("leader") // the lowest sequence: it leads
			other := register("other")
			now, err := st.Now(ctx)
			require.NoError(t, err)
			built, err := st.BuildItems(ctx, rt, me, schedule.ItemsMark{Leader: me, BuiltAt: schedule.Time{Time: now},
				Defs: tt.TaskItems, Version: storekit.AnyVersion}, tt.TaskItems)
			require.NoError(t, err)
			// Both items are the leader's; item 1 was asked for by a server
			// that has left since.
			_, err = st.UpdateItems(ctx, rt, me, []storekit.ItemUpdate{
				{Old: built.Items[0], Cur: me},
				{Old: built.Items[1], Cur: me, Req: "own$127.0.0.1$GONE$0000000099"},
			})
			require.NoError(t, err)

			deal := processor.SingleFunc(
				func(context.Context, processor.SelectRequest) ([]string, error) { return nil, nil },
				func(context.Context, string, string) error { return nil })
			m, err := manager.NewManager(st, tt, "", deal, schedule.ManagerConfig{}, manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			require.NoError(t, err)
			r := manager.NewTestRound(m, sess, me)
			r.Released("1")
			again, err := r.Reconcile(ctx)
			require.NoError(t, err)

			items, err := st.Items(ctx, rt)
			require.NoError(t, err)
			require.Len(t, items.Items, 2)
			assert.Equal(t, me, items.Items[0].CurServer, "item 0 stays")
			assert.Equal(t, other, items.Items[1].CurServer, "item 1 handed over to the new target in the same round")
			assert.Empty(t, items.Items[1].ReqServer)
			assert.False(t, again, "the round asked for another one soon (a conflict)")
		})
	}
}

// hookStore runs hook after every BuildItems and every Items.
type hookStore struct {
	storekit.Store
	hook func()
}

func (c *hookStore) BuildItems(ctx context.Context, taskType string, guard schedule.ServerID, mark schedule.ItemsMark, defs []string) (schedule.Items, error) {
	items, err := c.Store.BuildItems(ctx, taskType, guard, mark, defs)
	c.hook()
	return items, err
}

func (c *hookStore) Items(ctx context.Context, taskType string) (schedule.Items, error) {
	items, err := c.Store.Items(ctx, taskType)
	c.hook()
	return items, err
}

// joinDuringRound sets up a leader's first round during which a second
// server registers (while the round reads, or builds, the items): built
// says whether the items are built before, from an older item list (the
// round builds them again), else the round builds them from nothing (a
// cluster start). It returns the store, the round, both servers and the
// fake clock.
func joinDuringRound(t *testing.T, ctx context.Context, built bool) (storekit.Store, *manager.TestRound, string, schedule.ServerID, func() schedule.ServerID, *fakeclock.Clock) {
	clk := fakeclock.New(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC))
	mem := memstore.New(memstore.Config{}, memstore.WithClock(clk)).Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = mem.Close() })
	tt := schedule.DefaultTaskType("own")
	tt.DealBeanName = "d"
	tt.TaskItems = []string{"0", "1", "2", "3"}
	_, err := mem.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	rt := schedule.RuntimeName(tt.BaseTaskType, "")
	sess, err := mem.Session(ctx)
	require.NoError(t, err)
	register := func(host string) schedule.ServerID {
		now := schedule.Time{Time: clk.Now()}
		rec, err := mem.RegisterServer(ctx, sess, schedule.Server{TaskType: rt, BaseTaskType: tt.BaseTaskType,
			OwnSign: schedule.DefaultOwnSign, IP: "127.0.0.1", HostName: host, ThreadNum: 1,
			RegisterTime: now, HeartBeatTime: now, IsRegister: true})
		require.NoError(t, err)
		return rec.UUID
	}
	me := register("leader")
	if built {
		// Built from an older list: the round builds them again.
		now, err := mem.Now(ctx)
		require.NoError(t, err)
		_, err = mem.BuildItems(ctx, rt, me, schedule.ItemsMark{Leader: me, BuiltAt: schedule.Time{Time: now},
			Defs: tt.TaskItems[:3], Version: storekit.AnyVersion}, tt.TaskItems[:3])
		require.NoError(t, err)
	}
	var other schedule.ServerID
	registerFn = register
	st := &hookStore{Store: mem}
	st.hook = func() {
		if other == "" {
			other = register("other")
		}
	}
	deal := processor.SingleFunc(
		func(context.Context, processor.SelectRequest) ([]string, error) { return nil, nil },
		func(context.Context, string, string) error { return nil })
	m, err := manager.NewManager(st, tt, "", deal, schedule.ManagerConfig{}, manager.WithClock(clk),
		manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	r := manager.NewTestRound(m, sess, me)
	require.NoError(t, r.WatchServers(ctx))
	return mem, r, rt, me, func() schedule.ServerID { return other }, clk
}

// registerFn registers one more server in the last joinDuringRound's
// runtime, under its session.
var registerFn func(host string) schedule.ServerID

// owners counts the items of each owner, and fails on a request.
func owners(t *testing.T, ctx context.Context, st storekit.Store, rt string) map[schedule.ServerID]int {
	t.Helper()
	items, err := st.Items(ctx, rt)
	require.NoError(t, err)
	owned := map[schedule.ServerID]int{}
	for _, it := range items.Items {
		owned[it.CurServer]++
		assert.Empty(t, it.ReqServer, "item %s: a handover asked", it.ID)
	}
	return owned
}

// A server that registers while the leader's round reads and builds the
// items gets its share granted directly in that round: the round plans
// with the servers read again once their watch fired. It planned with the
// servers read at the round's start (every item to the leader), and asked
// the leader to hand the newcomer's share over in the next round.
func TestLeaderGrantsToServersRegisteredDuringItsRound(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(map[bool]string{false: "notes", true: "previous way"}[old], func(t *testing.T) {
			if old {
				readpath.UseOld(true)
				t.Cleanup(func() { readpath.UseOld(false) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, r, rt, me, other, _ := joinDuringRound(t, ctx, true)
			_, err := r.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[schedule.ServerID]int{me: 2, other(): 2}, owners(t, ctx, st, rt), "granted directly to both")
		})
	}
}

// At a cluster start (the leader builds the items from nothing) a server
// that registers during the leader's first round makes it hold its first
// grants back until the joins pause (plan.Settle), then grant directly to
// every server: granting all to the leader and asking it to hand the
// newcomers' shares over cost a handover cycle per item.
func TestLeaderFirstGrantsWaitWhileServersJoin(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(map[bool]string{false: "notes", true: "previous way"}[old], func(t *testing.T) {
			if old {
				readpath.UseOld(true)
				t.Cleanup(func() { readpath.UseOld(false) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, r, rt, me, other, clk := joinDuringRound(t, ctx, false)
			_, err := r.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[schedule.ServerID]int{"": 4}, owners(t, ctx, st, rt), "nothing granted while a server joins")
			_, err = r.Reconcile(ctx) // no time passed: still waiting
			require.NoError(t, err)
			assert.Equal(t, map[schedule.ServerID]int{"": 4}, owners(t, ctx, st, rt), "nothing granted before the joins pause")

			clk.Advance(time.Second) // the joins paused
			_, err = r.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[schedule.ServerID]int{me: 2, other(): 2}, owners(t, ctx, st, rt), "granted directly to both")
		})
	}
}

// When a strategy runs the task type, the leader of a cluster start holds
// its first grants back until as many servers are live as the strategy's
// factories were asked for (the sum of their requestNum), not merely until
// the joins pause: factories start their managers in waves, as the
// strategy's leader distributes the thread groups.
func TestLeaderFirstGrantsWaitForTheExpectedServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, r, rt, me, other, clk := joinDuringRound(t, ctx, false)
	_, err := st.CreateStrategy(ctx, schedule.Strategy{StrategyName: "own-s", IPList: []string{"127.0.0.1"},
		AssignNum: 3, Kind: schedule.KindSchedule, TaskName: "own", Sts: schedule.StsResume})
	require.NoError(t, err)
	sess, err := st.Session(ctx)
	require.NoError(t, err)
	_, err = st.RegisterStrategyRuntime(ctx, sess, schedule.StrategyRuntime{StrategyName: "own-s",
		UUID: "127.0.0.1$host$0A0113DAF9684CE2BF06DC2B4A9ABD1B$0000000000", RequestNum: 3})
	require.NoError(t, err)

	_, err = r.Reconcile(ctx)
	require.NoError(t, err)
	clk.Advance(time.Second) // the joins paused: without the strategy the leader would grant now
	_, err = r.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[schedule.ServerID]int{"": 4}, owners(t, ctx, st, rt), "nothing granted while 2 of 3 expected servers are live")

	third := registerFn("third")
	_, err = r.Reconcile(ctx)
	require.NoError(t, err)
	got := owners(t, ctx, st, rt)
	assert.Len(t, got, 3, "granted directly to the three: %v", got)
	for _, id := range []schedule.ServerID{me, other(), third} {
		assert.Contains(t, []int{1, 2}, got[id], "items of %s", id)
	}
}
