package strategy_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// overlapStore counts how many reads of a group are in flight at once. Until
// a group has had want reads in flight together, each read of it waits for
// the others (at most hold): reads sent together all arrive and pass at
// once, reads sent one after another never overlap (each passes after hold).
type overlapStore struct {
	storekit.Store
	hold time.Duration

	mu     sync.Mutex
	groups map[string]*overlapGroup
	calls  []string
}

type overlapGroup struct {
	want, inFlight, most int
	full                 chan struct{} // closed once want reads were in flight together
}

func newOverlapStore(s storekit.Store, hold time.Duration, want map[string]int) *overlapStore {
	o := &overlapStore{Store: s, hold: hold, groups: map[string]*overlapGroup{}}
	for g, n := range want {
		o.groups[g] = &overlapGroup{want: n, full: make(chan struct{})}
	}
	return o
}

// enter counts a read of group g in and waits as described above; the
// returned function counts it out.
func (o *overlapStore) enter(g string) func() {
	o.mu.Lock()
	grp := o.groups[g]
	done := grp.most >= grp.want // before: the gate is open
	grp.inFlight++
	grp.most = max(grp.most, grp.inFlight)
	if !done && grp.most >= grp.want {
		close(grp.full)
	}
	full := grp.full
	o.mu.Unlock()
	if !done {
		t := time.NewTimer(o.hold)
		select {
		case <-full:
		case <-t.C:
		}
		t.Stop()
	}
	return func() {
		o.mu.Lock()
		grp.inFlight--
		o.mu.Unlock()
	}
}

// most returns the most reads of group g that were in flight at once.
func (o *overlapStore) most(g string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.groups[g].most
}

func (o *overlapStore) FactoryState(ctx context.Context, ip, host string) (schedule.FactoryState, error) {
	defer o.enter("round")()
	return o.Store.FactoryState(ctx, ip, host)
}

func (o *overlapStore) FactoryIDs(ctx context.Context) ([]schedule.FactoryID, error) {
	defer o.enter("round")()
	return o.Store.FactoryIDs(ctx)
}

func (o *overlapStore) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	defer o.enter("round")()
	return o.Store.Strategies(ctx)
}

func (o *overlapStore) StrategyRuntimes(ctx context.Context, name string) ([]schedule.StrategyRuntime, error) {
	defer o.enter("runtimes")()
	return o.Store.StrategyRuntimes(ctx, name)
}

// StrategyRuntime is the registrations' read of a factory that does not
// lead a Schedule strategy (with StrategyRuntimeIDs, sent with it).
func (o *overlapStore) StrategyRuntime(ctx context.Context, name string, id schedule.FactoryID) (schedule.StrategyRuntime, error) {
	defer o.enter("runtimes")()
	return o.Store.StrategyRuntime(ctx, name, id)
}

func (o *overlapStore) TaskType(ctx context.Context, base string) (schedule.TaskType, schedule.Version, error) {
	defer o.enter("runtimes")()
	return o.Store.TaskType(ctx, base)
}

func (o *overlapStore) RegisterStrategyRuntime(ctx context.Context, sess storekit.Session, rt schedule.StrategyRuntime) (schedule.StrategyRuntime, error) {
	o.record("register")
	return o.Store.RegisterStrategyRuntime(ctx, sess, rt)
}

func (o *overlapStore) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	if scope.Kind == storekit.WatchStrategyRuntimes || scope.Kind == storekit.WatchStrategyRuntime {
		o.record("watch")
	}
	return o.Store.Watch(ctx, scope)
}

// record notes a call in the order of calls.
func (o *overlapStore) record(call string) {
	o.mu.Lock()
	o.calls = append(o.calls, call)
	o.mu.Unlock()
}

func (o *overlapStore) order() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

