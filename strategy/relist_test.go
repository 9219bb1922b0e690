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

// staleListStore lists the factories as they were before the factory on
// host hidden registered under a strategy: a listing that starts before a
// read of the registrations has returned that factory's lacks it, and is
// answered after that read (at most a few seconds later), as a round's
// listing is when ZooKeeper answers slowly while factories register.
type staleListStore struct {
	storekit.Store
	hidden   string
	seen     atomic.Bool // a read of the registrations returned it
	seenOnce sync.Once
	seenCh   chan struct{}

	mu     sync.Mutex
	events []string // round (a read of the strategies), stale list, list, grant (hidden's requestNum raised)
}

func (s *staleListStore) record(ev string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
}

// sinceStale returns the events from the first stale listing on.
func (s *staleListStore) sinceStale() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.events, "stale list")
	if i < 0 {
		return nil
	}
	return slices.Clone(s.events[i:])
}

func (s *staleListStore) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	s.record("round")
	return s.Store.Strategies(ctx)
}

func (s *staleListStore) UpdateStrategyRuntimes(ctx context.Context, name string, guard schedule.FactoryID, rts []schedule.StrategyRuntime) ([]schedule.StrategyRuntime, error) {
	out, err := s.Store.UpdateStrategyRuntimes(ctx, name, guard, rts)
	if err == nil && slices.ContainsFunc(rts, func(rt schedule.StrategyRuntime) bool { return hostOf(rt.UUID) == s.hidden && rt.RequestNum > 0 }) {
		s.record("grant")
	}
	return out, err
}

func (s *staleListStore) saw(ids []schedule.FactoryID) {
	if slices.ContainsFunc(ids, func(id schedule.FactoryID) bool { return hostOf(id) == s.hidden }) {
		s.seen.Store(true)
		s.seenOnce.Do(func() { close(s.seenCh) })
	}
}

func (s *staleListStore) StrategyRuntimeIDs(ctx context.Context, name string) ([]schedule.FactoryID, error) {
	ids, err := s.Store.StrategyRuntimeIDs(ctx, name)
	s.saw(ids)
	return ids, err
}

func (s *staleListStore) StrategyRuntimes(ctx context.Context, name string) ([]schedule.StrategyRuntime, error) {
	rts, err := s.Store.StrategyRuntimes(ctx, name)
	ids := make([]schedule.FactoryID, len(rts))
	for i, rt := range rts {
		ids[i] = rt.UUID
	}
	s.saw(ids)
	return rts, err
}

func (s *staleListStore) FactoryIDs(ctx context.Context) ([]schedule.FactoryID, error) {
	seen := s.seen.Load() // as the listing starts
	ids, err := s.Store.FactoryIDs(ctx)
	if seen {
		s.record("list")
		return ids, err
	}
	n := len(ids)
	ids = slices.DeleteFunc(ids, func(id schedule.FactoryID) bool { return hostOf(id) == s.hidden })
	if len(ids) == n {
		return ids, err // the factory is not there yet
	}
	t := time.NewTimer(3 * time.Second) // its registration may never come this round
	defer t.Stop()
	select {
	case <-s.seenCh:
	case <-t.C:
	case <-ctx.Done():
	}
	s.record("stale list") // answered now
	return ids, err
}

// A leader whose round listed the factories before a new one registered
// under the strategy lists them again and gives the new one its thread
// group in the same round. It gave it nothing, and its next round (the
// refresh interval later here; seconds later at a start under load) gave
// it the thread group.
func TestLeaderListsFactoriesAgainForANewRegistration(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("t", 4))
	e.applyStrategy(scheduleStrategy("s1", "t", 2, 1))
	var s *staleListStore
	cfg := testConfig("a")
	cfg.RefreshInterval = time.Minute // no round but those a change starts
	e.startOn(cfg, func(c *memstore.Client) storekit.Store {
		s = &staleListStore{Store: c, hidden: "b", seenCh: make(chan struct{})}
		return s
	})
	waitFor(t, 10*time.Second, func() (bool, string) {
		got := e.requestNums("s1")
		return got["a"] == 1, fmt.Sprintf("a leads and runs one thread group: %v", got)
	})

	e.start("b")
	waitFor(t, 10*time.Second, func() (bool, string) {
		got := e.requestNums("s1")
		return got["b"] == 1, fmt.Sprintf("b given its thread group: %v", got)
	})
	evs := s.sinceStale()
	require.NotEmpty(t, evs, "the leader's listing never lacked b: the test tested nothing")
	// The leader's round that got the stale listing gave b its thread
	// group: no round began between the listing's answer and the grant.
	grant := slices.Index(evs, "grant")
	require.Positive(t, grant, "events: %v", evs)
	require.NotContains(t, evs[:grant], "round", "b's thread group waited for the leader's next round: %v", evs)
}
