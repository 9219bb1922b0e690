package strategy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/backoff"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// errHold: a start that must wait (the session is not healthy), not a failure.
var errHold = errors.New("strategy: not now")

// loop is the state of the factory's main loop; it is owned by the
// goroutine of Run alone.
type loop struct {
	f *Factory

	watchCtx   context.Context // lives until Run's end; every watch derives from it
	stopWatch  context.CancelFunc
	cfgCh      <-chan struct{}
	factoryCh  <-chan struct{}
	sess       schedule.Session
	guard      *copyGuard
	me         schedule.Factory // UUID == "" while not registered
	state      schedule.FactoryState
	strats     map[string]*strat
	conflicted bool             // a compare-and-set lost during this refresh
	conflictBo *backoff.Backoff // short backoff between conflict retries
	againAt    time.Time        // refresh again (after a conflict)
	refreshAt  time.Time        // refresh again (after a failed refresh)
	lastErr    error            // of the last refresh
	// refreshedAt is the local time the last refresh reconciled the
	// strategies at: what was due by then has been looked at.
	refreshedAt time.Time
}

// strat is the factory's view of one strategy.
type strat struct {
	name   string
	def    schedule.Strategy
	exists bool
	// rt is this factory's registration under the strategy in the current
	// session, as last read or written; nil when not registered.
	rt          *schedule.StrategyRuntime
	watchCancel context.CancelFunc
	units       []*unit
	copies      int // Bean copies started so far (numbering)
	leader      bool
	shortfall   int

	// Failed starts: the last error, the backoff, no new start of failKey's
	// configuration before retryAt; the error is cleared once every wanted
	// unit has run since healthyAt.
	lastErr   error
	failKey   string
	bo        *backoff.Backoff
	retryAt   time.Time
	healthyAt time.Time

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
		err := l.ensureWatches()
		var sess schedule.Session
		if err == nil {
			sess, err = f.store.Session(ctx)
		}
		if err == nil {
			err = l.runSession(ctx, sess)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, schedule.ErrClosed):
			f.log.Error("store closed: factory stops", "err", err)
			return err
		case errors.Is(err, schedule.ErrSessionLost):
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
		if l.cfgCh, err = l.f.store.Watch(l.watchCtx, schedule.WatchScope{Kind: schedule.WatchConfig}); err != nil {
			return err
		}
	}
	if l.factoryCh == nil {
		if l.factoryCh, err = l.f.store.Watch(l.watchCtx, schedule.WatchScope{Kind: schedule.WatchFactories}); err != nil {
			return err
		}
	}
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
// (ErrClosed) or ctx ends (nil).
func (l *loop) runSession(ctx context.Context, sess schedule.Session) error {
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
	dirty := true
	for {
		if dirty && sess.State() == schedule.SessionConnected {
			dirty = false
			l.refreshAt = time.Time{}
			err := l.refresh(sctx)
			switch {
			case errors.Is(err, schedule.ErrSessionLost) || errors.Is(err, schedule.ErrClosed):
				l.sessionLost(err)
				return err
			case ctx.Err() != nil:
				return nil
			case err != nil:
				d := bo.Next()
				l.refreshAt = f.clock.Now().Add(d)
				f.log.Warn("refresh failed; retrying", "err", err, "in", d)
			default:
				bo.Reset()
			}
			l.setError(err)
			l.publish()
		}
		var timer schedule.Timer
		var timerC <-chan time.Time
		// While the session is not connected nothing is due: the guard's
		// signal brings the next round.
		if at := l.nextWake(); !at.IsZero() && sess.State() == schedule.SessionConnected {
			timer = f.clock.NewTimer(max(at.Sub(f.clock.Now()), 0))
			timerC = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-g.changed:
			switch st := sess.State(); st {
			case schedule.SessionExpired, schedule.SessionClosed:
				err := fmt.Errorf("%w: session %#x %s", schedule.ErrSessionLost, sess.ID(), st)
				if st == schedule.SessionClosed {
					err = fmt.Errorf("%w: session %#x closed", schedule.ErrClosed, sess.ID())
				}
				l.sessionLost(err)
				if timer != nil {
					timer.Stop()
				}
				return err
			case schedule.SessionConnected:
				dirty = true
			}
			l.publish()
		case <-l.cfgCh:
			dirty = true
		case <-l.factoryCh:
			dirty = true
		case <-f.wake:
			dirty = true
		case <-tick.C():
			dirty = true
		case <-timerC:
			dirty = true
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// nextWake is the earliest time something is due that the last refresh
// did not see due: a retry of a failed start, the end of a probation, a
// retry after a conflict or a failed refresh.
func (l *loop) nextWake() time.Time {
	var at time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && t.After(l.refreshedAt) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	earliest(l.againAt)
	earliest(l.refreshAt)
	for _, s := range l.strats {
		earliest(s.retryAt)
		earliest(s.healthyAt)
		earliest(s.ghostUntil())
	}
	return at
}

func (l *loop) sessionLost(err error) {
	l.guard.fence(true, schedule.SessionExpired)
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

// refresh reads the factory's state, the factories and the strategies, and
// reconciles every strategy.
func (l *loop) refresh(ctx context.Context) error {
	f := l.f
	if l.me.UUID == "" {
		if err := l.registerFactory(ctx); err != nil {
			return err
		}
	}
	st, err := f.store.FactoryState(ctx, f.cfg.IP, f.cfg.HostName)
	if err != nil {
		return err
	}
	if st.Stopped != l.state.Stopped {
		if st.Stopped {
			f.log.Warn("machine stopped by the operator: leaving every strategy", "by", st.By, "reason", st.Reason)
		} else {
			f.log.Info("machine started again by the operator")
		}
	}
	l.state = st
	live, err := f.store.Factories(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(live, func(x schedule.Factory) bool { return x.UUID == l.me.UUID }) {
		if err := l.reregister(ctx); err != nil {
			return err
		}
		if live, err = f.store.Factories(ctx); err != nil {
			return err
		}
	}
	defs, err := f.store.Strategies(ctx)
	if err != nil {
		return err // units keep running as they are
	}
	// The session answered: copies fenced during a blip may run again.
	l.guard.lift()

	for _, s := range l.strats {
		s.exists = false
	}
	for _, d := range defs {
		s := l.strats[d.StrategyName]
		if s == nil {
			s = &strat{name: d.StrategyName, bo: backoff.New(f.cfg.RetryMin, f.cfg.RetryMax)}
			l.strats[d.StrategyName] = s
		}
		s.def, s.exists = d, true
	}
	l.conflicted = false
	now := f.clock.Now()
	l.refreshedAt = now
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(l.strats)) {
		s := l.strats[name]
		if err := l.reconcile(ctx, s, live, now); err != nil {
			if errors.Is(err, schedule.ErrSessionLost) || errors.Is(err, schedule.ErrClosed) {
				return err
			}
			errs = append(errs, fmt.Errorf("strategy %q: %w", name, err))
		}
		if !s.exists && s.rt == nil && len(s.units) == 0 {
			s.dropWatch()
			delete(l.strats, name)
		}
	}
	if l.conflicted {
		l.againAt = now.Add(l.conflictBo.Next())
	} else {
		l.conflictBo.Reset()
		l.againAt = time.Time{}
	}
	return errors.Join(errs...)
}

func (l *loop) registerFactory(ctx context.Context) error {
	f := l.f
	now, err := f.store.Now(ctx)
	if err != nil {
		return err
	}
	rec, err := f.store.RegisterFactory(ctx, l.sess, schedule.Factory{
		IP: f.cfg.IP, HostName: f.cfg.HostName, ProcessUUID: f.processUUID, RegisterTime: schedule.Time{Time: now},
	})
	if err != nil {
		return err
	}
	l.me = rec
	f.log.Info("factory registered", "factory", rec.UUID, "session", fmt.Sprintf("%#x", l.sess.ID()))
	return nil
}

// reregister replaces a factory node that vanished while the session lives
// (an operator deleted it): a new node, then new registrations under the
// strategies before the old ones are removed, so that what this process
// runs is counted all along.
func (l *loop) reregister(ctx context.Context) error {
	old := l.me.UUID
	l.f.log.Warn("factory node vanished while the session lives: registering again", "factory", old)
	if err := l.registerFactory(ctx); err != nil {
		return err
	}
	for _, s := range l.strats {
		if s.rt == nil {
			continue
		}
		s.rt = nil
		if err := l.register(ctx, s); err != nil {
			return err
		}
		if err := l.f.store.UnregisterStrategyRuntime(ctx, s.name, old); err != nil {
			return err
		}
	}
	return nil
}

// reconcile brings one strategy to what the cluster asks of this factory.
func (l *loop) reconcile(ctx context.Context, s *strat, live []schedule.Factory, now time.Time) error {
	f := l.f
	l.reap(s, now)
	want := s.exists && s.def.Sts != schedule.StsPause && !l.state.Stopped &&
		admits(s.def.IPList, f.cfg.IP, f.cfg.HostName)

	var key string
	var start func(copyNo int) (*unit, error)
	var prepErr error
	if want {
		key, start, prepErr = l.prepare(ctx, s)
		if errors.Is(prepErr, schedule.ErrSessionLost) || errors.Is(prepErr, schedule.ErrClosed) {
			return prepErr
		}
	}
	gone := errors.Is(prepErr, schedule.ErrNotFound) // the task type was deleted
	for _, u := range s.units {
		if u.stopping {
			continue
		}
		switch {
		case !want:
			f.log.Info("stopping "+u.name(), "strategy", s.name, "why", l.whyNot(s))
		case gone:
			f.log.Info("stopping "+u.name(), "strategy", s.name, "why", prepErr)
		case prepErr == nil && u.key != key:
			f.log.Info("restarting "+u.name()+" with the new configuration", "strategy", s.name)
		default:
			continue
		}
		u.stop(errStopped)
	}
	if !want {
		return l.leave(ctx, s)
	}
	if s.rt == nil {
		if err := l.register(ctx, s); err != nil || s.rt == nil {
			return err
		}
	}
	rts, err := f.store.StrategyRuntimes(ctx, s.name)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(rts, func(rt schedule.StrategyRuntime) bool { return rt.UUID == l.me.UUID })
	if i < 0 {
		// Our registration vanished (the strategy was deleted and created
		// again, or an operator removed it): register again soon.
		s.rt = nil
		l.conflicted = true
		return nil
	}
	held := 0
	if s.def.Kind == schedule.KindBean {
		factories := func() ([]schedule.Factory, error) { return f.store.Factories(ctx) }
		if held, err = l.ghostCopies(s, rts, live, factories, now); err != nil {
			return err
		}
	}
	leader := leaderOf(rts, live) == l.me.UUID
	l.setLeader(s, leader)
	if leader {
		if rts, err = l.distribute(ctx, s, rts, live, held); err != nil {
			return err
		}
		i = slices.IndexFunc(rts, func(rt schedule.StrategyRuntime) bool { return rt.UUID == l.me.UUID })
	} else {
		s.shortfall = 0
	}
	mine := rts[i]
	s.rt = &mine
	req := max(mine.RequestNum, 0)

	// Too many: stop the newest first.
	active := 0
	for _, u := range s.units {
		if !u.stopping {
			active++
		}
	}
	for k := len(s.units) - 1; k >= 0 && active > req; k-- {
		if u := s.units[k]; !u.stopping {
			f.log.Info("stopping "+u.name(), "strategy", s.name, "requestNum", req)
			u.stop(errStopped)
			active--
		}
	}
	// Too few: start, unless a failed start of this configuration waits for
	// its retry. Units still stopping count, so a replacement starts only
	// after the unit it replaces has returned.
	if len(s.units) < req {
		s.healthyAt = time.Time{}
		switch {
		case prepErr != nil:
			if s.mayTry(now, "") {
				l.fail(s, prepErr, now, "")
			}
		case s.mayTry(now, key):
			for len(s.units) < req {
				u, err := start(s.copies + 1)
				if errors.Is(err, errHold) {
					break
				}
				if err != nil {
					l.fail(s, err, now, key)
					break
				}
				if u.mgr == nil {
					s.copies++
				}
				s.units = append(s.units, u)
				f.log.Info("started "+u.name(), "strategy", s.name, "requestNum", req)
			}
		}
	}
	l.probation(s, req, now)
	return l.report(ctx, s)
}

// prepare reads what a unit of s is started from: its key (a unit of
// another key is restarted), and a function that starts one.
func (l *loop) prepare(ctx context.Context, s *strat) (string, func(int) (*unit, error), error) {
	f := l.f
	d := s.def
	switch d.Kind {
	case schedule.KindSchedule:
		base, ownSign, err := schedule.SplitRuntimeName(d.TaskName)
		if err != nil {
			return "", nil, err
		}
		tt, _, err := f.store.TaskType(ctx, base)
		if err != nil {
			return "", nil, fmt.Errorf("task type %q: %w", base, err)
		}
		runtime := schedule.RuntimeName(base, ownSign)
		key := "Schedule|" + runtime + "|" + taskTypeKey(tt)
		me := l.me.UUID
		return key, func(int) (*unit, error) {
			return f.startManager(d.StrategyName, key, tt, ownSign, me)
		}, nil
	case schedule.KindBean:
		key := "Bean|" + d.TaskName + "|" + d.TaskParameter
		task := f.task(d.TaskName)
		if task == nil {
			return key, nil, fmt.Errorf("%w: %q; register it with RegisterTask", ErrUnknownTask, d.TaskName)
		}
		g, sess := l.guard, l.sess
		return key, func(n int) (*unit, error) {
			parent, ok := g.context()
			if !ok || !sess.Alive() { // no copy under a lapsed lease
				return nil, errHold
			}
			return f.startCopy(parent, d.StrategyName, key, task, d.TaskParameter, n), nil
		}, nil
	}
	return "", nil, fmt.Errorf("%w: strategy %q: kind %q is not supported", schedule.ErrInvalid, d.StrategyName, d.Kind)
}

// taskTypeKey identifies a task type's configuration except its items,
// which a running manager picks up by itself.
func taskTypeKey(tt schedule.TaskType) string {
	tt.TaskItems = nil
	return fmt.Sprintf("%#v", tt)
}

func (l *loop) whyNot(s *strat) string {
	switch {
	case !s.exists:
		return "strategy deleted"
	case s.def.Sts == schedule.StsPause:
		return "strategy paused"
	case l.state.Stopped:
		return "machine stopped by the operator"
	default:
		return "IPList does not admit this factory"
	}
}

// reap removes the units that have returned; one that returned without
// being asked to is a failed start.
func (l *loop) reap(s *strat, now time.Time) {
	kept := s.units[:0]
	for _, u := range s.units {
		if !u.exited() {
			kept = append(kept, u)
			continue
		}
		if err := u.failure(); err != nil && !u.stopping {
			l.f.log.Warn(u.name()+" stopped by itself", "strategy", s.name, "err", firstLine(err.Error()))
			l.fail(s, fmt.Errorf("%s: %w", u.what(), err), now, u.key)
		} else {
			l.f.log.Debug(u.name()+" returned", "strategy", s.name)
		}
		u.cancel(errStopped) // releases its context
	}
	clear(s.units[len(kept):])
	s.units = kept
}

// mayTry reports whether a unit of configuration key may start now.
func (s *strat) mayTry(now time.Time, key string) bool {
	return s.retryAt.IsZero() || !now.Before(s.retryAt) || key != s.failKey
}

func (l *loop) fail(s *strat, err error, now time.Time, key string) {
	d := s.bo.Next()
	s.lastErr, s.failKey = err, key
	s.retryAt, s.healthyAt = now.Add(d), time.Time{}
	l.f.metrics.StartFailed(s.name)
	l.f.log.Warn("start failed; retrying", "strategy", s.name, "err", firstLine(err.Error()), "in", d)
}

// probation clears a failed start's error once every wanted unit has been
// running for RetryMin.
func (l *loop) probation(s *strat, req int, now time.Time) {
	switch {
	case s.lastErr == nil:
		return
	case req == 0 && len(s.units) == 0:
	case len(s.units) < req:
		return
	case s.healthyAt.IsZero():
		s.healthyAt = now.Add(l.f.cfg.RetryMin)
		return
	case now.Before(s.healthyAt):
		return
	}
	s.lastErr, s.failKey = nil, ""
	s.retryAt, s.healthyAt = time.Time{}, time.Time{}
	s.bo.Reset()
}

func (l *loop) setLeader(s *strat, leader bool) {
	if leader == s.leader {
		return
	}
	s.leader = leader
	l.f.metrics.StrategyLeader(s.name, leader)
	if leader {
		l.f.log.Info("distributing the strategy's thread groups (leader)", "strategy", s.name, "factory", l.me.UUID)
	}
}

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
		l.conflicted = true
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
			if o.delay, known = schedule.DecodeLockDelay(rt.TakeoverDelay); !known {
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

// register creates this factory's registration under s (watching it
// first, so that no change after the registration is missed).
func (l *loop) register(ctx context.Context, s *strat) error {
	f := l.f
	if s.watchCancel == nil {
		wctx, cancel := context.WithCancel(l.watchCtx)
		ch, err := f.store.Watch(wctx, schedule.WatchScope{Kind: schedule.WatchStrategyRuntimes, Name: s.name})
		if err != nil {
			cancel()
			return err
		}
		s.watchCancel = cancel
		f.goFunc(func() {
			for range ch {
				f.poke()
			}
		})
	}
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
		TakeoverDelay: schedule.EncodeLockDelay(l.guard.lockDelay),
	})
	switch {
	case errors.Is(err, schedule.ErrExists):
		rt = schedule.StrategyRuntime{StrategyName: s.name, UUID: l.me.UUID, Version: schedule.AnyVersion}
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
	return nil
}

func (s *strat) dropWatch() {
	if s.watchCancel != nil {
		s.watchCancel()
		s.watchCancel = nil
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
	cur, msg := len(s.units), s.message()
	if mine.CurrentNum == cur && mine.Message == msg {
		return nil
	}
	mine.CurrentNum, mine.Message = cur, msg
	out, err := l.f.store.UpdateStrategyRuntimes(ctx, s.name, "", []schedule.StrategyRuntime{mine})
	if errors.Is(err, schedule.ErrConflict) || errors.Is(err, schedule.ErrNotFound) {
		l.conflicted = true
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
	go func() {
		select {
		case <-f.force:
			cancel()
		case <-ctx.Done():
		}
	}()
	unregister := func(s *strat) {
		if s.rt == nil || !canWrite {
			return
		}
		if err := f.store.UnregisterStrategyRuntime(ctx, s.name, l.me.UUID); err != nil {
			f.log.Warn("unregistering from the strategy failed; the registration vanishes with the session", "strategy", s.name, "err", err)
		}
		s.rt = nil
	}
	timer := f.clock.NewTimer(f.cfg.ShutdownTimeout)
	defer timer.Stop()
	why := fmt.Sprintf("after %v", f.cfg.ShutdownTimeout)
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
		}
	}
	var stuck []string
	for _, s := range l.strats {
		for _, u := range s.units {
			stuck = append(stuck, u.name())
		}
	}
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
		slices.Sort(stuck)
		err := fmt.Errorf("%w: still running %s: %s", ErrShutdownTimeout, why, strings.Join(stuck, ", "))
		f.log.Error("graceful stop incomplete", "err", err)
		return err
	}
	return nil
}
