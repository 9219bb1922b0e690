package strategy

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func planFactory(seq int) schedule.Factory {
	return schedule.Factory{UUID: schedule.FactoryID(fmt.Sprintf("10.0.0.1$h%d$U%d$%010d", seq, seq, seq)), Seq: int64(seq)}
}

func TestLeaderOf(t *testing.T) {
	f1, f2, f3 := planFactory(1), planFactory(2), planFactory(3)
	rt := func(f schedule.Factory) schedule.StrategyRuntime { return schedule.StrategyRuntime{UUID: f.UUID} }
	tests := []struct {
		name string
		rts  []schedule.StrategyRuntime
		live []schedule.Factory
		want schedule.FactoryID
	}{
		{"lowest live registered", []schedule.StrategyRuntime{rt(f3), rt(f2)}, []schedule.Factory{f1, f2, f3}, f2.UUID},
		{"registration without a live factory never leads", []schedule.StrategyRuntime{rt(f1), rt(f3)}, []schedule.Factory{f2, f3}, f3.UUID},
		{"garbage id never leads", []schedule.StrategyRuntime{{UUID: "garbage"}, rt(f2)}, []schedule.Factory{f2}, f2.UUID},
		{"none", []schedule.StrategyRuntime{rt(f1)}, nil, ""},
		{"empty", nil, []schedule.Factory{f1}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, leaderOf(tc.rts, tc.live))
		})
	}
}

// A registration of a factory the listing lacks makes the leader list the
// factories again.
func TestUnlisted(t *testing.T) {
	f1, f2, f3 := planFactory(1), planFactory(2), planFactory(3)
	rt := func(f schedule.Factory) schedule.StrategyRuntime { return schedule.StrategyRuntime{UUID: f.UUID} }
	tests := []struct {
		name string
		rts  []schedule.StrategyRuntime
		live []schedule.Factory
		want bool
	}{
		{"every one listed", []schedule.StrategyRuntime{rt(f3), rt(f1)}, []schedule.Factory{f1, f2, f3}, false},
		{"one registered after the listing", []schedule.StrategyRuntime{rt(f1), rt(f3)}, []schedule.Factory{f1, f2}, true},
		{"no listing", []schedule.StrategyRuntime{rt(f1)}, nil, true},
		{"no registration", nil, []schedule.Factory{f1}, false},
		{"neither", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, unlisted(tc.rts, tc.live))
		})
	}
}

// For Kind Schedule the plan is plan.Distribute's, and registrations of
// factories that are not live get 0.
func TestPlanSchedule(t *testing.T) {
	live := []schedule.Factory{planFactory(1), planFactory(2), planFactory(3)}
	orphan := planFactory(9)
	rts := []schedule.StrategyRuntime{
		{UUID: live[0].UUID, RequestNum: 4, CurrentNum: 4},
		{UUID: live[1].UUID},
		{UUID: live[2].UUID},
		{UUID: orphan.UUID, RequestNum: 2, CurrentNum: 2},
	}
	s := schedule.Strategy{StrategyName: "s", Kind: schedule.KindSchedule, AssignNum: 7, NumOfSingleServer: 2}
	want, shortfall := plan(s, rts, live, 0)
	assert.Equal(t, 1, shortfall)
	assert.Equal(t, map[schedule.FactoryID]int{live[0].UUID: 2, live[1].UUID: 2, live[2].UUID: 2, orphan.UUID: 0}, want)
}

// occupied is what the registrations may run at most: the sum of
// max(currentNum, requestNum).
func occupied(rts []schedule.StrategyRuntime, req map[schedule.FactoryID]int) int {
	n := 0
	for _, rt := range rts {
		r := rt.RequestNum
		if req != nil {
			r = req[rt.UUID]
		}
		n += max(rt.CurrentNum, r)
	}
	return n
}

