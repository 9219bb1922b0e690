package strategy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/backoff"
	iplan "github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// refresh reads the factory's state, the factories and the strategies, and
// reconciles every strategy. The reads of the factory's state, the factory
// list and the strategies go out together, and the strategies are
// reconciled concurrently (each on its own goroutine, touching only its
// own strat): a round costs the round trips of its slowest strategy, not
// the sum over the strategies.
func (l *loop) refresh(ctx context.Context) error {
	f := l.f
	live, defs, err := l.readCluster(ctx)
	if err != nil {
		return err // units keep running as they are
	}
	defer live.get() // no read outlives the round
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
	l.conflicted.Store(false)
	now := f.clock.Now()
	names := slices.Sorted(maps.Keys(l.strats))
	results := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		s := l.strats[name]
		wg.Go(func() { results[i] = l.reconcile(ctx, s, live, now) })
	}
	wg.Wait()
	var errs []error
	for i, name := range names {
		if err := results[i]; err != nil {
			if errors.Is(err, schedule.ErrSessionLost) || errors.Is(err, schedule.ErrClosed) {
				return err
			}
			errs = append(errs, fmt.Errorf("strategy %q: %w", name, err))
		}
		if s := l.strats[name]; !s.exists && s.rt == nil && len(s.units) == 0 {
			s.dropWatch()
			delete(l.strats, name)
		}
	}
	if l.conflicted.Load() {
		l.againAt = now.Add(l.conflictBo.Next())
	} else {
		l.conflictBo.Reset()
		l.againAt = time.Time{}
	}
	return errors.Join(errs...)
}

// liveFactories is a round's read of the live factories, which may still
// be under way: get waits for it. A leader may list them again (relist),
// once a round.
type liveFactories struct {
	done chan struct{}
	list func(context.Context) ([]schedule.FactoryID, error)

	mu       sync.Mutex // guards live and err once done is closed, and relisted
	live     []schedule.Factory
	err      error
	relisted bool
}

// readFactories starts reading the live factories.
func (l *loop) readFactories(ctx context.Context) *liveFactories {
	lf := &liveFactories{done: make(chan struct{}), list: l.f.store.FactoryIDs}
	go func() {
		defer close(lf.done)
		ids, err := lf.list(ctx)
		lf.mu.Lock()
		lf.live, lf.err = factoriesOf(ids), err
		lf.mu.Unlock()
	}()
	return lf
}

// factoriesOf returns the live factories as the round needs them: their
// ids, in leader order. Nothing in a round reads more of a factory's
// record, so the round lists the ids only (reading every new factory's
// record cost every factory a read per factory at a start: factories²).
// It is pure.
func factoriesOf(ids []schedule.FactoryID) []schedule.Factory {
	out := make([]schedule.Factory, len(ids))
	for i, id := range ids {
		out[i] = schedule.Factory{UUID: id}
	}
	return out
}

func (lf *liveFactories) get() ([]schedule.Factory, error) {
	<-lf.done
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.live, lf.err
}

// relist lists the live factories again, once a round (a later call
// returns that listing): a leader whose registrations name a factory the
// round's listing lacks (see unlisted) reads a listing younger than them.
// The round's listing starts before the registrations are read, and at a
// start, with ZooKeeper answering in 100-500 ms, it lacked a fifth of the
// factories registered by then: the leader gave them nothing, and its next
// round, seconds later, gave them their thread groups.
func (lf *liveFactories) relist(ctx context.Context) ([]schedule.Factory, error) {
	<-lf.done
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if !lf.relisted && lf.err == nil {
		lf.relisted = true
		ids, err := lf.list(ctx)
		if err != nil {
			return nil, err
		}
		lf.live = factoriesOf(ids)
	}
	return lf.live, lf.err
}

