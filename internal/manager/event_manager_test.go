package manager_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// evRec records a manager's events, numbering them (Seq) in order.
type evRec struct {
	mu  sync.Mutex
	evs []schedule.Event
}

func (r *evRec) add(e schedule.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Seq = uint64(len(r.evs) + 1)
	r.evs = append(r.evs, e)
}

// find returns the first event matching kind and pred.
func (r *evRec) find(kind schedule.EventKind, pred func(schedule.Event) bool) (schedule.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.evs {
		if e.Kind == kind && (pred == nil || pred(e)) {
			return e, true
		}
	}
	return schedule.Event{}, false
}

// await waits for an event of kind matching pred; advance (may be nil)
// moves the fake clock between looks.
func (r *evRec) await(t *testing.T, kind schedule.EventKind, pred func(schedule.Event) bool, advance func()) schedule.Event {
	t.Helper()
	var got schedule.Event
	require.Eventually(t, func() bool {
		e, ok := r.find(kind, pred)
		if !ok && advance != nil {
			advance()
		}
		got = e
		return ok
	}, 30*time.Second, time.Millisecond, "no %s event", kind)
	return got
}

// union returns the items of every event of kind matching pred, by id in
// natural order (the last epoch of each).
func (r *evRec) union(kind schedule.EventKind, pred func(schedule.Event) bool) []schedule.OwnedItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	byID := map[schedule.ItemID]schedule.OwnedItem{}
	var ids []schedule.ItemID
	for _, e := range r.evs {
		if e.Kind != kind || (pred != nil && !pred(e)) {
			continue
		}
		for _, it := range e.Items {
			if _, seen := byID[it.ID]; !seen {
				ids = append(ids, it.ID)
			}
			byID[it.ID] = it
		}
	}
	storekit.SortItemIDs(ids)
	out := make([]schedule.OwnedItem, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

func itemIDs(items []schedule.OwnedItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it.ID)
	}
	return out
}

type evFixture struct {
	t   *testing.T
	clk *fakeclock.Clock
	srv *memstore.Server
	tt  schedule.TaskType
}

func newEvFixture(t *testing.T, tt schedule.TaskType) *evFixture {
	clk := fakeclock.New(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	f := &evFixture{t: t, clk: clk, srv: memstore.New(memstore.Config{}, memstore.WithClock(clk)), tt: tt}
	admin := f.srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = admin.Close() })
	_, err := admin.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
	return f
}

// start runs a manager with deal on a client of its own, recording its
// events.
func (f *evFixture) start(host string, deal processor.Deal) (*memstore.Client, *manager.Manager, *evRec) {
	c := f.srv.Connect(memstore.ClientConfig{})
	f.t.Cleanup(func() { _ = c.Close() })
	rec := &evRec{}
	cfg := schedule.DefaultManagerConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", host
	m, err := manager.NewManager(c, f.tt, "", deal, cfg, manager.WithClock(f.clk),
		manager.WithEvents(rec.add), manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(f.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				f.clk.Advance(100 * time.Millisecond) // bounded stops wait on the fake clock
			}
		}
	})
	return c, m, rec
}

func idleDeal() processor.Deal {
	return processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))
}

// On memstore with a fake clock: a manager's events tell why each item
// moved. A takes every item; B joins and A hands half over (A: handover
// request, release straight to B; B: acquire); B's process is cut off and its
// session expires (B: fence); A holds B's items for the lock delay and then
// grants them to itself with new epochs (A: hold start with the items and
// their epochs, hold end, grant, acquire).
func TestManagerEventsOwnership(t *testing.T) {
	tt := schedule.DefaultTaskType("ev")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0", "1", "2", "3"}
	f := newEvFixture(t, tt)
	_, ma, ra := f.start("host-a", idleDeal())
	first := ra.await(t, schedule.EventAcquire, nil, nil)
	assert.Equal(t, []string{"0", "1", "2", "3"}, itemIDs(first.Items))
	a := ma.Status().Server
	assert.Equal(t, a, first.Server)
	assert.Equal(t, "ev", first.Runtime, "the base runtime is named as its task type")
	assert.Equal(t, "ev", first.TaskType)
	assert.Equal(t, "BASE", first.OwnSign)
	grant := ra.await(t, schedule.EventGrant, nil, nil)
	assert.Equal(t, first.Items, grant.Items, "the leader's grant carries the epochs the owner acquires")
	ra.await(t, schedule.EventWindowOpen, nil, nil)

	cb, mb, rb := f.start("host-b", idleDeal())
	require.Eventually(t, func() bool { return len(mb.Status().Owned) == 2 && len(ma.Status().Owned) == 2 },
		30*time.Second, time.Millisecond, "B took half")
	b, ownedB := mb.Status().Server, mb.Status().Owned
	for i := range ownedB {
		ownedB[i].Parameter = ""
	}
	acquired := rb.union(schedule.EventAcquire, nil)
	assert.Equal(t, ownedB, acquired, "B's acquire events name what B owns, with its epochs")
	ho := ra.await(t, schedule.EventHandover, nil, nil)
	assert.Equal(t, a, ho.Server)
	assert.Contains(t, ho.Message, string(b))
	// A emits its release events after its write returns, and B can have
	// acquired the items from its notes before that: wait for them.
	toB := func(e schedule.Event) bool { return e.Message == "handed over to "+string(b) }
	var released []schedule.OwnedItem
	require.Eventually(t, func() bool {
		released = ra.union(schedule.EventRelease, toB)
		return len(released) >= len(ownedB)
	}, 30*time.Second, time.Millisecond, "A's release events for B")
	require.Equal(t, itemIDs(ownedB), itemIDs(released), "A's release events name what B got")
	for i, it := range released {
		assert.Less(t, it.Epoch, ownedB[i].Epoch, "item %s: B's epoch is newer than the one A gave up", it.ID)
	}

	// Kill B: cut off for good, its session expired at the server.
	cb.Disconnect(time.Hour)
	f.srv.ExpireSession(cb)
	rb.await(t, schedule.EventFence, nil, nil)
	hold := ra.await(t, schedule.EventHoldStart, func(e schedule.Event) bool { return e.Server == b }, nil)
	assert.Equal(t, ownedB, hold.Items, "the hold names B's items with their epochs")
	assert.Contains(t, hold.Message, "held until")
	step := func() { f.clk.Advance(100 * time.Millisecond) }
	ra.await(t, schedule.EventHoldEnd, func(e schedule.Event) bool { return e.Server == b }, step)
	back := ra.await(t, schedule.EventGrant, func(e schedule.Event) bool {
		return e.Server == a && e.Time.After(hold.Time)
	}, step)
	assert.Equal(t, itemIDs(ownedB), itemIDs(back.Items))
	for i, it := range back.Items {
		assert.Greater(t, it.Epoch, ownedB[i].Epoch, "item %s: a new grant has a larger epoch", it.ID)
	}
	assert.True(t, back.Time.After(hold.Time), "granted at once, not after the lock delay")
	ra.await(t, schedule.EventAcquire, func(e schedule.Event) bool { return slices.Equal(e.Items, back.Items) }, step)
}

