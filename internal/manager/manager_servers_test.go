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
	s.all, s.byID, s.lists = 0, nil, 0
}

func (s *serversStore) counts() (all, lists int, byID []schedule.ServerID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all, s.lists, append([]schedule.ServerID(nil), s.byID...)
}

// A server that does not lead reads the other servers' records once: when
// a server joins, it lists the ids and reads only the newcomer's record,
// not every record again (a join would otherwise cost every server a read
// of every record: servers² records per server joining).
func TestFollowerReadsOnlyNewServersRecords(t *testing.T) {
	srv := memstore.New(memstore.Config{})
	admin := srv.Connect(memstore.ClientConfig{})
	defer admin.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tt := schedule.DefaultTaskType("srvreads")
	tt.DealBeanName = "loadDeal"
	for i := range 60 {
		tt.TaskItems = append(tt.TaskItems, strconv.Itoa(i))
	}
	_, err := admin.CreateTaskType(ctx, tt)
	require.NoError(t, err)

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
	balanced := func(per int) func() bool {
		return func() bool {
			for _, m := range mgrs {
				st := m.Status()
				if len(st.Owned) != per || len(st.Releasing) != 0 || st.Items != 60 || st.Servers != len(mgrs) {
					return false
				}
			}
			return true
		}
	}
	for range 3 {
		start()
	}
	require.Eventually(t, balanced(20), 30*time.Second, 5*time.Millisecond, "3 servers own 20 items each")
	follower := 0
	for mgrs[follower].Status().IsLeader {
		follower++
	}
	stores[follower].reset()

	start()
	require.Eventually(t, balanced(15), 30*time.Second, 5*time.Millisecond, "4 servers own 15 items each")
	newcomer := mgrs[3].Status().Server
	all, lists, byID := stores[follower].counts()
	require.Zero(t, all, "a follower read every server record after a join")
	require.Positive(t, lists, "the follower did not list the servers after the join")
	require.Equal(t, []schedule.ServerID{newcomer}, byID, "the follower read other records than the newcomer's")
}