// readCluster registers the factory if it is not, then reads its operator
// state, the live factories and the strategies together (one round trip
// for the three, not three), registering again if its node vanished. A
// factory that has just registered its node does not wait for the factory
// list (its first read, every record): the strategies' registrations go
// ahead meanwhile, and only a leader's decision waits for it.
func (l *loop) readCluster(ctx context.Context) (*liveFactories, []schedule.Strategy, error) {
	f := l.f
	fresh := l.me.UUID == ""
	if fresh {
		if err := l.registerFactory(ctx); err != nil {
			return nil, nil, err
		}
	} else if err := l.watchFactory(l.me.UUID); err != nil {
		return nil, nil, err // a watch that failed after the registration, or closed
	}
	var (
		st          schedule.FactoryState
		defs        []schedule.Strategy
		stErr, dErr error
		wg          sync.WaitGroup
	)
	lf := l.readFactories(ctx)
	wg.Go(func() { st, stErr = f.store.FactoryState(ctx, f.cfg.IP, f.cfg.HostName) })
	wg.Go(func() { defs, dErr = f.store.Strategies(ctx) })
	wg.Wait()
	var live []schedule.Factory
	var liveErr error
	if !fresh {
		live, liveErr = lf.get()
	}
	if err := cmp.Or(stErr, liveErr, dErr); err != nil {
		lf.get()
		return nil, nil, err
	}
	if st.Stopped != l.state.Stopped {
		f.metrics.MachineStopped(st.Stopped)
		if st.Stopped {
			f.log.Warn("machine stopped by the operator: leaving every strategy", "by", st.By, "reason", st.Reason)
		} else {
			f.log.Info("machine started again by the operator")
		}
	}
	l.state = st
	if !fresh && !slices.ContainsFunc(live, func(x schedule.Factory) bool { return x.UUID == l.me.UUID }) {
		if err := l.reregister(ctx); err != nil {
			return nil, nil, err
		}
		lf = l.readFactories(ctx)
	}
	return lf, defs, nil
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
	return l.watchFactory(rec.UUID)
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
func (l *loop) reconcile(ctx context.Context, s *strat, live *liveFactories, now time.Time) error {
	f := l.f
	l.reap(s, now)
	want := s.exists && s.def.Sts != schedule.StsPause && !l.state.Stopped &&
		iplan.Admits(s.def.IPList, f.cfg.IP, f.cfg.HostName)

	var key string
	var start func(copyNo int) (*unit, error)
	var prepErr error
	var pre *runtimesRead
	switch {
	case want && (s.rt != nil || len(s.units) == 0):
		// Reading the registrations (and registering, when no unit runs
		// whose stop below could change what the registration asks for)
		// does not depend on prepare: both at once.
		var r runtimesRead
		var wg sync.WaitGroup
		wg.Go(func() { r = l.readRuntimes(ctx, s) })
		key, start, prepErr = l.prepare(ctx, s)
		wg.Wait()
		pre = &r
	case want:
		key, start, prepErr = l.prepare(ctx, s)
	}
	if errors.Is(prepErr, schedule.ErrSessionLost) || errors.Is(prepErr, schedule.ErrClosed) {
		return prepErr
	}
	gone := errors.Is(prepErr, schedule.ErrNotFound) // the task type was deleted
	for _, k := range staleUnits(views(s.units), want, gone, prepErr == nil, key) {
		u := s.units[k]
		switch {
		case !want:
			f.log.Info("stopping "+u.name(), "strategy", s.name, "why", l.whyNot(s))
		case gone:
			f.log.Info("stopping "+u.name(), "strategy", s.name, "why", prepErr)
		default:
			f.log.Info("restarting "+u.name()+" with the new configuration", "strategy", s.name)
		}
		u.stop(errStopped)
	}
	if !want {
		return l.leave(ctx, s)
	}
	req, err := l.requestNum(ctx, s, pre, live, now)
	if err != nil || req < 0 {
		return err
	}
	l.follow(s, req, now, key, start, prepErr)
	return l.report(ctx, s)
}

// runtimesRead is what readRuntimes returned.
type runtimesRead struct {
	rts []schedule.StrategyRuntime
	// every: rts carry every registration's data; else only this
	// factory's registration has its data, the others their ids alone
	// (see runtimesScope).
	every bool
	ok    bool
	err   error
}

// readRuntimes registers under s if needed, watches the registrations and
// reads them (see runtimesScope: all of them, or their ids and this
// factory's own); ok is false when the factory is not registered (the
// strategy was deleted meanwhile; the next round registers it).
func (l *loop) readRuntimes(ctx context.Context, s *strat) (r runtimesRead) {
	if s.rt == nil {
		if r.err = l.register(ctx, s); r.err != nil || s.rt == nil {
			return r
		}
	}
	scope := runtimesScope(s.name, s.def.Kind, s.leader, l.me.UUID)
	if r.err = l.watchRuntimes(s, scope); r.err != nil {
		return r
	}
	r.every = scope.Kind == storekit.WatchStrategyRuntimes
	if r.every {
		r.rts, r.err = l.f.store.StrategyRuntimes(ctx, s.name)
	} else {
		r.rts, r.err = l.readOwnRuntime(ctx, s)
	}
	r.ok = r.err == nil
	return r
}

// readOwnRuntime lists the ids of the registrations under s and reads this
// factory's own (both at once), for a factory that does not need the
// others' data: see lightRuntimes. While the leader it found at its last
// listing is still registered, it reads that registration instead of
// listing them all again (see reuseListing).
func (l *loop) readOwnRuntime(ctx context.Context, s *strat) ([]schedule.StrategyRuntime, error) {
	var ids []schedule.FactoryID
	var idsErr error
	var wg sync.WaitGroup
	reuse := reuseListing(s.def.Kind, s.listed, s.listedLeader, l.me.UUID, l.f.clock.Now().Sub(s.listedAt), l.f.cfg.RefreshInterval)
	if reuse {
		wg.Go(func() {
			_, idsErr = l.f.store.StrategyRuntime(ctx, s.name, s.listedLeader)
			if idsErr == nil {
				ids = s.listed
			}
		})
	} else {
		s.listed, s.listedLeader = nil, ""
		now := l.f.clock.Now()
		wg.Go(func() {
			if ids, idsErr = l.f.store.StrategyRuntimeIDs(ctx, s.name); idsErr == nil {
				s.listed, s.listedAt = ids, now
			}
		})
	}
	own, err := l.f.store.StrategyRuntime(ctx, s.name, l.me.UUID)
	wg.Wait()
	if reuse && errors.Is(idsErr, schedule.ErrNotFound) {
		// The leader left: list them again.
		s.listed, s.listedLeader = nil, ""
		return l.readOwnRuntime(ctx, s)
	}
	found := err == nil
	if errors.Is(err, schedule.ErrNotFound) {
		err = nil
	}
	if err = cmp.Or(idsErr, err); err != nil {
		return nil, err
	}
	if !found {
		return lightRuntimes(s.name, ids, l.me.UUID, nil), nil
	}
	return lightRuntimes(s.name, ids, l.me.UUID, &own), nil
}

// requestNum registers under s if needed and reads the registrations
// (unless pre holds that read), lets the leader distribute, and returns
// what is asked of this factory: -1 when it is not registered (the next
// round registers it).
func (l *loop) requestNum(ctx context.Context, s *strat, pre *runtimesRead, lf *liveFactories, now time.Time) (int, error) {
	f := l.f
	if pre == nil {
		r := l.readRuntimes(ctx, s)
		pre = &r
	}
	if pre.err != nil || !pre.ok {
		return -1, pre.err
	}
	rts := pre.rts
	live, err := lf.get()
	if err != nil {
		return -1, err
	}
	mine := func() int {
		return slices.IndexFunc(rts, func(rt schedule.StrategyRuntime) bool { return rt.UUID == l.me.UUID })
	}
	vanished := func() (int, error) {
		// Our registration vanished (the strategy was deleted and created
		// again, or an operator removed it): register again soon.
		s.rt = nil
		l.conflicted.Store(true)
		return -1, nil
	}
	if mine() < 0 {
		return vanished()
	}
	lead := leaderOf(rts, live)
	leader := lead == l.me.UUID
	if s.listed != nil && !pre.every {
		s.listedLeader = lead
	}
	if leader && !pre.every {
		// It leads now, and read only its own registration: it needs
		// every one's data. The wider watch is armed before the read, so
		// that no change after the read is missed.
		if err := l.watchRuntimes(s, runtimesScope(s.name, s.def.Kind, true, l.me.UUID)); err != nil {
			return -1, err
		}
		if rts, err = f.store.StrategyRuntimes(ctx, s.name); err != nil {
			return -1, err
		}
		if mine() < 0 {
			return vanished()
		}
		leader = leaderOf(rts, live) == l.me.UUID
	}
	if leader && unlisted(rts, live) {
		if live, err = lf.relist(ctx); err != nil {
			return -1, err
		}
		leader = leaderOf(rts, live) == l.me.UUID
	}
	held := 0
	if s.def.Kind == schedule.KindBean {
		factories := func() ([]schedule.Factory, error) { return f.store.Factories(ctx) }
		if held, err = l.ghostCopies(s, rts, live, factories, now); err != nil {
			return -1, err
		}
	}
	l.setLeader(s, leader)
	if leader {
		if rts, err = l.distribute(ctx, s, rts, live, held); err != nil {
			return -1, err
		}
	} else {
		s.shortfall = 0
	}
	rt := rts[mine()]
	s.rt = &rt
	// A leader that no longer leads follows only its own registration from
	// now on (nothing changes while the leadership does not).
	if err := l.watchRuntimes(s, runtimesScope(s.name, s.def.Kind, leader, l.me.UUID)); err != nil {
		return -1, err
	}
	return max(rt.RequestNum, 0), nil
}

// follow stops and starts units to match req (see resize), unless a failed
// start of this configuration waits for its retry, and then runs the
// probation of a failed start.
func (l *loop) follow(s *strat, req int, now time.Time, key string, start func(int) (*unit, error), prepErr error) {
	f := l.f
	stop, more := resize(views(s.units), req)
	for _, k := range stop {
		u := s.units[k]
		f.log.Info("stopping "+u.name(), "strategy", s.name, "requestNum", req)
		u.stop(errStopped)
	}
	if more > 0 {
		s.healthyAt = time.Time{}
		switch {
		case prepErr != nil:
			if s.mayStart(now, "") {
				l.fail(s, prepErr, now, "")
			}
		case s.mayStart(now, key):
			for ; more > 0; more-- {
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
				f.log.Info("started "+u.name(), "strategy", s.name, "unit", fmt.Sprintf("%d/%d", len(s.units), req))
			}
		}
	}
	var reset bool
	if s.startRetry, reset = s.probation(req, len(s.units), now, f.cfg.RetryMin); reset {
		s.bo.Reset()
	}
}

// views returns what the decisions need of units.
func views(units []*unit) []unitView {
	out := make([]unitView, len(units))
	for i, u := range units {
		out[i] = unitView{key: u.key, stopping: u.stopping}
	}
	return out
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
			return key, nil, fmt.Errorf("%w: %w: %q; register it with RegisterTask", schedule.ErrInvalid, ErrUnknownTask, d.TaskName)
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

// taskTypeKey identifies a task type's configuration except its items, its
// sts (pause/resume) and its run-now request, which a running manager picks
// up by itself.
func taskTypeKey(tt schedule.TaskType) string {
	tt.TaskItems, tt.Sts = nil, ""
	tt.RunNowAt, tt.RunNowBy = time.Time{}, ""
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
			if pe := (*schedule.PanicError)(nil); errors.As(err, &pe) {
				l.f.log.Error(u.name()+" panicked", "strategy", s.name, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
			} else {
				l.f.log.Warn(u.name()+" stopped by itself", "strategy", s.name, "err", firstLine(err.Error()))
			}
			l.fail(s, fmt.Errorf("%s: %w", u.what(), err), now, u.key)
		} else {
			l.f.log.Debug(u.name()+" returned", "strategy", s.name)
		}
		if u.stopping && errors.Is(u.err, schedule.ErrStopIncomplete) {
			l.leftMu.Lock()
			l.left = append(l.left, u.err) // Run reports it at the end
			l.leftMu.Unlock()
		}
		u.cancel(errStopped) // releases its context
	}
	clear(s.units[len(kept):])
	s.units = kept
}

// fail records a failed start of key (see startRetry.failed), with the
// strategy's next backoff.
func (l *loop) fail(s *strat, err error, now time.Time, key string) {
	d := s.bo.Next()
	s.startRetry = s.failed(err, key, now, d)
	l.f.metrics.StartFailed(s.name)
	l.f.event(s.name, startFailedEvent(key, err))
	l.f.log.Warn("start failed; retrying", "strategy", s.name, "err", firstLine(err.Error()), "in", d)
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
