package strategy_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// countingStore counts the factory's refreshes (every refresh lists the
// strategies) and, when sessionLost is set, fails every registration of
// the factory as if its session had ended.
type countingStore struct {
	storekit.Store
	refreshes   atomic.Int64
	registers   atomic.Int64
	sessionLost atomic.Bool
	// closedWatch: Watch of the configuration returns a closed channel.
	closedWatch atomic.Bool

	mu             sync.Mutex
	factoryWatches []schedule.FactoryID // the Factory of each WatchFactories call
}

func (c *countingStore) watchedFactories() []schedule.FactoryID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.factoryWatches)
}

func (c *countingStore) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	if scope.Kind == storekit.WatchFactories {
		c.mu.Lock()
		c.factoryWatches = append(c.factoryWatches, scope.Factory)
		c.mu.Unlock()
	}
	if scope.Kind == storekit.WatchConfig && c.closedWatch.Load() {
		ch := make(chan struct{})
		close(ch)
		return ch, nil
	}
	return c.Store.Watch(ctx, scope)
}

func (c *countingStore) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	c.refreshes.Add(1)
	return c.Store.Strategies(ctx)
}

func (c *countingStore) RegisterFactory(ctx context.Context, sess storekit.Session, rec schedule.Factory) (schedule.Factory, error) {
	c.registers.Add(1)
	if c.sessionLost.Load() {
		return schedule.Factory{}, fmt.Errorf("counting store: register factory: %w", schedule.ErrSessionLost)
	}
	return c.Store.RegisterFactory(ctx, sess, rec)
}

// fakeEnv runs one factory on memstore with a fake clock, its store
// wrapped in a countingStore.
type fakeEnv struct {
	*env
	clock *fakeclock.Clock
	store *countingStore
	f     *strategy.Factory
}

func newFakeEnv(t *testing.T, prep func(*countingStore), setups ...setup) *fakeEnv {
	clock := fakeclock.New(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clock))
	obs := srv.Connect(memstore.ClientConfig{SessionTimeout: sessionTimeout})
	t.Cleanup(func() { _ = obs.Close() })
	e := &env{t: t, srv: srv, obs: obs, admin: strategy.NewAdmin(obs, strategy.AdminConfig{Operator: "test"}), ctx: context.Background()}
	c := srv.Connect(memstore.ClientConfig{SessionTimeout: sessionTimeout})
	t.Cleanup(func() { _ = c.Close() })
	cs := &countingStore{Store: c}
	if prep != nil {
		prep(cs)
	}
	cfg := testConfig("a")
	cfg.RetryMin, cfg.RetryMax = time.Second, 4*time.Second
	cfg.RefreshInterval = time.Hour // no resync within the test's span
	f, err := strategy.NewFactory(cs, cfg, strategy.WithClock(clock), strategy.WithLogger(testLogger()))
	require.NoError(t, err)
	for _, s := range setups {
		require.NoError(t, s(f))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("factory did not stop within 30s")
		}
	})
	return &fakeEnv{env: e, clock: clock, store: cs, f: f}
}

// span advances the fake clock by total in steps, and after each step
// waits until the factory's loop waits for a timer again (the only
// one-shot timer in these tests is the loop's wake-up or backoff), or until
// count exceeds limit. It returns count's growth over the span.
func (e *fakeEnv) span(total, step time.Duration, count func() int64, limit int64) int64 {
	e.t.Helper()
	start := count()
	settle := func() {
		waitFor(e.t, 10*time.Second, func() (bool, string) {
			n := count() - start
			return e.clock.Timers() > 0 || n > limit, fmt.Sprintf("the loop waits for a timer (count %d)", n)
		})
	}
	settle()
	for elapsed := time.Duration(0); elapsed < total && count()-start <= limit; elapsed += step {
		e.clock.Advance(step)
		settle()
	}
	return count() - start
}

// With a corrupt strategy node every refresh fails; a failed start of
// another strategy shortly before left its retry time behind. The loop must
// wake at the refresh's backoff, not at once forever: the old wake-up
// computation kept returning the past retry time (~300k reads/s).
func TestCorruptStrategyAndFailedStartDoNotSpin(t *testing.T) {
	e := newFakeEnv(t, nil) // the task "missing" is not registered: its start fails
	e.applyStrategy(beanStrategy("broken", "missing", 1))
	e.applyStrategy(beanStrategy("garbled", "missing", 1))
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, ok := e.f.Status().Strategy("broken")
		return ok && !st.RetryAt.IsZero(), fmt.Sprintf("a failed start: %+v", st)
	})
	require.NoError(t, e.srv.WriteRaw("/strategy/garbled", []byte("{not json")))
	waitFor(t, 10*time.Second, func() (bool, string) {
		return e.f.Status().LastError != "", "the refresh fails"
	})
	before := e.srv.Stats().Reads

	const total, retryMin = 20 * time.Second, time.Second
	// Refreshes are retried with backoff: at least RetryMin/2 apart.
	limit := int64(total/(retryMin/2)) + 2
	n := e.span(total, 100*time.Millisecond, e.store.refreshes.Load, limit)
	reads := e.srv.Stats().Reads - before
	t.Logf("over %v of fake time: %d refreshes, %d reads", total, n, reads)
	assert.LessOrEqual(t, n, limit, "refreshes over %v with a backoff of at least %v", total, retryMin/2)
	assert.LessOrEqual(t, reads, 4*limit, "reads: a refresh that fails reads at most 4 times")
	assert.Positive(t, n, "the failed refresh is retried")
	st, _ := e.f.Status().Strategy("broken")
	assert.NotEmpty(t, st.LastError, "the failed start is still shown")
}