// A refresh sends its reads together: the factory's state, the factory list
// and the strategies in one go, and the strategies are reconciled
// concurrently (their registrations read together). Sent one after another,
// a round cost the sum of its round trips: at 50 factories × 2 strategies
// under load, a leader's round took 0.6 s and the distribution reached every
// factory only after several of them.
func TestRefreshSendsItsReadsTogether(t *testing.T) {
	e := newEnv(t)
	e.applyStrategy(beanStrategy("b1", "t", 1))
	e.applyStrategy(beanStrategy("b2", "t", 1))
	var o *overlapStore
	wrap := func(c *memstore.Client) storekit.Store {
		o = newOverlapStore(c, 500*time.Millisecond, map[string]int{"round": 3, "runtimes": 2})
		return o
	}
	runs := &copyLog{}
	p := e.startOn(testConfig("a"), wrap, withTask("t", runs.task("a")))
	waitFor(t, 20*time.Second, func() (bool, string) {
		n := 0
		for _, name := range []string{"b1", "b2"} {
			if st, ok := p.f.Status().Strategy(name); ok && st.CurrentNum == 1 {
				n++
			}
		}
		return n == 2, fmt.Sprintf("both copies running (%d)", n)
	})
	require.Equal(t, 3, o.most("round"), "the factory's state, the factories and the strategies read together")
	require.Equal(t, 2, o.most("runtimes"), "both strategies' registrations read together")
}

// A Schedule strategy's task type and its registrations are read together,
// and the factory registers under the strategy before it arms the watch of
// the registrations (whose arming waits for the store's re-arming of every
// watch that fired): the leader sees the registration sooner, and the
// registrations are read after the watch, so nothing is missed.
func TestStrategyReadsItsTaskTypeAndRegistrationsTogether(t *testing.T) {
	e := newEnv(t)
	tt := taskType("tt", 2)
	tt.DealBeanName = "unregistered" // no manager starts: the factory alone reads
	e.applyTaskType(tt)
	e.applyStrategy(scheduleStrategy("s1", "tt", 1, 1))
	var o *overlapStore
	wrap := func(c *memstore.Client) storekit.Store {
		o = newOverlapStore(c, 500*time.Millisecond, map[string]int{"round": 3, "runtimes": 2})
		return o
	}
	p := e.startOn(testConfig("a"), wrap)
	waitFor(t, 20*time.Second, func() (bool, string) {
		st, ok := p.f.Status().Strategy("s1")
		return ok && st.Registered && st.RetryAt.After(time.Time{}), fmt.Sprintf("registered, its start failed: %+v", st)
	})
	require.Equal(t, 2, o.most("runtimes"), "the task type and the registrations read together")
	require.Equal(t, []string{"register", "watch"}, o.order()[:2], "registered, then watched")
}

// firstListStore holds the first read of the factories until the factory
// has registered under a strategy, or hold has passed.
type firstListStore struct {
	storekit.Store
	hold       time.Duration
	registered chan struct{}
	once       sync.Once
	first      atomic.Bool
	released   atomic.Bool // the first read was let go by a registration
}

func (s *firstListStore) RegisterStrategyRuntime(ctx context.Context, sess storekit.Session, rt schedule.StrategyRuntime) (schedule.StrategyRuntime, error) {
	got, err := s.Store.RegisterStrategyRuntime(ctx, sess, rt)
	s.once.Do(func() { close(s.registered) })
	return got, err
}

func (s *firstListStore) FactoryIDs(ctx context.Context) ([]schedule.FactoryID, error) {
	if s.first.CompareAndSwap(false, true) {
		t := time.NewTimer(s.hold)
		select {
		case <-s.registered:
			s.released.Store(true)
		case <-t.C:
		}
		t.Stop()
	}
	return s.Store.FactoryIDs(ctx)
}

// A factory that has just registered does not wait for its first read of
// the factories (every record: 0.3–0.6 s at 50 factories under load)
// before registering under the strategies: only the leader's decision
// needs the list.
func TestFirstRoundRegistersWithoutWaitingForTheFactoryList(t *testing.T) {
	e := newEnv(t)
	e.applyStrategy(beanStrategy("b1", "t", 1))
	var s *firstListStore
	wrap := func(c *memstore.Client) storekit.Store {
		s = &firstListStore{Store: c, hold: 500 * time.Millisecond, registered: make(chan struct{})}
		return s
	}
	runs := &copyLog{}
	p := e.startOn(testConfig("a"), wrap, withTask("t", runs.task("a")))
	waitFor(t, 20*time.Second, func() (bool, string) {
		st, ok := p.f.Status().Strategy("b1")
		return ok && st.CurrentNum == 1, fmt.Sprintf("the copy running: %+v", st)
	})
	require.True(t, s.released.Load(), "registered under the strategy while the factories were being read")
}
