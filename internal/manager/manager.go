package manager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/backoff"
	"github.com/tbschedule/tbschedule-go/internal/engine"
	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/readpath"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// errRegistrationLost: our server node vanished while the session lives (an
// operator removed it, or the session changed under us): register again.
var errRegistrationLost = errors.New("schedule: server registration lost")

// Manager is one schedule server (TBSchedule's TBScheduleManager): one thread
// group of one task type + ownSign. It registers an ephemeral-sequential
// server node, heartbeats, takes part in leader election (the lowest sequence
// leads), builds and balances the task items when it leads, takes and hands
// over items at batch boundaries, and runs the task type's processor on the
// items it owns inside the permit window.
//
// A Manager is safe for concurrent use; Run may be called once.
type Manager struct {
	store   storekit.Store
	tt      schedule.TaskType // tt.TaskItems may change while running (guarded by mu)
	ownSign string
	runtime string
	deal    processor.Deal
	window  windowPlan
	cfg     schedule.ManagerConfig
	log     *slog.Logger
	procLog *slog.Logger // log without ownSign, for the processor
	clock   schedule.Clock
	metrics schedule.Metrics
	// procMetrics receives the processors' events (metrics.Processor); nil: none.
	procMetrics processor.Metrics
	// oldReads: follow the items the previous way (a watch on every item,
	// all read when the stamp moved), for benchmarks; set at construction
	// from internal/readpath.
	oldReads bool
	events   func(schedule.Event) // nil: none (WithEvents)

	started atomic.Bool
	// registered: the server registered at least once (a refusal by the
	// store's ACL before that ends Run; after it, it is retried).
	registered atomic.Bool
	// sweeping: a sweep of gone servers' note boxes is under way (see
	// sweepBoxes; one at a time, beside the session loop).
	sweeping atomic.Bool
	work     atomic.Pointer[workHost] // set by Run
	wg       sync.WaitGroup
	wake     chan struct{} // coalescing: something for the session loop to look at

	mu        sync.Mutex // guards the fields below
	defs      []string
	paused    bool          // the task type's sts is pause
	runNow    runNowRequest // the task type's last run-now request (runnow.go)
	status    schedule.Status
	finished  []schedule.ItemID // releases of session whose batch boundary passed; read by the session loop
	session   *session          // the current session's state, to tag releases
	lastError error
}

