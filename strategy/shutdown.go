package strategy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// shutdown stops every unit and waits for them (bounded by
// ShutdownTimeout and ForceStop). Each strategy's registration is removed
// as soon as its own units have returned, so that the leader moves them at
// once; the factory node goes last.
func (l *loop) shutdown() error {
	f := l.f
	n := 0
	for _, s := range l.strats {
		for _, u := range s.units {
			u.stop(errShutdown)
			n++
		}
	}
	if n > 0 {
		f.log.Info("stopping every manager and Bean copy", "units", n)
	}
	canWrite := l.me.UUID != "" && l.sess != nil && l.sess.Err() == nil
	// Bean strategies whose copies ran here at the stop: see handOverBean.
	var bean []*strat
	for _, s := range l.strats {
		if s.def.Kind == schedule.KindBean && len(s.units) > 0 && s.rt != nil {
			bean = append(bean, s)
		}
	}
	// The removals are bounded like the wait for the units, and end at
	// ForceStop: a node that cannot be removed vanishes with the session.
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.ShutdownTimeout)
	defer cancel()
	f.goFunc(func() { // Run waits for it (f.wg) after shutdown returns
		select {
		case <-f.force:
			cancel()
		case <-ctx.Done():
		}
	})
	stuck, why := l.awaitUnits(ctx, canWrite)
	if canWrite && len(stuck) == 0 {
		l.handOverBean(ctx, bean)
	}
	if canWrite {
		if err := f.store.UnregisterFactory(ctx, l.me.UUID); err != nil {
			f.log.Warn("unregistering the factory failed; its node vanishes with the session", "factory", l.me.UUID, "err", err)
		}
	}
	if l.guard != nil {
		l.guard.release()
	}
	l.me, l.sess = schedule.Factory{}, nil
	l.publish()
	if len(stuck) > 0 {
		err := fmt.Errorf("%w: still running %s: %s", ErrShutdownTimeout, why, strings.Join(stuck, ", "))
		f.log.Error("graceful stop incomplete", "err", err)
		return errors.Join(append([]error{err}, l.left...)...)
	}
	return errors.Join(l.left...)
}

// awaitUnits waits until every unit has returned, removing each strategy's
// registration (when canWrite) as soon as its units have, or until
// ShutdownTimeout or ForceStop. It returns the units still running, sorted,
// and why it stopped waiting for them.
func (l *loop) awaitUnits(ctx context.Context, canWrite bool) (stuck []string, why string) {
	f := l.f
	unregister := func(s *strat) {
		if s.rt == nil || !canWrite {
			return
		}
		if err := f.store.UnregisterStrategyRuntime(ctx, s.name, l.me.UUID); err != nil {
			f.log.Warn("unregistering from the strategy failed; the registration vanishes with the session", "strategy", s.name, "err", err)
		}
		s.rt = nil
	}
	start := f.clock.Now()
	timer := f.clock.NewTimer(f.cfg.ShutdownTimeout)
	defer timer.Stop()
	tick := f.clock.NewTicker(stopLogEvery)
	defer tick.Stop()
	why = fmt.Sprintf("after %v", f.cfg.ShutdownTimeout)
	for expired := false; ; {
		running := 0
		for _, s := range l.strats {
			l.reap(s, f.clock.Now())
			if len(s.units) == 0 {
				unregister(s)
			}
			running += len(s.units)
		}
		if running == 0 || expired {
			break
		}
		select {
		case <-f.wake: // a unit returned (or a watch fired)
		case <-timer.C():
			expired = true
		case <-f.force:
			expired, why = true, "at ForceStop"
		case <-tick.C():
			f.log.Info("stopping: waiting for managers and Bean copies to return (ForceStop, or a second signal with StopOnSignal, stops waiting)",
				"running", strings.Join(l.runningUnits(), ", "),
				"givesUpIn", (f.cfg.ShutdownTimeout - f.clock.Now().Sub(start)).Round(time.Millisecond))
		}
	}
	return l.runningUnits(), why
}

// stopLogEvery is how often a stop that waits says what it waits for.
const stopLogEvery = 5 * time.Second

// runningUnits names the units that have not returned, sorted.
func (l *loop) runningUnits() []string {
	var names []string
	for _, s := range l.strats {
		for _, u := range s.units {
			names = append(names, u.name())
		}
	}
	slices.Sort(names)
	return names
}
