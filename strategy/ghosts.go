package strategy

import (
	"context"
	"slices"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// ghostCopies returns how many Bean copies of s factories that vanished may
// still run: a lock delay, like the managers' for items.
//
// A registration vanishes with its factory's session. If the session was
// ended early (closed by another client or an operator, not expired by
// silence) while the factory was cut off, its copies run on until its own
// guard cancels them. So when a factory that was seen occupying copies is
// gone, those copies count against assignNum for its lock delay (as
// published in its registration; this factory's own for a record without
// one) from the round that noticed. A
// registration removed while its factory is still live was removed after
// its copies returned (leave), so it counts for nothing; live is read
// before the registrations, so that is checked with a fresh read of the
// factories (the factories function); a factory whose round comes only after
// both are gone counts the copies of a clean exit too, which costs nothing
// unless it leads (handOverBean makes sure the leader saw the exit). Every
// registered factory keeps this account, so a new leader
// knows the copies of a leader that vanished; a factory that registered
// after the vanishing cannot.
func (l *loop) ghostCopies(s *strat, rts []schedule.StrategyRuntime, live []schedule.Factory,
	factories func() ([]schedule.Factory, error), now time.Time) (int, error) {
	isLive := make(map[schedule.FactoryID]bool, len(live))
	for _, f := range live {
		isLive[f.UUID] = true
	}
	seen := make(map[schedule.FactoryID]occupancy, len(rts))
	for _, rt := range rts {
		if isLive[rt.UUID] {
			o := seen[rt.UUID]
			o.copies = max(o.copies, rt.CurrentNum, rt.RequestNum)
			var known bool
			if o.delay, known = fence.DecodeLockDelay(rt.TakeoverDelay); !known {
				o.delay = l.guard.lockDelay
			}
			seen[rt.UUID] = o
		}
	}
	if s.ghosts == nil {
		s.ghosts = map[schedule.FactoryID]ghost{}
	}
	fresh := map[schedule.FactoryID]bool(nil)
	for id, o := range s.seen {
		if _, still := seen[id]; still || o.copies <= 0 {
			continue
		}
		if _, known := s.ghosts[id]; known {
			continue
		}
		if isLive[id] {
			if fresh == nil {
				list, err := factories()
				if err != nil {
					return 0, err
				}
				fresh = make(map[schedule.FactoryID]bool, len(list))
				for _, f := range list {
					fresh[f.UUID] = true
				}
			}
			if fresh[id] {
				continue // it left the strategy after its copies returned
			}
		}
		s.ghosts[id] = ghost{copies: o.copies, until: now.Add(o.delay)}
		l.f.log.Info("factory vanished while running copies; counting them for its lock delay",
			"strategy", s.name, "vanished", id, "copies", o.copies, "delay", o.delay)
	}
	s.seen = seen
	for id, g := range s.ghosts {
		if !now.Before(g.until) {
			delete(s.ghosts, id)
		}
	}
	return s.held(), nil
}

// ghostUntil is the earliest end of a ghost (zero when none).
func (s *strat) ghostUntil() time.Time {
	var at time.Time
	for _, g := range s.ghosts {
		if at.IsZero() || g.until.Before(at) {
			at = g.until
		}
	}
	return at
}

// handOverBean keeps the factory node, after the registrations under the
// Bean strategies bean were removed at a graceful stop, until each
// strategy's leader has given the copies to the other factories (their
// requestNums cover assignNum, as far as numOfSingleServer allows) — at
// most the lock delay. A leader that saw the registration go together with
// this factory's node could not tell a clean exit from a session closed
// under running copies, and would hold them for the lock delay
// (ghostCopies); one that sees the registration go while the factory is
// still live knows the copies returned and moves them at once.
func (l *loop) handOverBean(ctx context.Context, bean []*strat) {
	f := l.f
	if len(bean) == 0 || l.guard == nil || l.guard.lockDelay <= 0 {
		return
	}
	timer := f.clock.NewTimer(l.guard.lockDelay)
	defer timer.Stop()
	for len(bean) > 0 {
		bean = slices.DeleteFunc(bean, func(s *strat) bool {
			rts, err := f.store.StrategyRuntimes(ctx, s.name)
			if err != nil {
				return true
			}
			asked := 0
			for _, rt := range rts {
				asked += max(rt.RequestNum, 0)
			}
			want := max(s.def.AssignNum, 0)
			if n := s.def.NumOfSingleServer; n > 0 {
				want = min(want, n*len(rts))
			}
			return asked >= want
		})
		if len(bean) == 0 {
			return
		}
		select {
		case <-f.wake: // the registrations changed (their watches poke)
		case <-timer.C():
			f.log.Info("Bean copies not handed over within the lock delay; leaving anyway", "strategies", len(bean))
			return
		case <-ctx.Done():
			return
		}
	}
}

// held is the number of ghost copies ghostCopies counted last.
func (s *strat) held() int {
	n := 0
	for _, g := range s.ghosts {
		n += g.copies
	}
	return n
}