// NewManager validates everything first and returns a Manager for the task
// type tt (as stored) in the environment ownSign (DefaultOwnSign or "" for
// the base runtime), with the process-side tunables cfg (zero fields take
// their defaults: ManagerConfig{} is the default). deal is the deal
// registered under tt.DealBeanName; a nil deal is the error of an unknown
// deal bean. Every problem wraps ErrInvalid. Nothing is registered until
// Run.
func NewManager(store storekit.Store, tt schedule.TaskType, ownSign string, deal processor.Deal, cfg schedule.ManagerConfig, opts ...ManagerOption) (*Manager, error) {
	o := managerOptions{log: slog.Default(), clock: schedule.SystemClock(), metrics: schedule.NopMetrics{}}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if store == nil {
		errs = append(errs, fmt.Errorf("%w: store must not be nil", schedule.ErrInvalid))
	}
	if err := tt.Validate(); err != nil {
		errs = append(errs, err)
	}
	if ownSign == "" {
		ownSign = schedule.DefaultOwnSign
	}
	runtime := schedule.RuntimeName(tt.BaseTaskType, ownSign)
	if _, _, err := schedule.SplitRuntimeName(runtime); err != nil {
		errs = append(errs, fmt.Errorf("ownSign: %w", err))
	}
	if deal == nil {
		errs = append(errs, fmt.Errorf("%w: taskType %q: no deal registered under dealBeanName %q", schedule.ErrInvalid, tt.BaseTaskType, tt.DealBeanName))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	cfg = withDefaults(cfg)
	w, err := newWindowPlan(tt)
	if err != nil {
		errs = append(errs, err)
	}
	if deal != nil && len(errs) == 0 {
		// Build a processor once so that a deal unfit for the task type (a
		// NOTSLEEP deal without a key...) fails here, not at the first window.
		if _, err := engine.New(deal, processorConfig(tt, ownSign, 1, cfg)); err != nil {
			errs = append(errs, fmt.Errorf("taskType %q: deal %q: %w", tt.BaseTaskType, tt.DealBeanName, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &Manager{
		store: store, tt: tt, ownSign: ownSign, runtime: runtime, deal: deal, window: w,
		cfg: cfg, clock: o.clock, metrics: o.metrics, events: o.events,
		log: o.log.With("task", tt.BaseTaskType, "ownSign", ownSign),
		// The processor adds ownSign to its lines itself.
		procLog: o.log.With("task", tt.BaseTaskType),
		wake:    make(chan struct{}, 1),
		defs:    slices.Clone(tt.TaskItems), paused: tt.Sts == schedule.StsPause,
		oldReads: readpath.Old(),
	}
	m.procMetrics = o.metrics.Processor(runtime)
	m.status = schedule.Status{Runtime: runtime, Session: schedule.SessionClosed}
	return m, nil
}

// processorConfig maps a task type onto the processor's tunables. A task
// type's zero sleepTimeNoData means no pause (TBSchedule's meaning), which a
// engine.Config says with a negative value (its zero is the default).
func processorConfig(tt schedule.TaskType, ownSign string, itemNum int, cfg schedule.ManagerConfig) engine.Config {
	noData := tt.SleepTimeNoData
	if noData == 0 {
		noData = -1
	}
	return engine.Config{
		Type:                       processor.Type(tt.ProcessorType),
		ThreadNumber:               tt.ThreadNumber,
		FetchDataNumber:            tt.FetchDataNumber,
		ExecuteNumber:              tt.ExecuteNumber,
		SleepTimeNoData:            noData,
		SleepTimeInterval:          tt.SleepTimeInterval,
		ShutdownTimeout:            cfg.ShutdownTimeout,
		CancelGrace:                cfg.CancelGrace,
		TaskParameter:              tt.TaskParameter,
		OwnSign:                    ownSign,
		TaskItemNum:                itemNum,
		FetchDataCountEachSchedule: tt.FetchDataCountEachSchedule,
	}
}

// Runtime returns "base" or "base$ownSign".
func (m *Manager) Runtime() string { return m.runtime }

// goFunc starts a goroutine tied to the manager's WaitGroup.
func (m *Manager) goFunc(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run registers the server and takes part in the cluster until ctx is
// cancelled, then stops gracefully: it stops fetching, lets running deals
// finish (bounded by ShutdownTimeout, then CancelGrace after their contexts
// are cancelled), deletes its server node and hands every owned item over
// in one atomic step each (each step bounded by StopTimeout), and returns
// only after every goroutine it started has exited. After a session expiry
// it registers again under the new session. It returns nil after a
// complete graceful stop, ErrStopIncomplete naming what was left when a
// step ran out of time (a deal that ignores its context, a partition), and
// ErrClosed when the store was closed under it. When the store refuses the
// first registration (wrong or missing credentials) it returns at once
// with an error wrapping ErrPermission: a permission lost later is retried
// and shown in Status. A second call returns ErrRunning.
func (m *Manager) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: manager of %s: Run called twice", schedule.ErrRunning, m.runtime)
	}
	work := newWorkHost(m)
	work.paused = m.isPaused()
	if work.paused {
		m.log.Info("task type paused (sts: pause): nothing is fetched until it is resumed; items stay owned")
	}
	m.work.Store(work)
	wctx, stopWork := context.WithCancel(context.Background())
	m.goFunc(func() { work.run(wctx) })
	defer func() {
		stopWork()
		m.wg.Wait()
	}()

	bo := backoff.New(100*time.Millisecond, 5*time.Second)
	for {
		sess, err := m.store.Session(ctx)
		if ctx.Err() != nil {
			return m.stopUnregistered(work)
		}
		served := false
		if err == nil {
			served, err = m.runSession(ctx, sess, work)
			if ctx.Err() != nil {
				// runSession stopped gracefully; err says what it left.
				if errors.Is(err, schedule.ErrStopIncomplete) {
					return err
				}
				return nil
			}
		}
		if errors.Is(err, schedule.ErrClosed) {
			return errors.Join(err, m.stopUnregistered(work))
		}
		if errors.Is(err, schedule.ErrPermission) && !m.registered.Load() {
			// Retrying cannot help: the credentials are wrong or missing.
			work.stop()
			return fmt.Errorf("schedule: manager of %s: the store refuses to register the server: %w", m.runtime, err)
		}
		m.setError(err)
		d := bo.Next()
		if againAtOnce(err, served) {
			m.log.Error("session lost: registering again", "err", err)
			d = 0
			bo.Reset()
		} else {
			m.log.Warn("manager session failed; retrying", "err", err, "in", d)
		}
		if !m.sleep(ctx, d) {
			return m.stopUnregistered(work)
		}
	}
}

// stopUnregistered stops the work of a manager that has no registration
// (between sessions): there is nothing to hand over.
func (m *Manager) stopUnregistered(work *workHost) error {
	if !work.stop() {
		return m.stopIncomplete([]string{"a deal that ignores its context still runs"})
	}
	return nil
}

// stopIncomplete is the error of a graceful stop that left the parts named.
func (m *Manager) stopIncomplete(left []string) error {
	err := fmt.Errorf("%w: manager of %s, after ShutdownTimeout %v, CancelGrace %v and StopTimeout %v: %s",
		schedule.ErrStopIncomplete, m.runtime, m.cfg.ShutdownTimeout, m.cfg.CancelGrace, m.cfg.StopTimeout, strings.Join(left, "; "))
	m.log.Error("graceful stop incomplete", "err", err)
	return err
}

// againAtOnce decides whether a session loop that ended with err is
// followed by a new one at once rather than after the backoff: when the
// session or the registration was lost after the session served (the
// server registered under it). A session lost before that waits for the
// backoff, so that a store that keeps handing out a dead session is not
// asked again and again in a busy loop.
func againAtOnce(err error, served bool) bool {
	return served && (errors.Is(err, schedule.ErrSessionLost) || errors.Is(err, errRegistrationLost))
}

// sleep waits d on the manager's clock; false if ctx ended first.
func (m *Manager) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := m.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// session is the state of the session loop; owned by it alone.
type session struct {
	sess      storekit.Session
	me        schedule.ServerID
	rec       schedule.Server
	leader    bool
	releasing map[schedule.ItemID]time.Time     // release under way → since when
	owned     map[schedule.ItemID]schedule.Item // last seen own items
	// items is what the server knows of the items (see followItems): every
	// item when full (the leader), else the ones it owns, with the mark.
	// The previous way (Manager.oldReads): the last full read, used while
	// its stamp is current.
	items schedule.Items
	// full: items holds every item; recheck: re-read the items held (a
	// rebuild, the resync); leaderNotes: the leader box's watch, once
	// this server leads.
	full, recheck bool
	// ownNotes and leaderNotes are the watches of this server's note box
	// and, once it leads, the leader box (armed by the rounds, see
	// followItems).
	ownNotes, leaderNotes <-chan struct{}
	// servers is the last read of the live servers, read again when
	// serversStale (see liveServers); serversCh is the servers' watch
	// (the session loop's; a round may take its notification, see
	// serversMoved).
	servers      []schedule.Server
	serversStale bool
	serversCh    <-chan struct{}
	// records are the records read of the servers in servers (a server
	// that neither leads nor is next in line reads none: see liveServers).
	records map[schedule.ServerID]schedule.Server
	// seen are the live servers of the last read, joined when a read last
	// found one that was not among them (asked for then; joining: the last
	// read did), builtFresh when this server built the items from nothing
	// (local clock; see Manager.settle).
	seen               map[schedule.ServerID]bool
	joined, builtFresh time.Time
	joining            bool
	// expected is how many servers the strategies ask for, read once the
	// start settles (0: not read, or unknown; see Manager.settle).
	expected int
	// resyncs counts the resyncs; every recheckEvery-th re-reads the items
	// held.
	resyncs int
	// The lock delay (see holdVanished): when this leader first saw each
	// vanished server that still owned items (local clock), the lock delays
	// the servers published while live, and the earliest end of a hold under
	// way (zero when none), when the session loop must look again.
	gone      map[schedule.ServerID]time.Time
	delays    map[schedule.ServerID]time.Duration
	heldUntil time.Time
	// hosts are the host names the servers published while live, and holds
	// the holds of the last round (local clock), published in this server's
	// record (Server.Holds) for operators.
	hosts map[schedule.ServerID]string
	holds []schedule.ServerHold
}

// runSession registers the server under sess and follows the items until
// the session or the registration is lost, or ctx ends. served reports
// whether the server registered under the session.
func (m *Manager) runSession(ctx context.Context, sess storekit.Session, work *workHost) (served bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	now, err := m.store.Now(sctx)
	if err != nil {
		return false, err
	}
	host := m.cfg.HostName
	rec := schedule.Server{
		TaskType: m.runtime, BaseTaskType: m.tt.BaseTaskType, OwnSign: m.ownSign,
		IP: m.cfg.IP, HostName: host, ThreadNum: m.tt.ThreadNumber,
		RegisterTime: schedule.Time{Time: now}, HeartBeatTime: schedule.Time{Time: now}, IsRegister: true,
		ManagerFactoryUUID: string(m.cfg.FactoryID), Session: sess.ID(),
		TakeoverDelay: fence.EncodeLockDelay(m.lockDelay(sess)),
	}
	// Register first, then watch: nothing this server reads happens before
	// its watches are armed (the first reconcile below reads the servers,
	// the items and the task type afresh), so no change is missed, and the
	// leader sees the server without waiting for the arming (a Watch call
	// waits for the store's re-arming of every watch that fired: at a
	// start of many factories, most of a manager's way to registration).
	rec, err = m.store.RegisterServer(sctx, sess, rec)
	if err != nil {
		return false, err
	}
	served = true
	s := &session{sess: sess, me: rec.UUID, rec: rec, releasing: map[schedule.ItemID]time.Time{}, owned: map[schedule.ItemID]schedule.Item{},
		gone: map[schedule.ServerID]time.Time{}, delays: map[schedule.ServerID]time.Duration{}, hosts: map[schedule.ServerID]string{}, recheck: true}

	m.mu.Lock()
	m.session, m.finished = s, nil
	m.registered.Store(true)
	m.mu.Unlock()
	m.updateStatus(func(st *schedule.Status) {
		st.Server, st.Session, st.Owned, st.Releasing = s.me, schedule.SessionConnected, nil, nil
	})
	m.log.Info("server registered", "server", s.me, "session", fmt.Sprintf("%#x", sess.ID()), "window", work.windowName())
	serversCh, itemsCh, configCh, err := m.watchSession(sctx, s.me)
	if err != nil {
		// The store closed or ctx ended (a lost connection arms later):
		// the server must not stay registered without following.
		if ctx.Err() != nil {
			if serr := m.stopGracefully(s, work); serr != nil {
				return served, serr
			}
			return served, ctx.Err()
		}
		if uerr := m.unregister(s); uerr != nil {
			m.log.Warn("removing the server node failed; it vanishes with the session", "server", s.me, "err", uerr)
		}
		m.dropSession(s, work)
		return served, err
	}
	// The guard starts held (and fenced if the last session ended fenced);
	// the first successful reconcile below lifts it.
	guard := newFenceGuard(m, sess, work)
	m.goFunc(func() { guard.run(sctx) })

	hb := m.clock.NewTicker(m.tt.HeartBeatRate)
	defer hb.Stop()
	resync := m.clock.NewTicker(resyncInterval(m.cfg, m.tt))
	defer resync.Stop()

	// Config edits made while this server had no session are not seen by
	// the config watch: read the task type afresh.
	m.reloadConfig(sctx)

	s.serversCh = serversCh
	dirty := true
	bo := backoff.New(50*time.Millisecond, 2*time.Second)
	races := 0 // rounds in a row that lost races and ran again at once
	var retry schedule.Timer
	var retryC <-chan time.Time
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		if dirty && sess.State() == schedule.SessionConnected {
			dirty = false
			again, err := m.reconcile(sctx, s, work)
			switch {
			case errors.Is(err, errRegistrationLost) || errors.Is(err, schedule.ErrSessionLost):
				m.dropSession(s, work)
				return served, err
			case err != nil && sctx.Err() == nil:
				m.setError(err)
				m.log.Warn("reconcile failed; retrying", "server", s.me, "err", err)
				again = retryLater
			case err == nil:
				// Servers and items were just read on this session: it is
				// alive and the items we process are ours.
				guard.lift()
				work.setLease(sess)
				m.publishHolds(sctx, s, work)
			}
			if retry != nil {
				retry.Stop()
				retry, retryC = nil, nil
			}
			switch {
			case retryAtOnce(again, races):
				races++
				retryC = firedAlready
			case again != retryNone:
				// races stays: the backoff until a round that asks for none.
				retry = m.clock.NewTimer(bo.Next())
				retryC = retry.C()
			case !s.heldUntil.IsZero():
				// Items held by the lock delay: look again when it ends.
				races = 0
				bo.Reset()
				retry = m.clock.NewTimer(max(s.heldUntil.Sub(m.clock.Now()), time.Millisecond))
				retryC = retry.C()
			default:
				races = 0
				bo.Reset()
			}
		}
		select {
		case <-ctx.Done():
			if err := m.stopGracefully(s, work); err != nil {
				return served, err
			}
			return served, ctx.Err()
		case <-guard.changed:
			switch st := sess.State(); st {
			case schedule.SessionExpired, schedule.SessionClosed:
				m.dropSession(s, work)
				return served, fmt.Errorf("%w: session %#x %s", schedule.ErrSessionLost, sess.ID(), st)
			case schedule.SessionConnected:
				// The same session, its watches held: a change of the
				// servers, the items or the note box meanwhile fired their
				// watch, and its round is due now (dirty). The items are
				// still ours: while the session lives, every change to an
				// item it owns leaves a note in its box in the same atomic
				// write. The guard lifted itself if a round confirmed the
				// session before (see fenceGuard); a guard never confirmed
				// waits for a round. A round of every manager at every
				// return from suspicion was thousands of note-box reads
				// in a cold start, on a ZooKeeper slow already.
				dirty = dirty || guard.restrained()
			}
		// A watch channel closes only when the store closes (the session
		// ends with it): a closed one is not selected again, or it would
		// call for a round at once, forever.
		case _, open := <-s.serversCh:
			s.serversCh, dirty = openOrNil(s.serversCh, open), true
			s.serversStale = true
		case _, open := <-itemsCh:
			itemsCh, dirty = openOrNil(itemsCh, open), true
			s.recheck = true
		case _, open := <-s.ownNotes:
			s.ownNotes, dirty = openOrNil(s.ownNotes, open), true
		case _, open := <-s.leaderNotes:
			s.leaderNotes, dirty = openOrNil(s.leaderNotes, open), true
		case _, open := <-configCh:
			configCh = openOrNil(configCh, open)
			m.reloadConfig(sctx)
			dirty = true
		case <-m.wake:
			dirty = true
		case <-retryC:
			retry, retryC = nil, nil
			dirty = true
		case <-resync.C():
			m.reloadConfig(sctx)
			dirty, s.serversStale = true, true
			s.resyncs++
			s.recheck = s.recheck || s.resyncs%recheckEvery == 0
			if s.leader {
				m.expireOwnSigns(sctx)
				if !m.oldReads && m.sweeping.CompareAndSwap(false, true) {
					// Housekeeping beside the rounds: one box after the
					// other takes seconds under load.
					me := s.me
					m.goFunc(func() {
						defer m.sweeping.Store(false)
						m.sweepBoxes(sctx, me)
					})
				}
			}
		case <-hb.C():
			if guard.restrained() {
				continue
			}
			if err := m.heartbeat(sctx, s, work); err != nil {
				if errors.Is(err, schedule.ErrNotFound) {
					m.dropSession(s, work)
					return served, fmt.Errorf("%w: %v", errRegistrationLost, err)
				}
				m.log.Warn("heartbeat failed", "server", s.me, "err", err)
			}
		}
	}
}

// watchSession arms the session's watches: the runtime's servers as they
// concern this server (me), its items (the mark, or every item on the old
// read path) and the configuration.
//
// The servers watch names me: while another server leads, it fires when
// the leader leaves, not at every join and leave behind it (which made
// every server list the servers again at every join: servers² listings as
// a cluster starts). A server that does not lead learns of the others at
// its resyncs; it needs them only to lead, and reads them all then.
func (m *Manager) watchSession(ctx context.Context, me schedule.ServerID) (servers, items, config <-chan struct{}, err error) {
	serversScope := storekit.WatchScope{Kind: storekit.WatchServers, Name: m.runtime, Server: me}
	itemsScope := storekit.WatchScope{Kind: storekit.WatchMark, Name: m.runtime}
	if m.oldReads {
		serversScope.Server = ""
		itemsScope.Kind = storekit.WatchItems
	}
	// Armed together: one round trip under load is a second or more.
	var serversErr, itemsErr, configErr error
	var wg sync.WaitGroup
	wg.Go(func() { servers, serversErr = m.store.Watch(ctx, serversScope) })
	wg.Go(func() { items, itemsErr = m.store.Watch(ctx, itemsScope) })
	config, configErr = m.store.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchConfig})
	wg.Wait()
	if err := cmp.Or(serversErr, itemsErr, configErr); err != nil {
		return nil, nil, nil, err
	}
	return servers, items, config, nil
}

// firedAlready is a timer channel that is always ready: the next round at
// once, through the session loop's select, so that a stop or a lost
// session is still seen.
var firedAlready = func() <-chan time.Time {
	ch := make(chan time.Time)
	close(ch)
	return ch
}()

// recheckEvery is how many resyncs pass between two re-reads of the items
// a server holds (the safety net of the note boxes): often enough that a
// note lost to an operator's mistake delays little, rarely enough that an
// idle server's load does not grow with its items.
const recheckEvery = 10

// openOrNil returns ch while it is open, nil (never ready) once closed.
func openOrNil(ch <-chan struct{}, open bool) <-chan struct{} {
	if !open {
		return nil
	}
	return ch
}

// lockDelay is this server's lock delay (ManagerConfig.LockDelay), published
// in its record (Server.TakeoverDelay).
func (m *Manager) lockDelay(sess storekit.Session) time.Duration {
	return fence.LockDelay(sess.Timeout(), m.cfg.FenceAfter, m.cfg.LockDelay)
}

// dropSession forgets everything owned under a lost session: the processor
// is fenced (deal contexts cancelled, queues dropped) and holds no items.
func (m *Manager) dropSession(s *session, work *workHost) {
	work.setLease(nil)
	work.setFenced(true)
	work.setItems(nil)
	m.updateStatus(func(st *schedule.Status) {
		st.Owned, st.Releasing, st.IsLeader, st.Leader = nil, nil, false, ""
	})
	if s.leader {
		m.metrics.LeaderChanged(m.runtime, s.me, false)
	}
	m.metrics.ItemsOwned(m.runtime, s.me, 0)
}

// reloadConfig picks up an edited item list and the task type's sts
// (pause/resume) while running. Other edits of the task type (threads,
// windows, deal...) need a new manager; the factory restarts managers for
// those.
func (m *Manager) reloadConfig(ctx context.Context) {
	tt, _, err := m.store.TaskType(ctx, m.tt.BaseTaskType)
	if err != nil {
		if !errors.Is(err, schedule.ErrNotFound) {
			m.log.Warn("reading task type failed", "err", err)
		}
		return
	}
	m.noteRunNow(tt)
	paused := tt.Sts == schedule.StsPause
	m.mu.Lock()
	changed := !slices.Equal(m.defs, tt.TaskItems)
	if changed {
		m.defs = slices.Clone(tt.TaskItems)
	}
	pauseChanged := m.paused != paused
	m.paused = paused
	m.mu.Unlock()
	if changed {
		m.log.Info("task items changed in the configuration", "items", len(tt.TaskItems))
	}
	if w := m.work.Load(); pauseChanged && w != nil {
		w.setPaused(paused)
		if paused {
			m.log.Info("task type paused (sts: pause): fetching stopped, running records finish, items stay owned")
		} else {
			m.log.Info("task type resumed (sts: resume): fetching again")
		}
	}
}

func (m *Manager) isPaused() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused
}

