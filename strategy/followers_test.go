package strategy_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// runtimeReads counts a factory's reads of the registrations: of every
// registration (StrategyRuntimes) and of its own (StrategyRuntime).
type runtimeReads struct {
	storekit.Store
	all, own  atomic.Int64
	factories atomic.Int64 // reads of every factory record (Factories)
	ids       atomic.Int64 // listings of the registrations' ids
}

func (r *runtimeReads) StrategyRuntimeIDs(ctx context.Context, name string) ([]schedule.FactoryID, error) {
	r.ids.Add(1)
	return r.Store.StrategyRuntimeIDs(ctx, name)
}

func (r *runtimeReads) Factories(ctx context.Context) ([]schedule.Factory, error) {
	r.factories.Add(1)
	return r.Store.Factories(ctx)
}

func (r *runtimeReads) StrategyRuntimes(ctx context.Context, name string) ([]schedule.StrategyRuntime, error) {
	r.all.Add(1)
	return r.Store.StrategyRuntimes(ctx, name)
}

func (r *runtimeReads) StrategyRuntime(ctx context.Context, name string, id schedule.FactoryID) (schedule.StrategyRuntime, error) {
	r.own.Add(1)
	return r.Store.StrategyRuntime(ctx, name, id)
}

// A factory that does not lead a Schedule strategy reads the ids of the
// registrations and its own, never every registration, however often the
// others' registrations change (a registration write made every factory
// read every registration: O(factories²) reads at a start); the leader
// reads them all. When the leader leaves, the next factory leads and
// distributes.
func TestFollowerReadsOnlyItsOwnRegistration(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("fw", 4))
	e.applyStrategy(scheduleStrategy("fw-s", "fw", 2, 1))
	procs := map[string]*proc{}
	reads := map[string]*runtimeReads{}
	for _, h := range []string{"a", "b", "c"} { // a registers first: it leads
		var r *runtimeReads
		cfg := testConfig(h)
		cfg.RefreshInterval = time.Minute // the watches do the work: no round by the clock
		procs[h] = e.startOn(cfg, func(c *memstore.Client) storekit.Store {
			r = &runtimeReads{Store: c}
			return r
		})
		reads[h] = r
		waitFor(t, 10*time.Second, func() (bool, string) {
			_, ok := e.requestNums("fw-s")[h]
			return ok, h + " registered under the strategy"
		})
	}
	running := func() map[string]int {
		t.Helper()
		waitFor(t, 20*time.Second, func() (bool, string) {
			req, cur := e.requestNums("fw-s"), e.currentNums("fw-s")
			sum := 0
			for _, n := range req {
				sum += n
			}
			return sum == 2 && mapsEqual(req, cur) && mapsEqual(e.servers("fw"), nonZero(req)),
				fmt.Sprintf("requestNum %v, currentNum %v", req, cur)
		})
		return e.requestNums("fw-s")
	}
	running()
	leads := func(h string) bool {
		st, ok := procs[h].f.Status().Strategy("fw-s")
		return ok && st.Leader
	}
	require.True(t, leads("a"), "the first factory leads")

	// From now on b and c read no one's registration but their own. The
	// strategy changes twice: the leader moves the thread groups, and
	// every factory's registration changes (its requestNum, its report).
	allB, allC := reads["b"].all.Load(), reads["c"].all.Load()
	ownB, ownC, allA := reads["b"].own.Load(), reads["c"].own.Load(), reads["a"].all.Load()
	idsB, idsC := reads["b"].ids.Load(), reads["c"].ids.Load()
	e.applyStrategy(scheduleStrategy("fw-s", "fw", 3, 1))
	want := map[string]int{"a": 1, "b": 1, "c": 1}
	e.waitRunning("fw-s", "fw", want, 20*time.Second)
	e.applyStrategy(scheduleStrategy("fw-s", "fw", 1, 1))
	waitFor(t, 20*time.Second, func() (bool, string) {
		req, cur := e.requestNums("fw-s"), e.currentNums("fw-s")
		sum := 0
		for _, n := range req {
			sum += n
		}
		return sum == 1 && mapsEqual(req, cur), fmt.Sprintf("one thread group: requestNum %v, currentNum %v", req, cur)
	})
	assert.Equal(t, allB, reads["b"].all.Load(), "b, not leading, read every registration")
	assert.Equal(t, allC, reads["c"].all.Load(), "c, not leading, read every registration")
	assert.Greater(t, reads["b"].own.Load(), ownB, "b read its own registration")
	assert.Greater(t, reads["c"].own.Load(), ownC, "c read its own registration")
	assert.Greater(t, reads["a"].all.Load(), allA, "the leader read every registration")
	// Nor do they list the registrations again while the leader's is
	// there (a listing of n registrations per strategy per round: n² at a
	// start).
	assert.Equal(t, idsB, reads["b"].ids.Load(), "b, not leading, listed the registrations")
	assert.Equal(t, idsC, reads["c"].ids.Load(), "c, not leading, listed the registrations")
	// A round lists the live factories' ids; no factory reads their
	// records (every new factory's record cost every factory a read).
	for h, r := range reads {
		assert.Zero(t, r.factories.Load(), "%s read the factory records", h)
	}

	// The leader stops leading: an operator removes its factory node, it
	// registers again (a higher sequence), and b leads. a then reads no
	// one's registration but its own again.
	e.applyStrategy(scheduleStrategy("fw-s", "fw", 2, 1))
	running()
	old := procs["a"].f.Status().Factory
	require.NoError(t, e.obs.UnregisterFactory(e.ctx, old))
	waitFor(t, 10*time.Second, func() (bool, string) {
		st := procs["a"].f.Status().Factory
		return st != "" && st != old, "a registered again"
	})
	waitFor(t, 10*time.Second, func() (bool, string) { return leads("b") && !leads("a"), "b leads, a does not" })
	running()
	allA = reads["a"].all.Load()
	e.applyStrategy(scheduleStrategy("fw-s", "fw", 3, 1))
	e.waitRunning("fw-s", "fw", want, 20*time.Second)
	assert.Equal(t, allA, reads["a"].all.Load(), "a, no longer leading, read every registration")

	// The leader leaves: c (registered before a's new registration) leads,
	// reads every registration, and distributes.
	e.applyStrategy(scheduleStrategy("fw-s", "fw", 2, 1))
	running()
	allC = reads["c"].all.Load()
	require.NoError(t, procs["b"].stop(t))
	e.waitRunning("fw-s", "fw", map[string]int{"a": 1, "c": 1}, 20*time.Second)
	waitFor(t, 10*time.Second, func() (bool, string) { return leads("c"), "c leads" })
	assert.Greater(t, reads["c"].all.Load(), allC, "c, leading, read every registration")
	assert.False(t, leads("a"), "a leads too")
}
