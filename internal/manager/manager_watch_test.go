package manager_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// orderStore records the order of a manager's registrations and Watch
// calls; failServers makes that many Watch calls of the servers fail.
type orderStore struct {
	storekit.Store
	failServers atomic.Int32

	mu    sync.Mutex
	calls []string
}

func (o *orderStore) add(call string) {
	o.mu.Lock()
	o.calls = append(o.calls, call)
	o.mu.Unlock()
}

func (o *orderStore) log() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

func (o *orderStore) RegisterServer(ctx context.Context, sess storekit.Session, rec schedule.Server) (schedule.Server, error) {
	got, err := o.Store.RegisterServer(ctx, sess, rec)
	o.add("register " + string(got.UUID))
	return got, err
}

func (o *orderStore) UnregisterServer(ctx context.Context, rt string, id schedule.ServerID) error {
	o.add("unregister " + string(id))
	return o.Store.UnregisterServer(ctx, rt, id)
}

func (o *orderStore) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	call := fmt.Sprintf("watch %d", scope.Kind)
	if scope.Kind == storekit.WatchServers && scope.Server != "" {
		call += " for " + string(scope.Server)
	}
	o.add(call)
	if scope.Kind == storekit.WatchServers && o.failServers.Add(-1) >= 0 {
		return nil, errors.New("order store: watch refused")
	}
	return o.Store.Watch(ctx, scope)
}

// runOrderManager runs a manager of task type "order" on an orderStore
// (prepared by prep) and returns the store and an observer.
func runOrderManager(t *testing.T, prep func(*orderStore)) (*orderStore, storekit.Store) {
	t.Helper()
	srv := memstore.New(memstore.Config{})
	c, obs := srv.Connect(memstore.ClientConfig{}), srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = c.Close(); _ = obs.Close() })
	tt := schedule.DefaultTaskType("order")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0", "1"}
	_, err := obs.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
	st := &orderStore{Store: c}
	prep(st)
	m, err := manager.NewManager(st, tt, "", idleDeal(), schedule.ManagerConfig{},
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
	return st, obs
}

// A manager registers its server before it arms its watches: the leader
// sees the server at once, not after the store's arming (each Watch call
// waits for the re-arming of every watch that fired; at a start of 50
// factories that was most of the 0.7 s from a manager's start to its
// registration). Its first round reads after the watches, so nothing is
// missed. The servers watch names the server (WatchScope.Server), so that
// a store need not fire it for joins and leaves behind the leader.
func TestManagerRegistersBeforeItsWatches(t *testing.T) {
	st, obs := runOrderManager(t, func(*orderStore) {})
	require.Eventually(t, func() bool {
		srvs, err := obs.Servers(context.Background(), "order")
		return err == nil && len(srvs) == 1 && len(st.log()) >= 4
	}, 10*time.Second, 5*time.Millisecond)
	calls := st.log()
	require.Regexp(t, "^register ", calls[0], "registration first: %v", calls)
	require.ElementsMatch(t, []string{
		fmt.Sprintf("watch %d for %s", storekit.WatchServers, strings.TrimPrefix(calls[0], "register ")),
		fmt.Sprintf("watch %d", storekit.WatchMark),
		fmt.Sprintf("watch %d", storekit.WatchConfig),
	}, calls[1:4], "then the session's watches, armed together: %v", calls)
}

// A server registered whose watch then fails does not stay registered
// without following: its node is removed before the manager tries again.
func TestManagerWhoseWatchFailsAfterRegisteringRemovesItsServer(t *testing.T) {
	st, obs := runOrderManager(t, func(o *orderStore) { o.failServers.Store(1) })
	var srvs []schedule.Server
	require.Eventually(t, func() bool {
		var err error
		srvs, err = obs.Servers(context.Background(), "order")
		return err == nil && len(srvs) == 1 && slices.Contains(st.log(), "register "+string(srvs[0].UUID)) &&
			st.failServers.Load() < 0
	}, 10*time.Second, 5*time.Millisecond)
	calls := st.log()
	require.Regexp(t, "^register ", calls[0], "%v", calls)
	first := calls[0][len("register "):]
	require.NotEqual(t, first, string(srvs[0].UUID), "registered again after the failure: %v", calls)
	require.Contains(t, calls, "unregister "+first, "the first server removed: %v", calls)
}

// gateStore holds the first calls of each group until every call of the
// group has come (the calls were made together), or 5 s have passed (one
// after the other: the group is recorded in apart).
type gateStore struct {
	storekit.Store

	mu     sync.Mutex
	groups map[string]*gateGroup
	apart  []string
}

type gateGroup struct {
	size, in int
	all      chan struct{}
}

func (g *gateStore) meet(group string, size int) {
	g.mu.Lock()
	gg := g.groups[group]
	if gg == nil {
		gg = &gateGroup{size: size, all: make(chan struct{})}
		g.groups[group] = gg
	}
	if gg.in == gg.size { // the group met (or gave up): later calls pass
		g.mu.Unlock()
		return
	}
	if gg.in++; gg.in == gg.size {
		close(gg.all)
	}
	g.mu.Unlock()
	select {
	case <-gg.all:
	case <-time.After(5 * time.Second):
		g.mu.Lock()
		if gg.in < gg.size {
			g.apart = append(g.apart, group)
			gg.in = gg.size
			close(gg.all)
		}
		g.mu.Unlock()
	}
}

func (g *gateStore) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	switch {
	case scope.Kind == storekit.WatchServers || scope.Kind == storekit.WatchMark || scope.Kind == storekit.WatchConfig:
		g.meet("session watches", 3)
	case scope.Kind == storekit.WatchNotes && scope.Server != storekit.LeaderBox:
		g.meet("note box watch and servers read", 2)
	}
	return g.Store.Watch(ctx, scope)
}

func (g *gateStore) ServerIDs(ctx context.Context, rt string) ([]schedule.ServerID, error) {
	g.meet("note box watch and servers read", 2)
	return g.Store.ServerIDs(ctx, rt)
}

func (g *gateStore) Servers(ctx context.Context, rt string) ([]schedule.Server, error) {
	g.meet("note box watch and servers read", 2)
	return g.Store.Servers(ctx, rt)
}

// A manager arms its session's three watches together, and its first round
// arms the watch of its note box beside its read of the servers: under
// load each round trip takes a second or more, and a leader at a cold
// start spent 4 s in them, one after the other, before it built the items.
func TestManagerArmsItsWatchesTogether(t *testing.T) {
	srv := memstore.New(memstore.Config{})
	c, obs := srv.Connect(memstore.ClientConfig{}), srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = c.Close(); _ = obs.Close() })
	tt := schedule.DefaultTaskType("gate")
	tt.DealBeanName = "idle"
	tt.TaskItems = []string{"0", "1"}
	_, err := obs.CreateTaskType(context.Background(), tt)
	require.NoError(t, err)
	st := &gateStore{Store: c, groups: map[string]*gateGroup{}}
	m, err := manager.NewManager(st, tt, "", idleDeal(), schedule.ManagerConfig{},
		manager.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	require.Eventually(t, func() bool { return len(m.Status().Owned) == 2 }, 30*time.Second, time.Millisecond)
	st.mu.Lock()
	defer st.mu.Unlock()
	require.Empty(t, st.apart, "armed or read one after the other")
	require.Len(t, st.groups, 2)
}