func (m *Manager) currentDefs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.defs
}

// markStale reports whether the leader should refresh the mark so that the
// runtime's liveness stays visible to ownSign expiry (every quarter of
// expireOwnSignInterval, at least hourly).
func (m *Manager) markStale(ctx context.Context, mark schedule.ItemsMark) bool {
	if mark.BuiltAt.IsZero() {
		return true
	}
	every := min(m.tt.ExpireOwnSignInterval/4, time.Hour)
	now, err := m.store.Now(ctx)
	return err == nil && now.Sub(mark.BuiltAt.Time) > every
}

// parallel runs f(0..n-1) with bounded parallelism and returns the joined errors.
func (m *Manager) parallel(ctx context.Context, n int, f func(i int) error) error {
	limit := min(m.cfg.WriteParallelism, n)
	if limit <= 1 {
		var errs []error
		for i := 0; i < n; i++ {
			if err := f(i); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next atomic.Int64
	)
	for w := 0; w < limit; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// heartbeat rewrites the server record.
func (m *Manager) heartbeat(ctx context.Context, s *session, work *workHost) error {
	now, err := m.store.Now(ctx)
	if err != nil {
		return err
	}
	ws := work.windowState()
	stats := work.stats()
	s.rec.Version++
	s.rec.HeartBeatTime = schedule.Time{Time: now}
	s.rec.LastFetchDataTime = schedule.Time{Time: stats.LastFetch}
	s.rec.DealInfoDesc = ws.message + ":" + stats.DealInfoDesc()
	s.rec.NextRunStartTime, s.rec.NextRunEndTime = m.window.describe(ws.state)
	s.rec.WindowState = ws.name()
	s.rec.Message = m.errorText()
	if !sameHolds(s.rec.Holds, s.holds) {
		// Converted once per hold: a later heartbeat's conversion would
		// move the published end by the clocks' jitter.
		s.rec.Holds = clusterHolds(s.holds, m.clock.Now(), now)
	}
	return m.store.UpdateServer(ctx, s.rec)
}

// publishHolds writes the record at once when the lock-delay holds of this
// round differ from the published ones (a server vanished, or a hold
// ended), so operators see a takeover under way without waiting for the
// next heartbeat.
func (m *Manager) publishHolds(ctx context.Context, s *session, work *workHost) {
	if sameHolds(s.rec.Holds, s.holds) {
		return
	}
	if err := m.heartbeat(ctx, s, work); err != nil && ctx.Err() == nil {
		m.log.Warn("publishing the lock-delay holds failed; the next heartbeat retries", "server", s.me, "err", err)
	}
}

// sameHolds reports whether published and current name the same servers
// with the same item counts (their ends are in different clocks).
func sameHolds(published, current []schedule.ServerHold) bool {
	if len(published) != len(current) {
		return false
	}
	counts := make(map[schedule.ServerID]int, len(published))
	for _, h := range published {
		counts[h.Server] = h.Items
	}
	for _, h := range current {
		if n, ok := counts[h.Server]; !ok || n != h.Items {
			return false
		}
	}
	return true
}

// clusterHolds returns holds (ends on the local clock, read as localNow)
// with their ends in cluster time (read as clusterNow), sorted by server.
// It is pure.
func clusterHolds(holds []schedule.ServerHold, localNow, clusterNow time.Time) []schedule.ServerHold {
	if len(holds) == 0 {
		return nil
	}
	out := make([]schedule.ServerHold, len(holds))
	for i, h := range holds {
		h.Until = schedule.Time{Time: clusterNow.Add(h.Until.Sub(localNow))}
		out[i] = h
	}
	slices.SortFunc(out, func(a, b schedule.ServerHold) int { return strings.Compare(string(a.Server), string(b.Server)) })
	return out
}

// stopGracefully is the end of Run: stop the processor (running deals may
// finish, bounded by ShutdownTimeout), delete the server node, then hand
// every owned item over. It uses a fresh, bounded context.
//
// The node goes first so that no leader grants this server anything more:
// an item granted between a release and the node's removal would be left
// owned by a vanished server and held for the lock delay. The releases are
// written without the node's guard, checked against each item's version
// (an item someone else moved meanwhile is left alone). Processing has
// stopped, so a leader that sees the node gone before a release holds the
// item until the release arrives (milliseconds) or the lock delay ends.
func (m *Manager) stopGracefully(s *session, work *workHost) error {
	if !work.stop() {
		// Handing the items over now would let their next owner overlap
		// the deal: they stay with this server until its session ends.
		n := len(m.Status().Owned)
		m.dropSession(s, work)
		return m.stopIncomplete([]string{fmt.Sprintf(
			"a deal that ignores its context still runs, so server %s and its %d items were left as they are (they move once the session ends: close the store)", s.me, n)})
	}
	var left []string
	if err := m.unregister(s); err != nil {
		left = append(left, fmt.Sprintf("server node %s not removed (%v); it vanishes with the session", s.me, err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StopTimeout)
	defer cancel()
	if err := m.releaseAll(ctx, s); err != nil {
		left = append(left, fmt.Sprintf("items not released (%v); the leader grants them after the lock delay", err))
	}
	m.dropSession(s, work)
	m.updateStatus(func(st *schedule.Status) { st.Session = schedule.SessionClosed })
	if len(left) > 0 {
		return m.stopIncomplete(left)
	}
	m.log.Info("server stopped", "server", s.me)
	return nil
}

// releaseAll hands over every item still owned by s.me (to its requested
// owner, if any, else to nobody, also when the requested owner's node is
// gone), after the server node is gone. A release
// that conflicts (the leader wrote the item meanwhile, a request for
// example) is tried again on a fresh read while the item is still ours: an
// item left owned by this vanished server would wait for the lock delay.
func (m *Manager) releaseAll(ctx context.Context, s *session) error {
	for pass := 0; ; pass++ {
		items, err := m.mine(ctx, s)
		if err != nil {
			return err
		}
		var mine []schedule.Item
		for _, it := range items.Items {
			if it.CurServer == s.me {
				mine = append(mine, it)
			}
		}
		if len(mine) == 0 {
			return nil
		}
		if pass == 3 {
			return fmt.Errorf("%d items still owned after %d tries: their releases kept conflicting", len(mine), pass)
		}
		var conflicts atomic.Int32
		err = m.parallel(ctx, len(mine), func(i int) error {
			it := mine[i]
			next := it.ReqServer
			if next == schedule.NoServer || next == s.me || it.Sts == schedule.ItemRemoved {
				next = ""
			}
			_, err := m.store.UpdateItem(ctx, m.runtime, "", it, next, "")
			if next != "" && errors.Is(err, schedule.ErrConflict) {
				// The requested server may have left too (its node is
				// gone): release to nobody. If the item changed instead,
				// this conflicts as well.
				_, err = m.store.UpdateItem(ctx, m.runtime, "", it, "", "")
			}
			if errors.Is(err, schedule.ErrConflict) || errors.Is(err, schedule.ErrNotFound) {
				conflicts.Add(1) // looked at again on a fresh read
				return nil
			}
			return err
		})
		if err != nil || conflicts.Load() == 0 {
			return err
		}
	}
}

// mine reads the items s.me may still own: those of its view (and its
// releases under way) and those its note box names (grants it has not
// taken up yet); every item for a leader that holds them all (a grant to
// itself cut short by the stop may have been written unseen), and the
// previous way.
func (m *Manager) mine(ctx context.Context, s *session) (schedule.Items, error) {
	if m.oldReads || s.full {
		return m.store.Items(ctx, m.runtime)
	}
	ids := ownedIDs(s)
	notes, err := m.store.Notes(ctx, m.runtime, s.me)
	if err != nil {
		return schedule.Items{}, err
	}
	ids = append(ids, notedItems(notes, "")...)
	storekit.SortItemIDs(ids)
	return m.store.ItemsByID(ctx, m.runtime, slices.Compact(ids))
}

// unregister deletes the server node, retrying until it succeeds, the
// session ends, or StopTimeout passes: a node left behind on a session that
// outlives the manager (a factory shares one session among its managers)
// would be a live server that processes nothing — and, as leader, would
// stall the runtime. A session cut off by a partition is only ever suspect
// on this side, so the bound is what ends the retries then.
func (m *Manager) unregister(s *session) error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StopTimeout)
	defer cancel()
	bo := backoff.New(100*time.Millisecond, 2*time.Second)
	for {
		err := m.store.UnregisterServer(ctx, m.runtime, s.me)
		if err == nil || errors.Is(err, schedule.ErrClosed) || errors.Is(err, schedule.ErrSessionLost) {
			return nil
		}
		m.log.Warn("stopping: removing the server node failed; retrying until it succeeds, the session ends or StopTimeout passes",
			"server", s.me, "err", err)
		t := m.clock.NewTimer(bo.Next())
		select {
		case <-s.sess.Done():
			t.Stop()
			return nil
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C():
		}
	}
}

// expireOwnSigns removes the runtimes of other ownSigns of this task type
// that have had no live server for expireOwnSignInterval. The store refuses
// to delete a runtime with a live server, atomically.
func (m *Manager) expireOwnSigns(ctx context.Context) {
	runtimes, err := m.store.Runtimes(ctx, m.tt.BaseTaskType)
	if err != nil {
		return
	}
	now, err := m.store.Now(ctx)
	if err != nil {
		return
	}
	for _, rt := range runtimes {
		if rt == m.runtime {
			continue
		}
		servers, err := m.store.Servers(ctx, rt)
		if err != nil || len(servers) > 0 {
			continue
		}
		items, err := m.store.ItemsByID(ctx, rt, nil) // the mark
		if err != nil {
			continue
		}
		if !items.Mark.BuiltAt.IsZero() && now.Sub(items.Mark.BuiltAt.Time) < m.tt.ExpireOwnSignInterval {
			continue
		}
		if err := m.store.DeleteRuntime(ctx, rt); err != nil {
			if !errors.Is(err, schedule.ErrNotEmpty) && !errors.Is(err, schedule.ErrNotFound) {
				m.log.Warn("removing an expired ownSign runtime failed", "runtime", rt, "err", err)
			}
			continue
		}
		m.log.Info("expired ownSign runtime removed", "runtime", rt, "lastAlive", items.Mark.BuiltAt.Time)
	}
}

func (m *Manager) setError(err error) {
	m.mu.Lock()
	m.lastError = err
	m.mu.Unlock()
}

func (m *Manager) errorText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastError == nil {
		return ""
	}
	s := m.lastError.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
