package manager_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/readpath"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// loadStore counts full item reads, stamp reads and reads by id, and never
// signals the items, notes and mark watches (as if their events were
// lost), so that only the periodic resync can notice item changes.
type loadStore struct {
	storekit.Store
	items, stamps atomic.Int64
	// byID counts ItemsByID calls, byIDMax the most items one of them read.
	byID, byIDMax atomic.Int64
}

func (s *loadStore) ItemsByID(ctx context.Context, rt string, ids []schedule.ItemID) (schedule.Items, error) {
	s.byID.Add(1)
	for n := int64(len(ids)); ; {
		m := s.byIDMax.Load()
		if n <= m || s.byIDMax.CompareAndSwap(m, n) {
			break
		}
	}
	return s.Store.ItemsByID(ctx, rt, ids)
}

func (s *loadStore) Items(ctx context.Context, rt string) (schedule.Items, error) {
	s.items.Add(1)
	return s.Store.Items(ctx, rt)
}

func (s *loadStore) ItemsStamp(ctx context.Context, rt string) (schedule.ItemsStamp, error) {
	s.stamps.Add(1)
	return s.Store.ItemsStamp(ctx, rt)
}

func (s *loadStore) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	switch scope.Kind {
	case storekit.WatchItems, storekit.WatchNotes, storekit.WatchMark:
	default:
		return s.Store.Watch(ctx, scope)
	}
	ch := make(chan struct{})
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// At steady state the periodic resync reads the items stamp, not every
// item; an item written behind the manager's back (its watch event lost)
// is read again in full at the next resync.
func TestManagerResyncReadsItemsOnlyWhenStampMoves(t *testing.T) {
	readpath.UseOld(true) // the stamp belongs to the previous way
	t.Cleanup(func() { readpath.UseOld(false) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, admin, tt := loadTaskType(t, "load", 40)

	const resync = 20 * time.Millisecond
	var stores []*loadStore
	var mgrs []*manager.Manager
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range 2 {
		c := srv.Connect(memstore.ClientConfig{})
		defer c.Close()
		ls := &loadStore{Store: c}
		m := newLoadManager(t, ls, tt, "load-"+strconv.Itoa(i), resync)
		stores, mgrs = append(stores, ls), append(mgrs, m)
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Run(ctx) }()
	}
	require.Eventually(t, func() bool {
		for _, m := range mgrs {
			st := m.Status()
			if len(st.Owned) != 20 || len(st.Releasing) != 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "two managers own 20 items each")

	// Idle: resyncs read the stamp only. Wait until a stretch of two
	// resyncs of each manager passes without a full read (the last
	// handover's rounds end).
	items := func() int64 { return stores[0].items.Load() + stores[1].items.Load() }
	quiet := func() bool {
		i0, s0, s1 := items(), stores[0].stamps.Load(), stores[1].stamps.Load()
		require.Eventually(t, func() bool { return stores[0].stamps.Load() >= s0+2 && stores[1].stamps.Load() >= s1+2 },
			10*time.Second, time.Millisecond, "two resyncs of each manager")
		return items() == i0
	}
	waitQuiet := func(msg string) {
		for deadline := time.Now().Add(30 * time.Second); !quiet(); {
			require.False(t, time.Now().After(deadline), msg)
		}
	}
	waitQuiet("resyncs keep reading every item while nothing changes")

	// A write whose watch event is lost: the next resync sees the stamp move
	// and reads the items in full, once per manager.
	before := []int64{stores[0].items.Load(), stores[1].items.Load()}
	require.NoError(t, admin.SetItemDesc(ctx, "load", "3", "edited"))
	require.Eventually(t, func() bool {
		return stores[0].items.Load() > before[0] && stores[1].items.Load() > before[1]
	}, 30*time.Second, time.Millisecond, "a resync after an item write did not read the items again")
	waitQuiet("full reads go on after the write was read")
}

// startLoad starts n managers of a task type of items items on memstore,
// each behind a loadStore, and waits until they own items/n each.
func startLoad(t *testing.T, ctx context.Context, srv *memstore.Server, n, items int, resync time.Duration) ([]*loadStore, []*manager.Manager) {
	t.Helper()
	admin := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { admin.Close() })
	tt := schedule.DefaultTaskType("load")
	tt.DealBeanName = "loadDeal"
	for i := range items {
		tt.TaskItems = append(tt.TaskItems, strconv.Itoa(i))
	}
	_, err := admin.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	var stores []*loadStore
	var mgrs []*manager.Manager
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for i := range n {
		c := srv.Connect(memstore.ClientConfig{})
		t.Cleanup(func() { c.Close() })
		ls := &loadStore{Store: c}
		m := newLoadManager(t, ls, tt, "load-"+strconv.Itoa(i), resync)
		stores, mgrs = append(stores, ls), append(mgrs, m)
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Run(ctx) }()
	}
	require.Eventually(t, func() bool {
		for _, m := range mgrs {
			st := m.Status()
			if len(st.Owned) != items/n || len(st.Releasing) != 0 || st.Items != items {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "%d managers own %d items each", n, items/n)
	return stores, mgrs
}

// With the note boxes, no server but the leader ever reads every item (the
// leader once, when it starts leading), and a server reads by id at most
// the items it owns, also at the resyncs of an idle runtime. The balance
// itself is reached with every event of the notes and mark watches lost
// (loadStore): the owners re-read their items every tenth resync, and every
// round reads the server's notes.
func TestManagerFollowsItemsByNotes(t *testing.T) {
	srv := memstore.New(memstore.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const resync = 20 * time.Millisecond
	stores, mgrs := startLoad(t, ctx, srv, 2, 40, resync)
	leader, other := 0, 1
	if !mgrs[0].Status().IsLeader {
		leader, other = 1, 0
	}
	require.Zero(t, stores[other].items.Load(), "a server that does not lead read every item")
	require.LessOrEqual(t, stores[leader].items.Load(), int64(1), "the leader read every item more than once")

	before := stores[other].byID.Load()
	stores[other].byIDMax.Store(0)
	require.Eventually(t, func() bool { return stores[other].byID.Load() >= before+4 }, 30*time.Second, time.Millisecond,
		"the resyncs do not re-read the owned items")
	require.LessOrEqual(t, stores[other].byIDMax.Load(), int64(20), "a resync read more than the owned items")

	require.Zero(t, stores[other].items.Load(), "a server that does not lead read every item")
}

// The leader removes, at its resyncs, the note box of a server whose
// registration is gone (here its session expired; it registers again under
// a new id, with a box of its own).
func TestLeaderSweepsBoxesOfGoneServers(t *testing.T) {
	srv := memstore.New(memstore.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stores, mgrs := startLoad(t, ctx, srv, 2, 40, 20*time.Millisecond)
	other := 0
	if mgrs[0].Status().IsLeader {
		other = 1
	}
	admin := srv.Connect(memstore.ClientConfig{})
	defer admin.Close()
	gone := mgrs[other].Status().Server
	boxes, err := admin.NoteBoxes(ctx, "load")
	require.NoError(t, err)
	require.Contains(t, boxes, gone, "the grants left notes in the server's box")
	srv.ExpireSession(stores[other].Store.(*memstore.Client))
	require.Eventually(t, func() bool {
		boxes, err := admin.NoteBoxes(ctx, "load")
		now := mgrs[other].Status().Server
		return err == nil && !slices.Contains(boxes, gone) && now != "" && now != gone
	}, 30*time.Second, time.Millisecond, "the box of the expired registration stayed")
}

// newLoadManager builds a manager with an idle deal on store.
func newLoadManager(t *testing.T, store storekit.Store, tt schedule.TaskType, host string, resync time.Duration, opts ...manager.ManagerOption) *manager.Manager {
	t.Helper()
	cfg := schedule.DefaultManagerConfig()
	cfg.IP, cfg.HostName, cfg.ResyncInterval = "127.0.0.1", host, resync
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil })
	opts = append([]manager.ManagerOption{manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	m, err := manager.NewManager(store, tt, "", deal, cfg, opts...)
	require.NoError(t, err)
	return m
}

// sweepStore holds the leader's sweep of a gone server's note box (a
// DeleteNotes of the whole box) until release is closed.
type sweepStore struct {
	storekit.Store
	entered chan struct{} // closed at the first sweep
	once    sync.Once
	release chan struct{}
}

func (s *sweepStore) DeleteNotes(ctx context.Context, rt string, by, box schedule.ServerID, names []string) error {
	if names == nil {
		s.once.Do(func() { close(s.entered) })
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.DeleteNotes(ctx, rt, by, box, names)
}

// The leader's sweep of the note boxes of gone servers is housekeeping: it
// runs beside the rounds, not in their way. Under load each box's removal
// took up to a second, one after the other, and a leader sweeping the
// boxes of 20 crashed servers granted nothing for 6 s after their holds
// ended.
func TestSweepDoesNotHoldTheLeadersRounds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, admin, tt := loadTaskType(t, "sweep", 60)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sweep := &sweepStore{entered: make(chan struct{}), release: make(chan struct{})}
	defer func() {
		select {
		case <-sweep.release:
		default:
			close(sweep.release)
		}
	}()
	var clients []*memstore.Client
	var mgrs []*manager.Manager
	start := func(wrap func(*memstore.Client) storekit.Store) {
		c := srv.Connect(memstore.ClientConfig{})
		t.Cleanup(func() { c.Close() })
		m := newLoadManager(t, wrap(c), tt, "sweep-"+strconv.Itoa(len(mgrs)), 20*time.Millisecond)
		clients, mgrs = append(clients, c), append(mgrs, m)
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Run(ctx) }()
		require.Eventually(t, func() bool { return m.Status().Server != "" }, 10*time.Second, time.Millisecond)
	}
	start(func(c *memstore.Client) storekit.Store { sweep.Store = c; return sweep }) // registers first: leads
	plain := func(c *memstore.Client) storekit.Store { return c }
	start(plain)
	start(plain)
	balanced := func(per int) func() bool { return func() bool { return balancedAt(&mgrs, per, 60) } }
	require.Eventually(t, balanced(20), 30*time.Second, 5*time.Millisecond, "3 servers own 20 items each")
	require.True(t, mgrs[0].Status().IsLeader)

	// A server's session ends: it registers again under a new id, and its
	// old box is the leader's to sweep, which it starts and is held in.
	gone := mgrs[2].Status().Server
	srv.ExpireSession(clients[2])
	select {
	case <-sweep.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the leader never swept the box of the expired registration")
	}
	// A server joins: the leader's rounds hand it items (those of the
	// expired registration wait for its lock delay meanwhile).
	start(plain)
	newcomer := mgrs[3]
	require.Eventually(t, func() bool { return len(newcomer.Status().Owned) > 0 }, 10*time.Second, 5*time.Millisecond,
		"the leader gave a newcomer nothing while its sweep was under way")
	close(sweep.release)
	require.Eventually(t, func() bool {
		boxes, err := admin.NoteBoxes(ctx, "sweep")
		return err == nil && !slices.Contains(boxes, gone)
	}, 10*time.Second, time.Millisecond, "the sweep, let go, did not remove the box of the expired registration")
}

// loadTaskType creates, on a new memstore server, the task type name with
// items 0..n-1 and the idle deal of newLoadManager; admin is a client of
// that server, closed with the test.
func loadTaskType(t *testing.T, name string, n int) (*memstore.Server, *memstore.Client, schedule.TaskType) {
	t.Helper()
	srv := memstore.New(memstore.Config{})
	admin := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { admin.Close() })
	tt := schedule.DefaultTaskType(name)
	tt.DealBeanName = "loadDeal"
	for i := range n {
		tt.TaskItems = append(tt.TaskItems, strconv.Itoa(i))
	}
	_, err := admin.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
	return srv, admin, tt
}

// balancedAt reports whether every manager of *mgrs owns per of the items,
// none is releasing, and each sees all the managers as live.
func balancedAt(mgrs *[]*manager.Manager, per, items int) bool {
	for _, m := range *mgrs {
		st := m.Status()
		if len(st.Owned) != per || len(st.Releasing) != 0 || st.Items != items || st.Servers != len(*mgrs) {
			return false
		}
	}
	return true
}

// settleReadStore holds a leader's first build until the manager reads the
// strategies (for the servers the start waits for), or hold has passed.
type settleReadStore struct {
	storekit.Store
	hold     time.Duration
	read     chan struct{}
	once     sync.Once
	released atomic.Bool // the build was let go by the read
}

func (s *settleReadStore) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	s.once.Do(func() { close(s.read) })
	return s.Store.Strategies(ctx)
}

func (s *settleReadStore) BuildItems(ctx context.Context, rt string, guard schedule.ServerID, mark schedule.ItemsMark, defs []string) (schedule.Items, error) {
	t := time.NewTimer(s.hold)
	defer t.Stop()
	select {
	case <-s.read:
		s.released.Store(true)
	case <-t.C:
	}
	return s.Store.BuildItems(ctx, rt, guard, mark, defs)
}

// A leader's first build reads the strategies' registrations (how many
// servers the start waits for) beside it: read after it, they delayed the
// first grants by a few hundred milliseconds under load.
func TestFirstBuildReadsTheExpectedServersBeside(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, _, tt := loadTaskType(t, "settleread", 4)
	c := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { c.Close() })
	st := &settleReadStore{Store: c, hold: 3 * time.Second, read: make(chan struct{})}
	m := newLoadManager(t, st, tt, "settle-0", time.Hour)
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	mgrs := []*manager.Manager{m}
	require.Eventually(t, func() bool { return balancedAt(&mgrs, 4, 4) }, 20*time.Second, 5*time.Millisecond, "the server owns every item")
	require.True(t, st.released.Load(), "the first build waited for nothing: the strategies were read after it")
}
