package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/clock"
	"github.com/tbschedule/tbschedule-go/internal/dealrun"
	"github.com/tbschedule/tbschedule-go/processor"
)

// Processor runs one deal in one thread group: Config.ThreadNumber goroutines
// that fetch records of the group's items with SelectTasks and execute them,
// in the SLEEP or NOTSLEEP model. Its methods are safe for concurrent use.
type Processor struct {
	cfg     Config
	desc    string
	run     dealrun.Runner[processor.SelectRequest]
	env     dealrun.Env
	log     *slog.Logger
	clock   clock.Clock
	metrics processor.Metrics           // nil: none
	failing func(key string, err error) // WithFailing; nil: none
	lease   func() bool                 // nil: always valid

	// gen is bumped by Fence and by shutdown: a goroutine drops, unexecuted,
	// the records of a fetch made in an older generation.
	gen atomic.Uint64
	// stopped is set while Run shuts down (tells dropped records' reason
	// without the lock).
	stopped atomic.Bool
	// kick wakes a fetcher sleeping before or after a fetch (coalescing).
	kick chan struct{}

	mu   sync.Mutex // guards every field below
	cond sync.Cond  // on mu: workers wait here for records, their turn to fetch or a change

	items         []processor.TaskItem // the items fetches are made for (SetItems, Release)
	running       bool                 // a Run is in progress
	stopping      bool                 // Run's context is done: goroutines exit
	fenced        bool                 // between Fence and Unfence: no fetch
	paused        PauseReason          // no more fetches in this Run
	pauseNotified bool                 // the pause was reported
	fetching      bool                 // a goroutine is fetching (at most one)
	sleeping      bool                 // the fetcher sleeps (wakeLocked interrupts it)
	dupWait       bool                 // the last fetch was all duplicates: wait for a record to finish
	fetchErrs     int                  // consecutive failed fetches (backoff)
	fetchCount    int                  // SelectTasks calls in this Run
	busy          int                  // goroutines executing records
	cur           *fetchRec            // the fetch whose records are being handed out; nil: queue empty
	active        []*fetchRec          // fetches with unfinished records or a SelectTasks call in progress
	fetchSeq      uint64
	taskItemNum   int             // processor.SelectRequest.TaskItemNum (SetTaskItemNum)
	baseCtx       context.Context // Run's context without its cancellation
	dealCtx       context.Context // parent of every deal's ctx; cancelled by Fence and forced shutdown
	dealCancel    context.CancelFunc
	fetchCancel   context.CancelFunc // cancels the SelectTasks call in progress
	workers       []*worker
	live          int           // goroutines started by Run still running
	exited        chan struct{} // closed when live drops to zero
	stats         processor.Stats
}

// fetchRec is the bookkeeping of one SelectTasks call: the items it was made
// for and the count of its records not finished yet. Release and Fence wait
// on fetches, not on records, which keeps the per-record cost O(1).
type fetchRec struct {
	seq       uint64
	items     []processor.TaskItem // our copy, for Release
	ctx       context.Context      // the ctx of its deal calls (carries the items)
	gen       uint64
	data      any  // the runner's batch
	n, next   int  // records kept; next to hand out
	pending   int  // records not finished, +1 while SelectTasks runs
	selecting bool // SelectTasks is running
	waiters   []*waiter
}

// waiter is a Release or Fence waiting for n fetches to finish.
type waiter struct {
	n  int
	ch chan struct{}
}

type phase uint8

const (
	phaseIdle phase = iota
	phaseFetch
	phaseExec
	phaseHook
)

// worker is one goroutine of a Run. phase and f are guarded by the
// processor's mu.
type worker struct {
	id    int
	done  <-chan struct{} // Run's ctx.Done()
	phase phase
	f     *fetchRec
}

// maxChunk caps the records one goroutine takes from the queue at once; the
// chunk shrinks as the queue empties (guided self-scheduling) so goroutines
// finish together.
const maxChunk = 64

// Option configures New with a collaborator.
type Option func(*options)

type options struct {
	log     *slog.Logger
	clock   clock.Clock
	metrics processor.Metrics
	lease   func() bool
	failing func(key string, err error)
}

