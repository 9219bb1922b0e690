package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// distribute is the leader's part: compute every registration's
// requestNum and write those that change, in one guarded, version-checked
// step.
func (l *loop) distribute(ctx context.Context, s *strat, rts []schedule.StrategyRuntime, live []schedule.Factory, held int) ([]schedule.StrategyRuntime, error) {
	want, shortfall := plan(s.def, rts, live, held)
	if shortfall != s.shortfall && shortfall > 0 {
		l.f.log.Warn("not every thread group can run: numOfSingleServer caps them", "strategy", s.name,
			"assignNum", s.def.AssignNum, "numOfSingleServer", s.def.NumOfSingleServer, "shortfall", shortfall)
	}
	s.shortfall = shortfall
	var changes, all []schedule.StrategyRuntime
	for _, rt := range rts {
		if n := want[rt.UUID]; n != rt.RequestNum {
			rt.RequestNum = n
			changes = append(changes, rt)
		}
		all = append(all, rt)
	}
	if len(changes) == 0 {
		return rts, nil
	}
	if s.def.Kind == schedule.KindBean {
		// The budget of a Bean move counts every registration, so the write
		// checks them all: if any changed or vanished since the read (the
		// list and the reads of the registrations are not one snapshot),
		// nothing is written and the leader looks again.
		changes = all
	}
	out, err := l.f.store.UpdateStrategyRuntimes(ctx, s.name, l.me.UUID, changes)
	if errors.Is(err, schedule.ErrConflict) || errors.Is(err, schedule.ErrNotFound) {
		l.f.metrics.Conflict(s.name, "distribute")
		l.conflicted.Store(true)
		return rts, nil
	}
	if err != nil {
		return rts, err
	}
	byID := make(map[schedule.FactoryID]schedule.StrategyRuntime, len(out))
	for _, rt := range out {
		byID[rt.UUID] = rt
	}
	next := slices.Clone(rts)
	var summary []string
	for k, rt := range next {
		if w, ok := byID[rt.UUID]; ok {
			next[k] = w
		}
		summary = append(summary, fmt.Sprintf("%s=%d", next[k].UUID, next[k].RequestNum))
	}
	l.f.log.Info("thread groups distributed", "strategy", s.name, "kind", s.def.Kind, "assignNum", s.def.AssignNum,
		"requestNum", strings.Join(summary, " "))
	return next, nil
}

// watchRuntimes makes scope the watch of s's registrations, if it is not
// yet. It is armed after the registration and before the registrations are
// read (see readRuntimes), so that no change after the read is missed, and
// the leader sees the registration without waiting for the arming (a Watch
// call waits for the store's re-arming of every watch that fired). A watch
// of another scope (the leadership changed, or the factory's id after a
// new registration) is dropped only once the new one is armed.
func (l *loop) watchRuntimes(s *strat, scope storekit.WatchScope) error {
	f := l.f
	if s.watchCancel != nil && s.watchScope == scope {
		return nil
	}
	wctx, cancel := context.WithCancel(l.watchCtx)
	ch, err := f.store.Watch(wctx, scope)
	if err != nil {
		cancel()
		return err
	}
	s.dropWatch()
	s.watchCancel, s.watchScope = cancel, scope
	f.goFunc(func() {
		for range ch {
			f.poke()
		}
	})
	return nil
}

// runtimesScope is the watch a factory (me) holds on the registrations of
// a strategy of the given kind, which it led or not at its last round.
// Only the leader needs every registration's data (it distributes): a
// factory that does not lead a Schedule strategy watches the first
// registration leaving and its own changing (WatchStrategyRuntime), a
// constant number of watches whatever the number of factories, and reads
// their ids and its own. The leader, and every factory of a Bean strategy
// (its ghostCopies account needs what every registration occupies), or of
// a kind not known, watches and reads them all (WatchStrategyRuntimes).
func runtimesScope(name string, kind schedule.StrategyKind, leader bool, me schedule.FactoryID) storekit.WatchScope {
	if leader || kind != schedule.KindSchedule {
		return storekit.WatchScope{Kind: storekit.WatchStrategyRuntimes, Name: name}
	}
	return storekit.WatchScope{Kind: storekit.WatchStrategyRuntime, Name: name, Factory: me}
}

// reuseListing decides whether a factory that does not lead a strategy of
// kind reuses its last listing of the registrations' ids (listed, which
// found leader; age ago) rather than listing them again: yes while the
// leader's registration is there (the caller reads it), for a Schedule
// strategy, led by another factory, younger than refresh (the loop's
// safety net lists them at least that often). A factory that does not
// lead needs the listing only to know that it does not: while the leader
// it found is registered (and live), a factory with a lower sequence leads,
// whoever else registers or leaves meanwhile. When the leader's
// registration goes, the round that follows reads it gone and lists again. A Bean
// strategy's factories count the copies of every registration (see
// ghostCopies), so they list them every round. A listing without this
// factory's own registration is never reused: it predates it (the factory
// registered again under a new session, with a new id), and the round
// would find its registration gone, drop it and register again, round
// after round, while the registration stayed in the tree. It is pure.
func reuseListing(kind schedule.StrategyKind, listed []schedule.FactoryID, leader, me schedule.FactoryID, age, refresh time.Duration) bool {
	return kind == schedule.KindSchedule && len(listed) > 0 && leader != "" && leader != me && age >= 0 && age < refresh &&
		slices.Contains(listed, me)
}