// A key whose records fail is an event once, at its first failure, not at
// each retry; its recovery is one more.
func TestManagerEventsFailingRecord(t *testing.T) {
	tt := schedule.DefaultTaskType("fail")
	tt.DealBeanName = "flaky"
	tt.TaskItems = []string{"0"}
	tt.SleepTimeNoData = 100 * time.Millisecond
	f := newEvFixture(t, tt)
	var mu sync.Mutex
	tries, done := 0, false
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			mu.Lock()
			defer mu.Unlock()
			if done {
				return nil, nil
			}
			return []int{42}, nil
		},
		func(ctx context.Context, n int, ownSign string) error {
			mu.Lock()
			defer mu.Unlock()
			tries++
			if tries < 4 {
				return errors.New("try " + strconv.Itoa(tries) + " failed")
			}
			done = true
			return nil
		},
		processor.WithKey(func(n int) int { return n }))
	_, _, rec := f.start("host-f", deal)
	step := func() { f.clk.Advance(100 * time.Millisecond) }
	fail := rec.await(t, schedule.EventRecordFailing, nil, step)
	assert.Equal(t, "record key 42 failed: try 1 failed", fail.Message)
	rec.await(t, schedule.EventRecordRecovered, nil, step)
	mu.Lock()
	assert.Equal(t, 4, tries)
	mu.Unlock()
	n := 0
	rec.mu.Lock()
	for _, e := range rec.evs {
		if e.Kind == schedule.EventRecordFailing {
			n++
		}
	}
	rec.mu.Unlock()
	assert.Equal(t, 1, n, "one event for three failures of one key")
}

// A permit window's opening and closing are events, and so is a run-now
// request that opens a closed window once.
func TestManagerEventsWindowAndRunNow(t *testing.T) {
	tt := schedule.DefaultTaskType("win")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0"}
	tt.PermitRunStartTime = "0 0 * * * ?" // every hour, until no data
	f := newEvFixture(t, tt)
	_, _, rec := f.start("host-w", idleDeal())
	rec.await(t, schedule.EventAcquire, nil, nil)
	step := func() { f.clk.Advance(time.Minute) }
	open := rec.await(t, schedule.EventWindowOpen, nil, step)
	assert.False(t, open.Time.Before(time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)), "opened before its start: %v", open.Time)
	closed := rec.await(t, schedule.EventWindowClose, nil, step)
	assert.Equal(t, "paused: no data", closed.Message)

	admin := f.srv.Connect(memstore.ClientConfig{})
	defer admin.Close()
	cur, v, err := admin.TaskType(context.Background(), "win")
	require.NoError(t, err)
	cur.RunNowAt, cur.RunNowBy = f.clk.Now(), "ops"
	_, err = admin.UpdateTaskType(context.Background(), cur, v)
	require.NoError(t, err)
	rn := rec.await(t, schedule.EventRunNow, nil, nil)
	assert.Equal(t, fmt.Sprintf("run-now asked by ops at %s: window opened", cur.RunNowAt.UTC().Format(schedule.TimeFormat)), rn.Message)
	reopen := rec.await(t, schedule.EventWindowOpen, func(e schedule.Event) bool { return e.Seq > closed.Seq }, nil)
	assert.Less(t, reopen.Seq, rn.Seq, "the window opened, then the request was reported")
	rec.await(t, schedule.EventWindowClose, func(e schedule.Event) bool { return e.Seq > rn.Seq }, nil)
}