// WithLogger sets the logger; default slog.Default(). The manager passes one
// that carries the task and ownSign.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock of sleeps, timeouts and timestamps: a
// schedule.Clock (the library's one clock interface; a processor uses its
// Now and NewTimer). Default schedule.SystemClock(); tests pass a fake.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithMetrics sets the receiver of the processor's events; default none.
func WithMetrics(m processor.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithFailing sets fn to be told when a record key starts failing (its
// first failure, with the deal's error; the retries that follow are not
// told) and when a failing key succeeds (err nil). Only deals with a key
// (WithKey, or records that are their own key) have failing keys; at most
// 10,000 are remembered. fn is called
// on processor goroutines without locks held, and must be fast; a panic in
// it is recovered and logged. The manager passes one that makes events
// (schedule.EventRecordFailing).
func WithFailing(fn func(key string, err error)) Option { return func(o *options) { o.failing = fn } }

// WithLease makes the processor ask valid before every SelectTasks call and
// before handing every record (or batch) to the deal. While it reports false
// nothing new starts: no fetch, no record; the queued records are dropped
// (Stats.Lapsed, DropLapsed) for the items' next owner to fetch again, and
// the fetcher looks again every few milliseconds of the Clock. Deals already
// running go on (Fence cancels them). valid is called on the processor's
// goroutines, often: it must be cheap and must not block. The manager passes
// its session's lease (storekit.Session.Alive). Default (nil): always valid,
// at no cost.
func WithLease(valid func() bool) Option { return func(o *options) { o.lease = valid } }

// New returns a processor running deal with cfg (zero fields of cfg take
// their defaults). It fails, naming every problem, with an error wrapping
// schedule.ErrInvalid when cfg is invalid, when the deal was built from nil
// parts, or when cfg.Type is NotSleep and the deal has no key (give
// WithKey).
func New(deal processor.Deal, cfg Config, opts ...Option) (*Processor, error) {
	var errs []error
	var info *dealrun.Info[processor.SelectRequest]
	if src, ok := deal.(dealrun.Source[processor.SelectRequest]); !ok {
		errs = append(errs, fmt.Errorf("%w: nil deal", errInvalid))
	} else {
		info = src.DealInfo()
		if info.Err != nil {
			errs = append(errs, info.Err)
		}
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	cfg = cfg.withDefaults()
	if info != nil && cfg.Type == processor.NotSleep && !info.Keyed {
		errs = append(errs, fmt.Errorf("%w: a NOTSLEEP processor needs a key per task: %s: give WithKey", errInvalid, info.Desc))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	o := options{}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	// Every line of the processor names its ownSign, once: the logger it is
	// given must not carry it already (the manager gives it one without).
	o.log = o.log.With("ownSign", cfg.OwnSign)
	if o.clock == nil {
		o.clock = systemClock()
	}
	p := &Processor{
		cfg:     cfg,
		desc:    info.Desc,
		log:     o.log,
		clock:   o.clock,
		metrics: o.metrics, failing: o.failing,
		lease:  o.lease,
		kick:   make(chan struct{}, 1),
		exited: make(chan struct{}),

		taskItemNum: cfg.TaskItemNum,
	}
	close(p.exited)
	p.cond.L = &p.mu
	p.env = dealrun.Env{OwnSign: cfg.OwnSign, ExecNum: 1, Dedupe: cfg.Type == processor.NotSleep, Gen: &p.gen, Lease: o.lease, Log: o.log, Failing: o.failing != nil}
	p.env.Retry.Pol = cfg.retryPolicy()
	if info.Multi {
		p.env.ExecNum = cfg.ExecuteNumber
	}
	p.run = info.NewRunner(&p.env)
	return p, nil
}

// String describes the processor: its type and its deal.
func (p *Processor) String() string { return string(p.cfg.Type) + " processor of a " + p.desc }

// Run starts Config.ThreadNumber goroutines and blocks until ctx is done. It
// then stops fetching, drops the records not yet started (Stats.Dropped; the
// next owner of their items fetches them again), lets running deals finish for
// up to Config.ShutdownTimeout, then cancels their contexts and waits up to
// Config.CancelGrace more. It returns nil once every goroutine has exited, or
// an error wrapping ErrStuck that names the user calls still running; those
// goroutines exit when the calls return, and a later Run waits for them first,
// so two Runs of a processor never overlap. Run may be called again after it
// returned (pause and resume); it returns schedule.ErrRunning if a Run is in progress.
// Items, fencing and Stats carry over from one Run to the next.
func (p *Processor) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errRunning
	}
	p.running = true
	if p.live > 0 {
		exited, n := p.exited, p.live
		p.mu.Unlock()
		p.log.Warn("processor: waiting for goroutines of the previous Run still in user code", "stragglers", n)
		select {
		case <-exited:
		case <-ctx.Done():
			p.mu.Lock()
			p.running = false
			p.mu.Unlock()
			return fmt.Errorf("%w: %d goroutine(s) of the previous Run still in user code", ErrStuck, n)
		}
		p.mu.Lock()
	}
	p.stopping, p.paused, p.pauseNotified, p.dupWait = false, "", false, false
	p.fetchCount, p.fetchErrs = 0, 0
	p.stopped.Store(false)
	p.baseCtx = context.WithoutCancel(ctx)
	p.newDealCtxLocked()
	p.exited = make(chan struct{})
	p.workers = make([]*worker, p.cfg.ThreadNumber)
	for i := range p.workers {
		w := &worker{id: i, done: ctx.Done()}
		p.workers[i] = w
		p.goLocked(func() { p.work(w) })
	}
	p.mu.Unlock()

	<-ctx.Done()
	return p.shutdown()
}

// goLocked starts f on a goroutine counted in live; exited is closed when the
// count drops to zero. Every goroutine of the package starts here. Called with
// mu held.
func (p *Processor) goLocked(f func()) {
	p.live++
	go func() {
		defer func() {
			p.mu.Lock()
			p.live--
			if p.live == 0 {
				close(p.exited)
			}
			p.mu.Unlock()
		}()
		f()
	}()
}

// newDealCtxLocked replaces the parent of deal contexts.
func (p *Processor) newDealCtxLocked() {
	if p.dealCancel != nil {
		p.dealCancel()
	}
	p.dealCtx, p.dealCancel = context.WithCancel(p.baseCtx)
}

// shutdown is the end of Run.
func (p *Processor) shutdown() error {
	p.mu.Lock()
	p.stopping = true
	p.stopped.Store(true)
	p.gen.Add(1)
	dropped := p.dropQueuedLocked()
	if p.fetchCancel != nil {
		p.fetchCancel()
	}
	p.cond.Broadcast()
	exited := p.exited
	p.mu.Unlock()
	p.mDropped(dropped, processor.DropStopped)

	start := p.clock.Now()
	err := p.awaitExit(exited, start)

	p.mu.Lock()
	p.running = false
	if err == nil && p.dealCancel != nil {
		p.dealCancel()
	}
	p.mu.Unlock()
	return err
}

// awaitExit waits for the goroutines of a Run after its stop.
func (p *Processor) awaitExit(exited <-chan struct{}, start time.Time) error {
	if p.waitLogging(exited, start) {
		return nil
	}
	p.mu.Lock()
	p.dealCancel()
	n := p.live
	p.mu.Unlock()
	p.log.Warn("processor: shutdown timeout: cancelling the contexts of running user calls",
		"running", n, "timeout", max(p.cfg.ShutdownTimeout, 0))
	if p.waitFor(exited, max(p.cfg.CancelGrace, 0)) {
		return nil
	}
	p.mu.Lock()
	running := p.describeRunningLocked()
	n = p.live
	p.mu.Unlock()
	err := fmt.Errorf("%w: %d goroutine(s) still running %s after Run was cancelled (contexts cancelled): %s",
		ErrStuck, n, p.clock.Now().Sub(start).Round(time.Millisecond), running)
	p.log.Error("processor: user code ignores cancellation", "err", err)
	return err
}

// stopLogEvery is how often a stop that waits for user calls says so.
const stopLogEvery = 5 * time.Second

// waitLogging waits up to ShutdownTimeout after start for exited to close,
// and says every stopLogEvery what it is waiting for, so that a stop held
// by a slow deal is never silent.
func (p *Processor) waitLogging(exited <-chan struct{}, start time.Time) bool {
	for {
		left := max(p.cfg.ShutdownTimeout, 0) - p.clock.Now().Sub(start)
		if left <= stopLogEvery {
			return p.waitFor(exited, left)
		}
		if p.waitFor(exited, stopLogEvery) {
			return true
		}
		p.mu.Lock()
		running := p.describeRunningLocked()
		p.mu.Unlock()
		p.log.Info("processor: stopping: waiting for running user calls",
			"running", running, "cancelledIn", (left - stopLogEvery).Round(time.Millisecond))
	}
}

// waitFor waits up to d for ch to close.
func (p *Processor) waitFor(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	t := p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C():
		return false
	}
}

// describeRunningLocked says what each goroutine in a user call is doing.
func (p *Processor) describeRunningLocked() string {
	var parts []string
	for _, w := range p.workers {
		if s := w.describeLocked(); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

func (w *worker) describeLocked() string {
	var what string
	switch w.phase {
	case phaseFetch:
		what = "SelectTasks"
	case phaseExec:
		what = "Execute"
	case phaseHook:
		return fmt.Sprintf("goroutine %d in a hook", w.id)
	default:
		return ""
	}
	var items []string
	if w.f != nil {
		items = itemIDs(w.f.items)
	}
	return fmt.Sprintf("goroutine %d in %s for items [%s]", w.id, what, strings.Join(items, " "))
}

// SetItems sets the items the processor fetches for from now on (with their
// epochs); fetches already made are not affected. With no items the processor
// idles without calling SelectTasks. Removing an item here does not wait for
// its records: use Release for a handover. Safe to call at any time.
func (p *Processor) SetItems(items []processor.TaskItem) {
	p.mu.Lock()
	if slices.Equal(p.items, items) {
		p.mu.Unlock()
		return
	}
	p.items = slices.Clone(items)
	p.dupWait = false
	p.cond.Broadcast()
	p.wakeLocked()
	p.mu.Unlock()
}

// Release is the batch boundary of a handover: the processor stops fetching
// for the items ids at once (they leave the item set), and the returned
// channel closes when every record of every fetch that included any of them
// is finished: executed, or dropped by Fence or shutdown. Records already
// fetched are executed, not dropped. Records of other items are not waited
// for, unless they came in the same fetch. Unknown ids are ignored.
func (p *Processor) Release(ids []string) <-chan struct{} {
	drop := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		drop[id] = struct{}{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items = slices.DeleteFunc(p.items, func(it processor.TaskItem) bool { _, ok := drop[it.ID]; return ok })
	p.dupWait = false
	return p.waitLocked(func(f *fetchRec) bool {
		for _, it := range f.items {
			if _, ok := drop[it.ID]; ok {
				return true
			}
		}
		return false
	})
}

// Fence is for a session in doubt: the processor stops fetching, cancels the
// contexts of running deals and of a SelectTasks in progress at once, and
// drops the records not yet started (Stats.Fenced; whoever owns their items
// next fetches them again). The returned channel closes when every deal
// running at the fence has returned. Unfence resumes. Fence is idempotent.
func (p *Processor) Fence() <-chan struct{} {
	p.mu.Lock()
	n := 0
	if !p.fenced {
		p.fenced = true
		p.gen.Add(1)
		if p.dealCancel != nil {
			p.dealCancel()
		}
		n = p.dropQueuedLocked()
	}
	ch := p.waitLocked(func(*fetchRec) bool { return true })
	p.wakeLocked()
	p.mu.Unlock()
	p.log.Warn("processor: fenced", "dropped", n)
	p.mDropped(n, processor.DropFenced)
	return ch
}

// Unfence ends a Fence: deals get fresh contexts and fetching resumes.
func (p *Processor) Unfence() {
	p.mu.Lock()
	if !p.fenced {
		p.mu.Unlock()
		return
	}
	p.fenced = false
	if p.running && !p.stopping {
		p.newDealCtxLocked()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.log.Info("processor: unfenced")
}

// SetTaskItemNum changes SelectRequest.TaskItemNum (the total number of
// items of the task type) for later fetches, when the leader rebuilt the
// items. Negative values are taken as 0.
func (p *Processor) SetTaskItemNum(n int) {
	p.mu.Lock()
	p.taskItemNum = max(n, 0)
	p.mu.Unlock()
}

// Exited returns a channel closed when no goroutine started by a Run of p is
// running: after Run returned nil, or, after it returned ErrStuck, once the
// stuck user calls have returned. Before the first Run it is closed. A manager
// that replaces a processor waits on it so that two never run at once.
func (p *Processor) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Stats returns the counters since New.
func (p *Processor) Stats() processor.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Status returns a snapshot of the processor.
func (p *Processor) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{
		Type:      p.cfg.Type,
		Running:   p.running,
		Fenced:    p.fenced,
		Items:     slices.Clone(p.items),
		Fetching:  p.fetching,
		Executing: p.busy,
		Stats:     p.stats,
	}
	s.Paused = p.paused
	s.FailingKeys = int(p.env.Retry.Keys.Load())
	if p.cur != nil {
		s.Queued = p.cur.n - p.cur.next
	}
	for _, f := range p.active {
		s.Unfinished += f.pending
		if f.selecting {
			s.Unfinished--
		}
	}
	if !p.running {
		s.Stragglers = p.live
	}
	return s
}

// waitLocked returns a channel closed when every active fetch matching pred
// is finished.
func (p *Processor) waitLocked(pred func(*fetchRec) bool) <-chan struct{} {
	w := &waiter{ch: make(chan struct{})}
	for _, f := range p.active {
		if pred(f) {
			w.n++
			f.waiters = append(f.waiters, w)
		}
	}
	if w.n == 0 {
		close(w.ch)
	}
	return w.ch
}

// dropQueuedLocked drops the records not yet handed out and returns how many.
func (p *Processor) dropQueuedLocked() int {
	n := p.takeQueuedLocked()
	p.countDropLocked(n)
	return n
}

// takeQueuedLocked finishes the records not yet handed out, unexecuted and
// uncounted, and returns how many.
func (p *Processor) takeQueuedLocked() int {
	f := p.cur
	if f == nil {
		return 0
	}
	n := f.n - f.next
	p.run.Forget(f.data, f.next, f.n)
	f.next = f.n
	p.cur = nil
	p.finishRecordsLocked(f, n)
	return n
}

func (p *Processor) countDropLocked(n int) {
	if p.stopping {
		p.stats.Dropped += int64(n)
	} else {
		p.stats.Fenced += int64(n)
	}
}

// finishRecordsLocked marks n records of f finished.
func (p *Processor) finishRecordsLocked(f *fetchRec, n int) {
	f.pending -= n
	if p.dupWait {
		p.dupWait = false
		p.cond.Broadcast()
	}
	if f.pending == 0 {
		p.finishFetchLocked(f)
	}
}

// finishFetchLocked retires a fetch whose records are all finished.
func (p *Processor) finishFetchLocked(f *fetchRec) {
	if i := slices.Index(p.active, f); i >= 0 {
		last := len(p.active) - 1
		p.active[i] = p.active[last]
		p.active[last] = nil
		p.active = p.active[:last]
	}
	for _, w := range f.waiters {
		if w.n--; w.n == 0 {
			close(w.ch)
		}
	}
	f.waiters = nil
	if f.data != nil {
		p.run.Recycle(f.data)
		f.data = nil
	}
	if p.paused != "" && len(p.active) == 0 {
		p.cond.Broadcast() // an idle goroutine reports the pause
	}
}

// wakeLocked interrupts the fetcher's sleep, if it sleeps.
func (p *Processor) wakeLocked() {
	if !p.sleeping {
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// sleepLocked releases mu for d, or until Run's ctx is done or wakeLocked is
// called. Only the goroutine holding the fetch turn sleeps.
func (p *Processor) sleepLocked(d time.Duration, done <-chan struct{}) {
	if d <= 0 || !p.mayFetchLocked() {
		return // no fetch follows: nothing to pace
	}
	select {
	case <-p.kick: // a wake-up meant for an earlier sleep
	default:
	}
	p.sleeping = true
	p.mu.Unlock()
	t := p.clock.NewTimer(d)
	select {
	case <-t.C():
	case <-done:
	case <-p.kick:
	}
	t.Stop()
	p.mu.Lock()
	p.sleeping = false
}

// recoverHook is deferred around calls of Metrics and hooks.
func (p *Processor) recoverHook(name string) {
	if v := recover(); v != nil {
		p.log.Error("processor: hook panicked", "hook", name, "err", sprint(v), "stack", string(debug.Stack()))
	}
}

func (p *Processor) mDealt(ok, failed int, d time.Duration) {
	if p.metrics == nil {
		return
	}
	defer p.recoverHook("Metrics.Dealt")
	p.metrics.Dealt(ok, failed, d)
}

func (p *Processor) mFetched(n, dups int, d time.Duration, err error) {
	if p.metrics == nil {
		return
	}
	defer p.recoverHook("Metrics.Fetched")
	p.metrics.Fetched(n, dups, d, err)
}

func (p *Processor) mDropped(n int, r processor.DropReason) {
	if p.metrics == nil || n == 0 {
		return
	}
	defer p.recoverHook("Metrics.Dropped")
	p.metrics.Dropped(n, r)
}
