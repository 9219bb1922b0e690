package manager_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// serversStore counts the reads of every server record (Servers) and
// records which records were read by id.
type serversStore struct {
	storekit.Store
	mu    sync.Mutex
	all   int
	byID  []schedule.ServerID
	lists int
	items int // ItemsByID calls
	// notesGate, when set, holds every Notes read until it is closed.
	notesGate chan struct{}
}

func (s *serversStore) ItemsByID(ctx context.Context, rt string, ids []schedule.ItemID) (schedule.Items, error) {
	s.mu.Lock()
	s.items++
	s.mu.Unlock()
	return s.Store.ItemsByID(ctx, rt, ids)
}

func (s *serversStore) Notes(ctx context.Context, rt string, box schedule.ServerID) ([]storekit.Note, error) {
	s.mu.Lock()
	gate := s.notesGate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.Notes(ctx, rt, box)
}

// holdNotes holds every Notes read until the returned func is called.
func (s *serversStore) holdNotes() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.notesGate = gate
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.notesGate = nil
		s.mu.Unlock()
		close(gate)
	}
}

func (s *serversStore) Servers(ctx context.Context, rt string) ([]schedule.Server, error) {
	s.mu.Lock()
	s.all++
	s.mu.Unlock()
	return s.Store.Servers(ctx, rt)
}

func (s *serversStore) ServerIDs(ctx context.Context, rt string) ([]schedule.ServerID, error) {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.Store.ServerIDs(ctx, rt)
}

func (s *serversStore) ServersByID(ctx context.Context, rt string, ids []schedule.ServerID) ([]schedule.Server, error) {
	s.mu.Lock()
	s.byID = append(s.byID, ids...)
	s.mu.Unlock()
	return s.Store.ServersByID(ctx, rt, ids)
}

func (s *serversStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all, s.byID, s.lists, s.items = 0, nil, 0, 0
}

func (s *serversStore) counts() (all, lists int, byID []schedule.ServerID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all, s.lists, append([]schedule.ServerID(nil), s.byID...)
}

// A server that does not lead reads the other servers' records only while
// it is next in line to lead (it would lead if the leader went, and then
// needs the lock delays of servers gone with it), and then only the records
// it has not read: at a join, the newcomer's record, not every record
// again (a join would otherwise cost every server a read of every record:
// servers² records per server joining). A server further down the line
// reads none: at a start of n servers, n² records would be read.
func TestOnlyTheNextInLineReadsServersRecords(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, _, tt := loadTaskType(t, "srvreads", 60)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var stores []*serversStore
	var mgrs []*manager.Manager
	start := func() {
		c := srv.Connect(memstore.ClientConfig{})
		t.Cleanup(func() { c.Close() })
		st := &serversStore{Store: c}
		m := newLoadManager(t, st, tt, "srv-"+strconv.Itoa(len(mgrs)), time.Hour)
		stores, mgrs = append(stores, st), append(mgrs, m)
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Run(ctx) }()
	}
	balanced := func(per int) func() bool { return func() bool { return balancedAt(&mgrs, per, 60) } }
	// One at a time: the servers register in this order.
	for i := range 3 {
		start()
		require.Eventually(t, func() bool { return mgrs[i].Status().Server != "" }, 10*time.Second, time.Millisecond)
	}
	require.Eventually(t, balanced(20), 30*time.Second, 5*time.Millisecond, "3 servers own 20 items each")
	require.True(t, mgrs[0].Status().IsLeader)
	all, _, byID := stores[2].counts()
	require.Zero(t, all, "the third server read every server record")
	require.Empty(t, byID, "the third server read records")
	for _, st := range stores {
		st.reset()
	}

	start()
	require.Eventually(t, balanced(15), 30*time.Second, 5*time.Millisecond, "4 servers own 15 items each")
	newcomer := mgrs[3].Status().Server
	all, lists, byID := stores[1].counts()
	require.Zero(t, all, "the server next in line read every server record after a join")
	require.Positive(t, lists, "the server next in line did not list the servers after the join")
	require.Equal(t, []schedule.ServerID{newcomer}, byID, "the server next in line read other records than the newcomer's")
	all, lists, byID = stores[2].counts()
	require.Zero(t, all, "the third server read every server record after a join")
	require.Positive(t, lists, "the third server did not list the servers after the join")
	require.Empty(t, byID, "the third server read records after a join")
}

// A server that does not lead, back from a suspect session (the same
// session: its watches held), resumes without a round: the session
// answering again proves it alive, a change of the servers would have fired
// their watch, and while the session lives a change to an item it owns
// leaves a note in its box, whose watch would have fired too. Under load
// every session flaps suspect many times a minute, and a round at each
// return (a listing of every server, then a read of the note box) fed the
// load.
func TestFollowerBackFromSuspicionListsNoServers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, _, tt := loadTaskType(t, "suspreads", 6)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var clients []*memstore.Client
	var stores []*serversStore
	var mgrs []*manager.Manager
	var fences []chan bool
	for i := range 2 {
		c := srv.Connect(memstore.ClientConfig{})
		t.Cleanup(func() { c.Close() })
		st := &serversStore{Store: c}
		fenced := make(chan bool, 16)
		m := newLoadManager(t, st, tt, "susp-"+strconv.Itoa(i), time.Hour, manager.WithEvents(func(e schedule.Event) {
			switch e.Kind {
			case schedule.EventFence:
				fenced <- true
			case schedule.EventUnfence:
				fenced <- false
			}
		}))
		fences = append(fences, fenced)
		clients, stores, mgrs = append(clients, c), append(stores, st), append(mgrs, m)
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Run(ctx) }()
	}
	require.Eventually(t, func() bool {
		for _, m := range mgrs {
			st := m.Status()
			if len(st.Owned) != 3 || len(st.Releasing) != 0 || st.Servers != 2 {
				return false
			}
		}
		return true
	}, 30*time.Second, 5*time.Millisecond, "2 servers own 3 items each")
	follower := 0
	if mgrs[0].Status().IsLeader {
		follower = 1
	}
	m, c, st := mgrs[follower], clients[follower], stores[follower]

	c.Disconnect(time.Hour)
	waitFence(t, fences[follower], true)
	st.reset()
	// No read of the note box is answered until the follower resumed: it
	// resumes without one (the guard lifted before, when a round read the
	// box, and a round may still run for a change meanwhile).
	release := st.holdNotes()
	c.Reconnect()
	waitFence(t, fences[follower], false)
	release()
	all, lists, byID := st.counts()
	require.Zero(t, all, "the follower read every server record when its session was back")
	require.Zero(t, lists, "the follower listed the servers when its session was back")
	require.Empty(t, byID)
	st.mu.Lock()
	items := st.items
	st.mu.Unlock()
	require.Zero(t, items, "the follower read its items again when its session was back (its notes tell what changed)")
	require.Len(t, m.Status().Owned, 3)
}

// waitFence waits for a fence (on) or unfence event on ch.
func waitFence(t *testing.T, ch <-chan bool, on bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == on {
				return
			}
		case <-timeout:
			t.Fatalf("no fence event (on: %v) within 10 s", on)
		}
	}
}
