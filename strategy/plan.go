package strategy

import (
	iplan "github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// leaderOf returns the factory that distributes a strategy's thread groups:
// the registration whose factory is live (listed by Factories) with the
// lowest factory sequence, or "" when no registration has a live factory.
// It fails closed: a registration of a factory that is not listed never
// leads (TBSchedule's isLeader returned true on a parse error).
func leaderOf(rts []schedule.StrategyRuntime, live []schedule.Factory) schedule.FactoryID {
	ids := liveRegistered(rts, live)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// unlisted reports whether a registration in rts names a factory that live
// does not list. It is pure.
func unlisted(rts []schedule.StrategyRuntime, live []schedule.Factory) bool {
	listed := make(map[schedule.FactoryID]bool, len(live))
	for _, f := range live {
		listed[f.UUID] = true
	}
	for _, rt := range rts {
		if !listed[rt.UUID] {
			return true
		}
	}
	return false
}

// liveRegistered returns the ids of the registered factories that are live,
// in factory-sequence order (leader first).
func liveRegistered(rts []schedule.StrategyRuntime, live []schedule.Factory) []schedule.FactoryID {
	reg := make(map[schedule.FactoryID]bool, len(rts))
	for _, rt := range rts {
		reg[rt.UUID] = true
	}
	var ids []schedule.FactoryID
	for _, f := range live { // sorted by Seq
		if reg[f.UUID] {
			ids = append(ids, f.UUID)
			delete(reg, f.UUID) // a repeated factory counts once
		}
	}
	return ids
}

// plan is the strategy leader's pure decision: the requestNum every
// registration under the strategy should have now, and the shortfall
// (thread groups that cannot run because of numOfSingleServer).
//
// The target is the balanced distribution (internal/plan.Distribute) over
// the live registered factories, sticky to what each runs or was asked to
// run (max of currentNum and requestNum). Registrations of factories that
// are not live get 0.
//
// For Kind Bean the move is made safe for "at most assignNum copies at any
// time": requestNums go down at once, but one goes up only as far as the
// copies that may still run elsewhere allow — every registration occupies
// max(currentNum, requestNum), and the total occupied never exceeds
// assignNum. A copy therefore moves in two writes: the old holder's
// requestNum drops, it stops its copy and reports currentNum 0, and only
// then the new holder's requestNum rises. A registration that vanishes
// frees what it occupied, except the held copies: those that factories gone
// with their sessions may still run (see ghostCopies), which count against
// assignNum too.
func plan(s schedule.Strategy, rts []schedule.StrategyRuntime, live []schedule.Factory, held int) (want map[schedule.FactoryID]int, shortfall int) {
	ids := liveRegistered(rts, live)
	current := make(map[schedule.FactoryID]int, len(rts))
	for _, rt := range rts {
		current[rt.UUID] = max(rt.CurrentNum, rt.RequestNum, current[rt.UUID])
	}
	target, shortfall := iplan.Distribute(s.AssignNum, s.NumOfSingleServer, ids, current, s.StrategyName)
	want = make(map[schedule.FactoryID]int, len(rts))
	for _, rt := range rts {
		want[rt.UUID] = target[rt.UUID] // 0 for factories that are not live
	}
	if s.Kind != schedule.KindBean {
		return want, shortfall
	}

	// Bean: lower at once, raise within the budget.
	budget := max(s.AssignNum-max(held, 0), 0)
	cur := make(map[schedule.FactoryID]int, len(rts))
	next := make(map[schedule.FactoryID]int, len(rts))
	for _, rt := range rts {
		if _, dup := next[rt.UUID]; dup {
			continue
		}
		cur[rt.UUID] = max(rt.CurrentNum, 0)
		next[rt.UUID] = min(max(rt.RequestNum, 0), want[rt.UUID])
	}
	occupied := 0
	for id, n := range next {
		occupied += max(cur[id], n)
	}
	for _, id := range ids {
		for next[id] < want[id] {
			grow := max(cur[id], next[id]+1) - max(cur[id], next[id])
			if occupied+grow > budget {
				break
			}
			next[id]++
			occupied += grow
		}
	}
	return next, shortfall
}