// A store that hands out a session on which every call fails with
// ErrSessionLost (zkstore does for a moment, between a new session on the
// connection and its event) must not be asked for a session again at once,
// forever: the old loop did, without a pause.
func TestSessionLostAtOnceDoesNotSpin(t *testing.T) {
	e := newFakeEnv(t, func(c *countingStore) { c.sessionLost.Store(true) })
	const total, retryMin = 20 * time.Second, time.Second
	limit := int64(total/(retryMin/2)) + 2
	n := e.span(total, 100*time.Millisecond, e.store.registers.Load, limit)
	t.Logf("over %v of fake time: %d registrations tried", total, n)
	assert.LessOrEqual(t, n, limit, "registrations over %v with a backoff of at least %v", total, retryMin/2)
	assert.Positive(t, n, "the registration is retried")
	assert.Contains(t, e.f.Status().LastError, "session", "the failure is shown")

	// Once the session works again, the factory registers.
	e.store.sessionLost.Store(false)
	waitFor(t, 10*time.Second, func() (bool, string) {
		e.clock.Advance(100 * time.Millisecond)
		return e.f.Status().Factory != "", "registered"
	})
}

// A watch channel that is closed (the contract closes it only when the
// store closes) must not call for a round at once, forever: the old loop
// refreshed without a pause while the session stayed connected.
func TestClosedWatchDoesNotSpin(t *testing.T) {
	// A start that keeps failing keeps a retry pending: the loop waits for
	// a timer between rounds (what span waits for). The strategy exists
	// before the factory starts: no watch tells of it later.
	e := newFakeEnv(t, func(c *countingStore) {
		_, err := strategy.NewAdmin(c, strategy.AdminConfig{}).ApplyStrategy(context.Background(), beanStrategy("broken", "missing", 1))
		require.NoError(t, err)
		c.closedWatch.Store(true)
	})
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, ok := e.f.Status().Strategy("broken")
		return ok && !st.RetryAt.IsZero(), fmt.Sprintf("a failed start: %+v", st)
	})
	const total, retryMin = 20 * time.Second, time.Second
	// The retries of the start, at least RetryMin/2 apart, and the round
	// the closing called for.
	limit := int64(total/(retryMin/2)) + 3
	n := e.span(total, 100*time.Millisecond, e.store.refreshes.Load, limit)
	t.Logf("over %v of fake time: %d refreshes", total, n)
	assert.LessOrEqual(t, n, limit, "refreshes over %v", total)
}

// A factory watches its own node and its machine's state, not every
// factory: its WatchFactories names it (WatchScope.Factory), so that a
// store need not run every factory's round at every other factory's join.
func TestFactoryWatchesItsOwnNodeOnly(t *testing.T) {
	e := newFakeEnv(t, nil)
	waitFor(t, 10*time.Second, func() (bool, string) {
		ids, err := e.obs.FactoryIDs(e.ctx)
		got := e.store.watchedFactories()
		return err == nil && len(ids) == 1 && slices.Equal(got, ids),
			fmt.Sprintf("factories watched for %q; registered %q (%v)", got, ids, err)
	})
}

// A factory without Bean strategies runs no round when its session, suspect
// for a while, is connected again: nothing waits for one (its watches
// outlived the cut), and a round at every return from suspicion, listing
// every strategy's registrations, loaded ZooKeeper more the more its
// sessions turned suspect. The next change still brings exactly one.
func TestNoRoundAfterSuspicionWithoutBeanStrategies(t *testing.T) {
	e := newFakeEnv(t, nil)
	client := e.store.Store.(*memstore.Client)
	status := func(want schedule.SessionState) {
		t.Helper()
		waitFor(t, 10*time.Second, func() (bool, string) {
			st := e.f.Status()
			return st.Session == want && st.Factory != "", fmt.Sprintf("session %v, factory %q", st.Session, st.Factory)
		})
	}
	status(schedule.SessionConnected)
	// The stop flag set and cleared: a round each, after the start's.
	stopped := func(want bool) {
		t.Helper()
		waitFor(t, 10*time.Second, func() (bool, string) {
			return e.f.Status().Stopped == want, fmt.Sprintf("stop flag %v seen", want)
		})
	}
	require.NoError(t, e.admin.StopFactory(e.ctx, "127.0.0.1", "a", "test"))
	stopped(true)
	require.NoError(t, e.admin.StartFactory(e.ctx, "127.0.0.1", "a"))
	stopped(false)
	before := e.store.refreshes.Load()
	client.Disconnect(time.Hour)
	status(schedule.SessionSuspect)
	client.Reconnect()
	status(schedule.SessionConnected)
	// A change of the machine's stop flag brings one round, after any the
	// reconnection would have brought.
	require.NoError(t, e.admin.StopFactory(e.ctx, "127.0.0.1", "a", "test"))
	stopped(true)
	assert.Equal(t, int64(1), e.store.refreshes.Load()-before, "rounds after the cut and the stop flag")
}
