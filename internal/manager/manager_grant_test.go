package manager_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
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

// vanishStore makes one server vanish between a leader's read of the
// servers and its write: at the first read that finds the leader, it
// registers a server on another client (after the leader, so not the
// leader), reads the list with it, unregisters it, and returns that list.
type vanishStore struct {
	storekit.Store
	other  storekit.Store
	me     func() schedule.ServerID
	done   atomic.Bool
	victim atomic.Value // schedule.ServerID
}

func (s *vanishStore) Servers(ctx context.Context, taskType string) ([]schedule.Server, error) {
	list, err := s.Store.Servers(ctx, taskType)
	if err != nil || len(list) == 0 || list[0].UUID != s.me() || !s.done.CompareAndSwap(false, true) {
		return list, err
	}
	sess, err := s.other.Session(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.other.RegisterServer(ctx, sess, schedule.Server{TaskType: taskType, BaseTaskType: taskType,
		OwnSign: schedule.DefaultOwnSign, IP: "10.0.0.9", HostName: "victim"})
	if err != nil {
		return nil, err
	}
	s.victim.Store(v.UUID)
	if list, err = s.Store.Servers(ctx, taskType); err != nil {
		return nil, err
	}
	if err := s.other.UnregisterServer(ctx, taskType, v.UUID); err != nil {
		return nil, err
	}
	return list, nil
}

// A server that leaves between the leader's read of the servers and its
// grants is granted nothing: the grants to it fail, and the next round,
// moments later, grants its share to the live servers. The grants went
// through, so its share stayed owned by a vanished server, held for the
// whole lock delay (here a minute) before anyone processed it.
func TestLeaderGrantToVanishedServerGoesElsewhere(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	c, other := srv.Connect(memstore.ClientConfig{}), srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = c.Close(); _ = other.Close() })
	tt := schedule.DefaultTaskType("vanish")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0", "1", "2", "3"}
	_, err := c.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
	var m *manager.Manager
	st := &vanishStore{Store: c, other: other, me: func() schedule.ServerID { return m.Status().Server }}
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))
	m, err = manager.NewManager(st, tt, "", deal,
		schedule.ManagerConfig{IP: "10.0.0.1", HostName: "leader", LockDelay: time.Minute}, manager.WithClock(clk),
		manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop within 30s")
		}
	})

	// Let fake time run in small steps, far below the lock delay, each
	// once the session loop waits; the items must all be the leader's.
	owned := func() int { return len(m.Status().Owned) }
	var elapsed time.Duration
	for ; elapsed < 5*time.Second; elapsed += 100 * time.Millisecond {
		require.Eventually(t, func() bool { return parkedIn("(*Manager).runSession") }, 10*time.Second, time.Millisecond)
		if st.done.Load() && owned() == len(tt.TaskItems) {
			break
		}
		clk.Advance(100 * time.Millisecond)
	}
	require.True(t, st.done.Load(), "the leader read the servers with the victim")
	victim := st.victim.Load().(schedule.ServerID)
	items, err := c.Items(ctx, "vanish")
	require.NoError(t, err)
	for _, it := range items.Items {
		assert.NotEqual(t, victim, it.CurServer, "item %s granted to the vanished server", it.ID)
	}
	assert.Equal(t, len(tt.TaskItems), owned(), "items owned by the leader after %v of fake time (lock delay: a minute)", elapsed)
	t.Logf("looked after %v of fake time", elapsed)
}

// stopStore asks, as a manager stops (when it removes its server node),
// that one of its items be handed over to a server that then leaves at
// once: the manager's releases find the request for a server whose node is
// gone.
type stopStore struct {
	storekit.Store
	other storekit.Store
	item  schedule.ItemID
	done  atomic.Bool
}

func (s *stopStore) UnregisterServer(ctx context.Context, taskType string, id schedule.ServerID) error {
	if s.done.CompareAndSwap(false, true) {
		sess, err := s.other.Session(ctx)
		if err != nil {
			return err
		}
		v, err := s.other.RegisterServer(ctx, sess, schedule.Server{TaskType: taskType, BaseTaskType: taskType,
			OwnSign: schedule.DefaultOwnSign, IP: "10.0.0.9", HostName: "victim"})
		if err != nil {
			return err
		}
		items, err := s.other.ItemsByID(ctx, taskType, []schedule.ItemID{s.item})
		if err != nil {
			return err
		}
		if _, err := s.other.UpdateItem(ctx, taskType, "", items.Items[0], id, v.UUID); err != nil {
			return err
		}
		if err := s.other.UnregisterServer(ctx, taskType, v.UUID); err != nil {
			return err
		}
	}
	return s.Store.UnregisterServer(ctx, taskType, id)
}

// A stopping server releases an item whose requested owner has left to
// nobody, and its stop is complete: the release to the gone server fails,
// and it stopped with "items not released" (before, the item went to the
// vanished server and waited out its lock delay).
func TestStopReleasesRequestForVanishedServerToNobody(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	c, other := srv.Connect(memstore.ClientConfig{}), srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = c.Close(); _ = other.Close() })
	tt := schedule.DefaultTaskType("stopgone")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0", "1"}
	_, err := c.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
	st := &stopStore{Store: c, other: other, item: "1"}
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))
	m, err := manager.NewManager(st, tt, "", deal,
		schedule.ManagerConfig{IP: "10.0.0.1", HostName: "stopping", LockDelay: time.Minute}, manager.WithClock(clk),
		manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	require.Eventually(t, func() bool { return len(m.Status().Owned) == 2 }, 10*time.Second, time.Millisecond)
	me := m.Status().Server
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "the stop is complete")
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop within 30s")
	}
	require.True(t, st.done.Load())
	items, err := c.Items(context.Background(), "stopgone")
	require.NoError(t, err)
	for _, it := range items.Items {
		assert.Empty(t, it.CurServer, "item %s not released to nobody (the stopping server was %s)", it.ID, me)
	}
}