// The Bean plan never lets more than assignNum copies run: from any state
// within the budget it stays within it; what a factory may run grows only
// when the total stays within the budget; it lowers at once; and factories
// that follow it reach Distribute's target within two rounds.
func TestPlanBeanProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 8000 {
		n := rng.IntN(5)
		var live []schedule.Factory
		for i := range n {
			live = append(live, planFactory(i+1))
		}
		s := schedule.Strategy{StrategyName: fmt.Sprintf("s%d", trial%7), Kind: schedule.KindBean,
			AssignNum: 1 + rng.IntN(6), NumOfSingleServer: rng.IntN(3)}
		var rts []schedule.StrategyRuntime
		for _, f := range live {
			if rng.IntN(5) > 0 {
				rts = append(rts, schedule.StrategyRuntime{UUID: f.UUID, RequestNum: rng.IntN(4), CurrentNum: rng.IntN(4)})
			}
		}
		if rng.IntN(4) == 0 {
			rts = append(rts, schedule.StrategyRuntime{UUID: planFactory(50).UUID, RequestNum: rng.IntN(2), CurrentNum: rng.IntN(2)})
		}
		// Copies that vanished factories may still run, in some trials.
		held := 0
		if rng.IntN(3) == 0 {
			held = rng.IntN(3)
		}
		within := occupied(rts, nil)+held <= s.AssignNum
		got, _ := plan(s, rts, live, held)
		target, _ := plan(schedule.Strategy{StrategyName: s.StrategyName, Kind: schedule.KindSchedule,
			AssignNum: s.AssignNum, NumOfSingleServer: s.NumOfSingleServer}, rts, live, 0)
		desc := fmt.Sprintf("trial %d: %+v, registrations %+v, held %d → %v", trial, s, rts, held, got)
		for _, rt := range rts {
			g := got[rt.UUID]
			require.LessOrEqual(t, g, max(rt.RequestNum, target[rt.UUID]), desc)
			require.GreaterOrEqual(t, g, min(rt.RequestNum, target[rt.UUID]), desc)
			if max(rt.CurrentNum, g) > max(rt.CurrentNum, rt.RequestNum) {
				require.LessOrEqual(t, occupied(rts, got)+held, s.AssignNum, "what a factory may run grows only within the budget: "+desc)
			}
		}
		if within {
			require.LessOrEqual(t, occupied(rts, got)+held, s.AssignNum, "the budget holds: "+desc)
		}

		// Follow the plan: each factory runs what it is asked, and the
		// leader plans again (the held copies have ended meanwhile). Within
		// two rounds: the target.
		if !within || held > 0 {
			continue
		}
		state := append([]schedule.StrategyRuntime(nil), rts...)
		for round := 0; round < 2; round++ {
			// The leader writes every requestNum in one step.
			req, _ := plan(s, state, live, 0)
			for i := range state {
				state[i].RequestNum = req[state[i].UUID]
			}
			require.LessOrEqual(t, occupied(state, nil), s.AssignNum, "round %d: %s", round, desc)
			// Then each factory, in any order, stops or starts copies.
			for _, i := range rng.Perm(len(state)) {
				state[i].CurrentNum = state[i].RequestNum
				require.LessOrEqual(t, occupied(state, nil), s.AssignNum, "round %d: %s", round, desc)
			}
		}
		final, _ := plan(s, state, live, 0)
		for _, rt := range state {
			require.Equal(t, target[rt.UUID], final[rt.UUID], "converged: %s", desc)
		}
	}
}

