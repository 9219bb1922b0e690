package strategy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/backoff"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// errHold: a start that must wait (the session is not healthy), not a failure.
var errHold = errors.New("strategy: not now")

// loop is the state of the factory's main loop; it is owned by the
// goroutine of Run alone, except that during a refresh each strategy is
// reconciled on its own goroutine, which touches only its strat (and the
// fields marked for it below).
type loop struct {
	f *Factory

	watchCtx  context.Context // lives until Run's end; every watch derives from it
	stopWatch context.CancelFunc
	cfgCh     <-chan struct{}
	// factoryCh is the watch of this factory's own node and machine state
	// (watchFactory), for the factory id factoryFor; factoryStop ends it.
	factoryCh   <-chan struct{}
	factoryFor  schedule.FactoryID
	factoryStop context.CancelFunc
	sess        storekit.Session
	guard       *copyGuard
	me          schedule.Factory // UUID == "" while not registered
	state       schedule.FactoryState
	strats      map[string]*strat
	conflicted  atomic.Bool      // a compare-and-set lost during this refresh (strategies reconcile concurrently)
	conflictBo  *backoff.Backoff // short backoff between conflict retries
	againAt     time.Time        // refresh again (after a conflict)
	refreshAt   time.Time        // refresh again (after a failed refresh)
	lastErr     error            // of the last refresh
	// left are the errors of managers whose graceful stop left something
	// behind (schedule.ErrStopIncomplete); Run returns them.
	left   []error
	leftMu sync.Mutex // guards left while the strategies reconcile concurrently
	// roundAt is the local time the last round started at, whether its
	// refresh succeeded or not: what was due by then has had its round
	// (see nextWake).
	roundAt time.Time
}

// strat is the factory's view of one strategy.
type strat struct {
	name   string
	def    schedule.Strategy
	exists bool
	// rt is this factory's registration under the strategy in the current
	// session, as last read or written; nil when not registered.
	rt *schedule.StrategyRuntime
	// watchCancel ends the watch of the registrations, of watchScope
	// (see runtimesScope); nil when there is none.
	watchCancel context.CancelFunc
	watchScope  storekit.WatchScope
	units       []*unit
	copies      int // Bean copies started so far (numbering)
	leader      bool
	shortfall   int

	// The last listing of the registrations' ids by a factory that did not
	// lead, the leader it found, and when (local clock): reused while the
	// leader's registration is there (see listing).
	listed       []schedule.FactoryID
	listedLeader schedule.FactoryID
	listedAt     time.Time

	// Failed starts (see startRetry) and their backoff.
	startRetry
	bo *backoff.Backoff

	// Bean copies that vanished factories may still run (see ghostCopies):
	// what each live registration occupied when last read, with its
	// published delay, and the copies counted after a factory vanished.
	seen   map[schedule.FactoryID]occupancy
	ghosts map[schedule.FactoryID]ghost
}

// occupancy is what a registration occupied when last read.
type occupancy struct {
	copies int
	delay  time.Duration
}

// ghost is the copies a vanished factory may still run, until when.
type ghost struct {
	copies int
	until  time.Time
}

func newLoop(f *Factory) *loop {
	ctx, cancel := context.WithCancel(context.Background())
	return &loop{
		f: f, watchCtx: ctx, stopWatch: cancel,
		strats:     map[string]*strat{},
		conflictBo: backoff.New(20*time.Millisecond, time.Second),
	}
}

func (l *loop) closeWatches() { l.stopWatch() }

// run is the outer loop: one session after another until ctx ends or the
// store is closed.
func (l *loop) run(ctx context.Context) error {
	f := l.f
	bo := backoff.New(f.cfg.RetryMin, f.cfg.RetryMax)
	for ctx.Err() == nil {
		f.beat(phaseRunning)
		err := l.ensureWatches()
		var sess storekit.Session
		if err == nil {
			f.beat(phaseSession) // as long as the store takes to connect
			sess, err = f.store.Session(ctx)
			f.beat(phaseRunning)
		}
		served := false
		if err == nil {
			served, err = l.runSession(ctx, sess)
		}
		switch afterSession(err, ctx.Err() != nil, served) {
		case stepStop:
			if ctx.Err() != nil {
				return nil
			}
			f.log.Error("store closed: factory stops", "err", err)
			return err
		case stepNow:
			bo.Reset() // a new session at once
			continue
		}
		d := bo.Next()
		f.log.Warn("factory session failed; retrying", "err", err, "in", d)
		l.setError(err)
		if !l.sleep(ctx, d) {
			return nil
		}
	}
	return nil
}

func (l *loop) ensureWatches() error {
	var err error
	if l.cfgCh == nil {
		if l.cfgCh, err = l.f.store.Watch(l.watchCtx, storekit.WatchScope{Kind: storekit.WatchConfig}); err != nil {
			return err
		}
	}
	return nil
}

// watchFactory makes the factory watch follow this factory's node and its
// machine's state (the operator's stop flag), if it does not yet. It is
// armed when the factory registers, before the round reads the state. No
// round needs the other factories' joins and leaves: a strategy's leader
// learns of them from the strategy's registrations, which it watches, and
// reads the factory ids at every round; watching every factory made every
// factory run a round, listing every factory and every strategy's
// registrations, at every factory's join (factories² listings as a
// cluster starts).
func (l *loop) watchFactory(me schedule.FactoryID) error {
	if l.factoryCh != nil && l.factoryFor == me {
		return nil
	}
	wctx, cancel := context.WithCancel(l.watchCtx)
	ch, err := l.f.store.Watch(wctx, storekit.WatchScope{Kind: storekit.WatchFactories, Factory: me})
	if err != nil {
		cancel()
		return err
	}
	if l.factoryStop != nil {
		l.factoryStop()
	}
	l.factoryCh, l.factoryFor, l.factoryStop = ch, me, cancel
	return nil
}

