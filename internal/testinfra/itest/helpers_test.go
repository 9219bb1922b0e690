package itest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// testTaskType returns a task type with n items "0".."n-1" and short timings.
func testTaskType(name string, n int) schedule.TaskType {
	tt := schedule.DefaultTaskType(name)
	tt.DealBeanName = "recorder"
	tt.HeartBeatRate = 500 * time.Millisecond
	tt.JudgeDeadInterval = 5 * time.Second
	tt.SleepTimeNoData = 50 * time.Millisecond
	tt.FetchDataNumber = 4
	tt.ThreadNumber = 2
	tt.TaskItems = itemDefs(0, n)
	return tt
}

func itemDefs(from, to int) []string {
	var defs []string
	for i := from; i < to; i++ {
		defs = append(defs, strconv.Itoa(i))
	}
	return defs
}

// running is one manager running in this process.
type running struct {
	name   string
	m      *manager.Manager
	store  storekit.Store
	cancel context.CancelFunc
	done   chan error
}

// startManager runs a manager named name on its own client of b.
func startManager(t *testing.T, b backend, tt schedule.TaskType, name string, deal processor.Deal) *running {
	t.Helper()
	store := b.open(t)
	return startManagerOn(t, b, store, tt, name, deal)
}

func startManagerOn(t *testing.T, b backend, store storekit.Store, tt schedule.TaskType, name string, deal processor.Deal) *running {
	t.Helper()
	return startManagerSign(t, b, store, tt, name, "", deal)
}

// startManagerSign runs a manager named name for ownSign on store.
func startManagerSign(t *testing.T, b backend, store storekit.Store, tt schedule.TaskType, name, ownSign string, deal processor.Deal, opts ...manager.ManagerOption) *running {
	t.Helper()
	return startManagerCfg(t, b, store, tt, name, ownSign, deal, managerConfig(name), opts...)
}

// managerConfig is the configuration of a test manager named name.
func managerConfig(name string) schedule.ManagerConfig {
	return schedule.ManagerConfig{IP: "127.0.0.1", HostName: name, ShutdownTimeout: 2 * time.Second}
}

// startManagerCfg runs a manager named name for ownSign on store with cfg.
func startManagerCfg(t *testing.T, b backend, store storekit.Store, tt schedule.TaskType, name, ownSign string, deal processor.Deal, cfg schedule.ManagerConfig, opts ...manager.ManagerOption) *running {
	t.Helper()
	opts = append([]manager.ManagerOption{
		manager.WithLogger(testLogger().With("mgr", name)), manager.WithClock(b.clock)}, opts...)
	m, err := manager.NewManager(store, tt, ownSign, deal, cfg, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{name: name, m: m, store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop stops the manager gracefully and waits for Run to return.
func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		require.NoError(t, err, "manager %s", r.name)
	case <-time.After(30 * time.Second):
		t.Fatalf("manager %s did not stop within 30s", r.name)
	}
}

// ownership is what an observer reads of a runtime.
type ownership struct {
	servers []schedule.ServerID
	owner   map[schedule.ItemID]schedule.ServerID // active items only
	removed map[schedule.ItemID]schedule.ServerID // removed items and their owner ("" = released)
	pending int                                   // active items with a req_server set
	epochs  map[schedule.ItemID]int64
}

func readOwnership(t testing.TB, s interface {
	storekit.ServerStore
	storekit.ItemStore
}, runtime string) ownership {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	servers, err := s.Servers(ctx, runtime)
	require.NoError(t, err)
	items, err := s.Items(ctx, runtime)
	require.NoError(t, err)
	o := ownership{owner: map[schedule.ItemID]schedule.ServerID{}, removed: map[schedule.ItemID]schedule.ServerID{}, epochs: map[schedule.ItemID]int64{}}
	for _, sv := range servers {
		o.servers = append(o.servers, sv.UUID)
	}
	for _, it := range items.Items {
		o.epochs[it.ID] = it.Epoch
		if it.Sts == schedule.ItemRemoved {
			o.removed[it.ID] = it.CurServer
			continue
		}
		o.owner[it.ID] = it.CurServer
		if it.ReqServer != "" {
			o.pending++
		}
	}
	return o
}

// balanced explains why o is not balanced over n live servers and items
// active items, or returns "".
func (o ownership) balanced(n, items int) string {
	if len(o.servers) != n {
		return fmt.Sprintf("%d live servers, want %d", len(o.servers), n)
	}
	if len(o.owner) != items {
		return fmt.Sprintf("%d active items, want %d", len(o.owner), items)
	}
	if o.pending > 0 {
		return fmt.Sprintf("%d handovers pending", o.pending)
	}
	load := map[schedule.ServerID]int{}
	for item, srv := range o.owner {
		if !slices.Contains(o.servers, srv) {
			return fmt.Sprintf("item %s owned by %q, not a live server", item, srv)
		}
		load[srv]++
	}
	lo, hi := items, 0
	for _, srv := range o.servers {
		lo, hi = min(lo, load[srv]), max(hi, load[srv])
	}
	if hi-lo > 1 {
		return fmt.Sprintf("loads %v not within ±1", load)
	}
	for item, srv := range o.removed {
		if srv != "" {
			return fmt.Sprintf("removed item %s still owned by %s", item, srv)
		}
	}
	return ""
}

// waitBalanced waits until the runtime is balanced and returns how long it took.
func waitBalanced(t testing.TB, s interface {
	storekit.ServerStore
	storekit.ItemStore
}, runtime string, servers, items int, within time.Duration) (ownership, time.Duration) {
	t.Helper()
	var o ownership
	took := waitUntil(t, within, func() (bool, string) {
		o = readOwnership(t, s, runtime)
		why := o.balanced(servers, items)
		return why == "", fmt.Sprintf("runtime %s not balanced over %d servers: %s", runtime, servers, why)
	})
	return o, took
}

// serverOf returns the server id a running manager registered under.
func serverOf(t testing.TB, r *running) schedule.ServerID {
	t.Helper()
	var id schedule.ServerID
	require.Eventually(t, func() bool { id = r.m.Status().Server; return id != "" }, 10*time.Second, 5*time.Millisecond)
	return id
}