// A Bean singleton moves only after its holder reports it stopped.
func TestPlanBeanMoveInTwoSteps(t *testing.T) {
	live := []schedule.Factory{planFactory(1), planFactory(2)}
	s := schedule.Strategy{StrategyName: "one", Kind: schedule.KindBean, AssignNum: 1}
	a, b := live[0].UUID, live[1].UUID
	// a holds the copy but is leaving (requestNum lowered elsewhere): b must wait.
	rts := []schedule.StrategyRuntime{{UUID: a, RequestNum: 0, CurrentNum: 1}, {UUID: b}}
	got, _ := plan(s, rts, live, 0)
	assert.Equal(t, 0, got[b], "a still runs its copy")
	rts[0].CurrentNum = 0
	got, _ = plan(s, rts, live, 0)
	assert.Equal(t, 1, got[a]+got[b], "once a stopped, one of them gets it")
	// The holder's registration vanished with its session: while its copy
	// is held (the lock delay), b waits; then b gets it.
	got, _ = plan(s, rts[1:], live[1:], 1)
	assert.Equal(t, 0, got[b], "the vanished holder's copy is still counted")
	got, _ = plan(s, rts[1:], live[1:], 0)
	assert.Equal(t, 1, got[b])
}

// The lock delay of Bean copies: a factory seen running a copy that then
// vanishes (registration and factory node gone, as when its session is
// closed early) keeps its copy counted for the larger of its published
// delay and our own; a registration removed while its factory is still live
// (a leave, after its copies returned) counts for nothing.
func TestGhostCopies(t *testing.T) {
	l := &loop{f: &Factory{log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		guard: &copyGuard{lockDelay: time.Second}}
	a, b, c := planFactory(1), planFactory(2), planFactory(3)
	s := &strat{name: "one"}
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	// factories is the fresh read of the live factories.
	var factories []schedule.Factory
	reads := 0
	lookup := func() ([]schedule.Factory, error) { reads++; return factories, nil }
	round := func(rts []schedule.StrategyRuntime, live []schedule.Factory, at time.Duration) int {
		t.Helper()
		n, err := l.ghostCopies(s, rts, live, lookup, t0.Add(at))
		require.NoError(t, err)
		return n
	}
	rts := []schedule.StrategyRuntime{
		{UUID: a.UUID, RequestNum: 1, CurrentNum: 1, TakeoverDelay: 3000},
		{UUID: b.UUID},
		{UUID: c.UUID, CurrentNum: 1},
	}
	require.Zero(t, round(rts, []schedule.Factory{a, b, c}, 0))
	require.Zero(t, reads)

	// a vanishes with its session; c leaves the strategy but stays live.
	// The list of factories was read before a's node went: the fresh read
	// tells a (gone) from c (live).
	factories = []schedule.Factory{b, c}
	rts = []schedule.StrategyRuntime{{UUID: b.UUID}}
	assert.Equal(t, 1, round(rts, []schedule.Factory{a, b, c}, 100*time.Millisecond))
	assert.Equal(t, 1, reads, "one fresh read for both")
	assert.Equal(t, t0.Add(3100*time.Millisecond), s.ghostUntil(), "a's own, longer delay from the round that noticed")
	assert.Equal(t, 1, round(rts, []schedule.Factory{b, c}, 3*time.Second))
	assert.Zero(t, round(rts, []schedule.Factory{b, c}, 3100*time.Millisecond))
	assert.True(t, s.ghostUntil().IsZero())
	assert.Equal(t, 1, reads)

	// A factory that publishes nothing (an older record) gets our delay.
	rts = []schedule.StrategyRuntime{{UUID: b.UUID, RequestNum: 2, CurrentNum: 1}}
	require.Zero(t, round(rts, []schedule.Factory{b}, 4*time.Second))
	assert.Equal(t, 2, round(nil, nil, 5*time.Second), "max(currentNum, requestNum)")
	assert.Equal(t, t0.Add(6*time.Second), s.ghostUntil())
	assert.Equal(t, 1, reads, "no fresh read when the factory is not listed")

	// A factory that opted out (-1) is not held.
	s = &strat{name: "two"}
	rts = []schedule.StrategyRuntime{{UUID: c.UUID, CurrentNum: 1, TakeoverDelay: -1}}
	require.Zero(t, round(rts, []schedule.Factory{c}, 7*time.Second))
	assert.Zero(t, round(nil, nil, 7*time.Second))
}