func (l *loop) sleep(ctx context.Context, d time.Duration) bool {
	t := l.f.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// runSession registers the factory under sess and follows the strategies
// until the session is lost (ErrSessionLost), the store is closed
// (ErrClosed) or ctx ends (nil). served reports whether the factory was
// registered under the session.
func (l *loop) runSession(ctx context.Context, sess storekit.Session) (served bool, err error) {
	f := l.f
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.sess = sess
	g := newCopyGuard(f, sess)
	l.guard = g
	f.goFunc(func() { g.run(sctx) })
	// Registrations of an earlier session vanished with it.
	l.me = schedule.Factory{}
	for _, s := range l.strats {
		s.rt = nil
	}
	l.publish()

	bo := backoff.New(f.cfg.RetryMin, f.cfg.RetryMax)
	tick := f.clock.NewTicker(f.cfg.RefreshInterval)
	defer tick.Stop()
	for dirty := true; ; {
		f.beat(phaseRunning)
		if dirty && sess.State() == schedule.SessionConnected {
			dirty = false
			registered, err := l.round(sctx, bo)
			served = served || registered
			if err != nil || ctx.Err() != nil {
				return served, err
			}
		}
		again, err := l.wait(ctx, g, tick)
		if err != nil || ctx.Err() != nil {
			return served, err
		}
		dirty = dirty || again
	}
}

// round runs one refresh and schedules its retry if it failed. It returns
// an error only when the session or the store is gone; registered reports
// whether the factory was registered under the session during the round.
func (l *loop) round(ctx context.Context, bo *backoff.Backoff) (registered bool, err error) {
	f := l.f
	l.roundAt, l.refreshAt = f.clock.Now(), time.Time{}
	err = l.refresh(ctx)
	registered = l.me.UUID != ""
	switch {
	case errors.Is(err, schedule.ErrSessionLost) || errors.Is(err, schedule.ErrClosed):
		l.sessionLost(err)
		return registered, err
	case ctx.Err() != nil:
		return registered, nil
	case err != nil:
		d := bo.Next()
		l.refreshAt = f.clock.Now().Add(d)
		f.log.Warn("refresh failed; retrying", "err", err, "in", d)
	default:
		bo.Reset()
	}
	l.setError(err)
	l.publish()
	return registered, nil
}

// wait blocks until something calls for a round (dirty), the session ends
// (an error) or ctx ends.
func (l *loop) wait(ctx context.Context, g *copyGuard, tick schedule.Ticker) (dirty bool, err error) {
	f, sess := l.f, l.sess
	var timerC <-chan time.Time
	// While the session is not connected nothing is due: the guard's
	// signal brings the next round.
	if at := l.wakeAt(); !at.IsZero() && sess.State() == schedule.SessionConnected {
		timer := f.clock.NewTimer(max(at.Sub(f.clock.Now()), 0))
		defer timer.Stop()
		timerC = timer.C()
	}
	var open bool
	select {
	case <-ctx.Done():
	case <-g.changed:
		return l.sessionChanged()
	case _, open = <-l.cfgCh:
		if !open {
			// Closed: the store is closing (or broke its contract). Not
			// selected again, or it would call for a round at once,
			// forever; the next session watches again.
			l.cfgCh = nil
		}
		return true, nil
	case _, open = <-l.factoryCh:
		if !open {
			l.factoryCh = nil
		}
		return true, nil
	case <-f.wake:
		return true, nil
	case <-tick.C():
		return true, nil
	case <-timerC:
		return true, nil
	}
	return false, nil
}

// sessionChanged handles the guard's signal: an ended session ends the
// session's loop; a connected one calls for a round.
func (l *loop) sessionChanged() (dirty bool, err error) {
	sess := l.sess
	defer l.publish()
	switch st := sess.State(); st {
	case schedule.SessionExpired:
		err = fmt.Errorf("%w: session %#x %s", schedule.ErrSessionLost, sess.ID(), st)
	case schedule.SessionClosed:
		err = fmt.Errorf("%w: session %#x closed", schedule.ErrClosed, sess.ID())
	case schedule.SessionConnected:
		// Connected again: a round deferred meanwhile is still due (the
		// caller keeps it). The guard lifted itself if a round confirmed
		// the session before (see internal/fence); only a guard never
		// confirmed waits for a round. Nothing else needs one: the
		// watches outlived the disconnection. A round at every return
		// from suspicion, listing every strategy's registrations, made
		// sessions that turned suspect under load load ZooKeeper more.
		return l.guard.restrained(), nil
	default:
		return false, nil
	}
	l.sessionLost(err)
	return false, err
}

// wakeAt is when the next round is due without a signal (see nextWake): a
// retry after a conflict or a failed refresh, a retry of a failed start,
// the end of a probation or of a ghost's lock delay.
func (l *loop) wakeAt() time.Time {
	timers := []time.Time{l.againAt, l.refreshAt}
	for _, s := range l.strats {
		timers = append(timers, s.retryAt, s.healthyAt, s.ghostUntil())
	}
	return nextWake(l.roundAt, timers...)
}

func (l *loop) sessionLost(err error) {
	l.guard.fence()
	l.f.log.Error("session lost: the factory registers again under a new session", "err", err, "factory", l.me.UUID)
	l.me = schedule.Factory{}
	for _, s := range l.strats {
		s.rt = nil
		l.setLeader(s, false)
	}
	l.publish()
}

func (l *loop) setError(err error) {
	l.lastErr = err
}