// lightRuntimes is what a factory that follows only its own registration
// (see runtimesScope) knows of a strategy's registrations: their ids, in
// the listing's order, and its own registration's data (own; nil when it
// is gone, and then it is left out, whatever the listing says). The others
// carry their ids alone: enough for leaderOf, which looks at ids only.
func lightRuntimes(name string, ids []schedule.FactoryID, me schedule.FactoryID, own *schedule.StrategyRuntime) []schedule.StrategyRuntime {
	out := make([]schedule.StrategyRuntime, 0, len(ids))
	for _, id := range ids {
		switch {
		case id != me:
			out = append(out, schedule.StrategyRuntime{StrategyName: name, UUID: id})
		case own != nil:
			out = append(out, *own)
		}
	}
	return out
}

// register creates this factory's registration under s.
func (l *loop) register(ctx context.Context, s *strat) error {
	f := l.f
	// A new registration asks for what this process runs already (managers
	// survive a session expiry; copies do not), so that the leader's sticky
	// distribution keeps them rather than stopping and starting them.
	running := 0
	for _, u := range s.units {
		if !u.stopping && u.ctx.Err() == nil {
			running++
		}
	}
	rt, err := f.store.RegisterStrategyRuntime(ctx, l.sess, schedule.StrategyRuntime{
		StrategyName: s.name, UUID: l.me.UUID, RequestNum: running, CurrentNum: len(s.units),
		TakeoverDelay: fence.EncodeLockDelay(l.guard.lockDelay),
	})
	switch {
	case errors.Is(err, schedule.ErrExists):
		rt = schedule.StrategyRuntime{StrategyName: s.name, UUID: l.me.UUID, Version: storekit.AnyVersion}
	case errors.Is(err, schedule.ErrNotFound):
		return nil // deleted meanwhile; the config watch brings the next round
	case err != nil:
		return err
	default:
		f.log.Info("registered under the strategy", "strategy", s.name, "factory", l.me.UUID)
	}
	s.rt = &rt
	return nil
}

// leave stops every unit of s and, once they have all returned, removes
// the registration (so that a Bean copy is never counted as gone while it
// still runs).
func (l *loop) leave(ctx context.Context, s *strat) error {
	l.setLeader(s, false)
	s.shortfall = 0
	if len(s.units) > 0 {
		return nil // the units' exits bring the next round
	}
	if s.rt != nil {
		if err := l.f.store.UnregisterStrategyRuntime(ctx, s.name, l.me.UUID); err != nil {
			return err
		}
		s.rt = nil
		l.f.log.Info("left the strategy", "strategy", s.name, "why", l.whyNot(s))
	}
	s.dropWatch()
	s.lastErr, s.failKey, s.retryAt, s.healthyAt = nil, "", time.Time{}, time.Time{}
	s.bo.Reset()
	l.f.metrics.Running(s.name, 0)
	l.f.metrics.Wanted(s.name, 0)
	return nil
}

func (s *strat) dropWatch() {
	if s.watchCancel != nil {
		s.watchCancel()
		s.watchCancel, s.watchScope = nil, storekit.WatchScope{}
	}
}

// report writes this factory's currentNum and message into its
// registration when they changed (a compare-and-set on its version).
func (l *loop) report(ctx context.Context, s *strat) error {
	running := 0
	for _, u := range s.units {
		if !u.stopping {
			running++
		}
	}
	l.f.metrics.Running(s.name, running)
	mine := *s.rt
	l.f.metrics.Wanted(s.name, max(mine.RequestNum, 0))
	cur, msg := len(s.units), s.message()
	if mine.CurrentNum == cur && mine.Message == msg {
		return nil
	}
	mine.CurrentNum, mine.Message = cur, msg
	out, err := l.f.store.UpdateStrategyRuntimes(ctx, s.name, "", []schedule.StrategyRuntime{mine})
	if errors.Is(err, schedule.ErrConflict) || errors.Is(err, schedule.ErrNotFound) {
		l.conflicted.Store(true)
		return nil
	}
	if err != nil {
		return err
	}
	s.rt = &out[0]
	return nil
}

// message is what the registration's message shows: the last failed start
// (its first line), and the leader's note on thread groups that cannot run.
func (s *strat) message() string {
	var parts []string
	if s.lastErr != nil {
		parts = append(parts, truncate(firstLine(s.lastErr.Error()), 300))
	}
	if s.leader && s.shortfall > 0 {
		parts = append(parts, fmt.Sprintf("%d of assignNum %d cannot run: numOfSingleServer %d caps every factory",
			s.shortfall, s.def.AssignNum, s.def.NumOfSingleServer))
	}
	return strings.Join(parts, "; ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
