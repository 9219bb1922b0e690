package manager

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/backoff"
	"github.com/tbschedule/tbschedule-go/internal/engine"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// workHost runs the task type's processor while the permit window is open,
// and carries the manager's view (owned items, hold, fence) over from one
// processor to the next. Its run loop owns the window; the session loop
// calls its setters.
type workHost struct {
	m       *Manager
	changed chan struct{} // coalescing: the run loop should look again
	noData  chan struct{} // coalescing: the processor found no data
	runNowC chan struct{} // coalescing: the task type's run-now request changed
	// runNowDone is the time of the last run-now request the run loop
	// handled (runnow.go); owned by the run loop.
	runNowDone time.Time
	quit       chan struct{} // closed by the first stop
	quitOne    sync.Once
	// lease is the session whose lease (Session.Alive) gates every fetch
	// and every record of the processor; nil: none yet, nothing starts. The
	// session loop sets it once a read of servers and items under that
	// session succeeded, and clears it when the session is dropped.
	lease atomic.Pointer[leaseOf]

	mu        sync.Mutex // guards the fields below
	items     []processor.TaskItem
	itemNum   int
	held      bool // session suspect: no fetching
	paused    bool // the task type's sts is pause: no fetching, items kept
	fenced    bool // deals cancelled, nothing runs
	stopped   bool
	ws        windowView
	windowSet bool // ws was set once (the window's state at start)
	proc      *engine.Processor
	last      *engine.Processor // the processor that ran last: it may still drain
	cancel    context.CancelFunc
	done      chan struct{}
	past      processor.Stats // totals of processors that have ended
	// exited is closed once every goroutine of the last processor has
	// returned; a new one never starts before (no two processors at once,
	// even when a deal ignored its context past the shutdown timeout).
	exited <-chan struct{}
}

// windowView is the window as the work host sees it.
type windowView struct {
	state   windowState
	noData  bool // paused because SelectTasks returned nothing
	paused  bool // the task type is paused by the operator (sts: pause)
	message string
}

func (w windowView) name() string {
	switch {
	case w.paused:
		return "paused"
	case w.state.Open:
		return "open"
	case w.noData:
		return "paused-no-data"
	default:
		return "closed"
	}
}

// leaseOf boxes a Session for an atomic pointer.
type leaseOf struct{ sess storekit.Session }

// setLease makes sess's lease gate the processor (nil: nothing starts).
func (w *workHost) setLease(sess storekit.Session) {
	if sess == nil {
		w.lease.Store(nil)
		return
	}
	if l := w.lease.Load(); l == nil || l.sess != sess {
		w.lease.Store(&leaseOf{sess: sess})
	}
}

// leaseValid is the processor's lease: the current session's, judged now.
func (w *workHost) leaseValid() bool {
	l := w.lease.Load()
	return l != nil && l.sess.Alive()
}

func newWorkHost(m *Manager) *workHost {
	return &workHost{m: m, changed: make(chan struct{}, 1), noData: make(chan struct{}, 1), runNowC: make(chan struct{}, 1), quit: make(chan struct{})}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run drives the permit window on cluster time until ctx ends, then stops
// the processor.
func (w *workHost) run(ctx context.Context) {
	defer w.stop()
	m := w.m
	now, ok := w.clusterNow(ctx)
	if !ok {
		return
	}
	st := m.window.initial(now)
	w.applyWindow(st, false, m.windowMessage(st, false))
	st = w.applyRunNow(ctx, st)
	for {
		var timerC <-chan time.Time
		var next time.Time
		switch {
		case m.window.always():
		case st.Open && !m.window.noDataEnd:
			next = st.NextEnd
		case !st.Open:
			next = st.NextStart
		}
		var t schedule.Timer
		if !next.IsZero() {
			now, ok := w.clusterNow(ctx)
			if !ok {
				return
			}
			// Wake at the transition (cluster time), and at least once a
			// minute to follow re-calibrations of cluster time.
			t = m.clock.NewTimer(min(max(next.Sub(now), 0), time.Minute))
			timerC = t.C()
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-w.runNowC:
			st = w.applyRunNow(ctx, st)
		case <-w.noData:
			if st.Open && m.window.noDataEnd {
				now, ok := w.clusterNow(ctx)
				if !ok {
					return
				}
				st = m.window.closed(now)
				w.applyWindow(st, true, m.windowMessage(st, true))
			}
		case <-timerC:
			now, ok := w.clusterNow(ctx)
			if !ok {
				return
			}
			if next.After(now) {
				continue // woke early to re-read cluster time
			}
			if st.Open {
				st = m.window.closed(now)
			} else {
				st = m.window.opened(now)
			}
			w.applyWindow(st, false, m.windowMessage(st, false))
		}
		if t != nil {
			t.Stop()
		}
	}
}

// clusterNow reads cluster time, retrying until ctx ends.
func (w *workHost) clusterNow(ctx context.Context) (time.Time, bool) {
	bo := backoff.New(100*time.Millisecond, 5*time.Second)
	for {
		now, err := w.m.store.Now(ctx)
		if err == nil {
			return now, true
		}
		if ctx.Err() != nil || !w.m.sleep(ctx, bo.Next()) {
			return time.Time{}, false
		}
	}
}

func (m *Manager) windowMessage(st windowState, noData bool) string {
	switch {
	case m.window.always():
		return "running"
	case st.Open:
		return "window open"
	case noData:
		return "paused: no data"
	default:
		return "window closed"
	}
}

// applyWindow starts or stops the processor to match the window.
func (w *workHost) applyWindow(st windowState, noData bool, msg string) {
	if !st.Open {
		// The processor stops (its running records finish) before the
		// window reads closed: a window that says closed runs nothing.
		w.stopProcessor()
	}
	w.mu.Lock()
	wasOpen, first := w.ws.state.Open, !w.windowSet
	w.ws, w.windowSet = windowView{state: st, noData: noData, message: msg}, true
	w.mu.Unlock()
	changed := st.Open != wasOpen
	if changed {
		w.m.metrics.WindowChanged(w.m.runtime, st.Open)
		w.m.emitWindow(st.Open, msg)
	}
	// The window's state at start is logged with the registration
	// ("server registered ... window=closed"), where the server id is
	// known, or here if it comes after the registration.
	if id := w.m.Status().Server; (changed && !first) || (first && id != "") {
		w.m.log.Info("permit window "+map[bool]string{true: "opened", false: "closed"}[st.Open], "reason", msg,
			"server", id)
	}
	if st.Open {
		w.startProcessor()
	} else {
		w.stopProcessor() // one started meanwhile by a deferred start
	}
}

func (w *workHost) startProcessor() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc != nil || w.stopped {
		return
	}
	m := w.m
	if w.exited != nil {
		select {
		case <-w.exited:
			w.exited = nil
		default:
			exited := w.exited
			m.log.Warn("a deal of the previous window still runs; the processor starts when it returns")
			m.goFunc(func() {
				select {
				case <-exited:
				case <-w.quit: // stopping: Run must not wait for that deal
					return
				}
				if w.windowState().state.Open {
					w.startProcessor()
				}
			})
			return
		}
	}
	cfg := processorConfig(m.tt, m.ownSign, max(w.itemNum, 1), m.cfg)
	if m.window.noDataEnd {
		cfg.OnNoData = func() { signal(w.noData) }
	}
	p, err := engine.New(m.deal, cfg, engine.WithLogger(m.procLog), engine.WithClock(m.clock),
		engine.WithLease(w.leaseValid), engine.WithMetrics(m.procMetrics), engine.WithFailing(m.failingHook()))
	if err != nil {
		m.setError(err)
		m.log.Error("starting the processor failed", "err", err)
		return
	}
	if w.fenced {
		p.Fence()
	}
	if w.mayFetchLocked() {
		p.SetItems(w.items)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w.proc, w.cancel, w.done, w.last = p, cancel, done, p
	m.goFunc(func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			m.setError(err)
			m.log.Error("processor ended with an error", "err", err)
		}
	})
}

// stopProcessor stops the running processor gracefully and waits for it.
func (w *workHost) stopProcessor() {
	w.mu.Lock()
	p, cancel, done := w.proc, w.cancel, w.done
	w.proc, w.cancel, w.done = nil, nil, nil
	w.mu.Unlock()
	if p == nil {
		return
	}
	cancel()
	<-done
	w.mu.Lock()
	w.past = w.past.Add(p.Stats())
	w.exited = p.Exited()
	w.mu.Unlock()
}

// stopLogEvery is how often a stop that waits for deals says so.
const stopLogEvery = 5 * time.Second

// stop stops the processor for good and reports whether every deal it
// started has returned. A deal that ignores its context past
// ShutdownTimeout and CancelGrace holds the stop (and so the handover of
// this server's items: handing over earlier would let two servers work on
// the same item) for up to StopTimeout more, logged every few seconds;
// false means it still runs then, and the items must stay where they are.
func (w *workHost) stop() bool {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.quitOne.Do(func() { close(w.quit) })
	w.stopProcessor()
	w.mu.Lock()
	last := w.last
	w.mu.Unlock()
	if last == nil {
		return true
	}
	m := w.m
	start := m.clock.Now()
	deadline := m.clock.NewTimer(m.cfg.StopTimeout)
	defer deadline.Stop()
	for {
		t := m.clock.NewTimer(stopLogEvery)
		select {
		case <-last.Exited():
			t.Stop()
			return true
		case <-deadline.C():
			t.Stop()
			return false
		case <-t.C():
			m.log.Error("stopping: a deal ignores its context; the handover of this server's items waits for it",
				"status", last.Status(), "givesUpIn", (m.cfg.StopTimeout - m.clock.Now().Sub(start)).Round(time.Millisecond))
		}
	}
}

// setItems sets the items the processor may fetch for.
func (w *workHost) setItems(items []processor.TaskItem) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.items = items
	if w.proc != nil && w.mayFetchLocked() {
		w.proc.SetItems(items)
	}
}

// mayFetchLocked reports whether the processor may fetch for the owned
// items: not held (session suspect), not paused, not fenced.
func (w *workHost) mayFetchLocked() bool { return !w.held && !w.paused && !w.fenced }

func (w *workHost) setItemNum(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.itemNum = n
	if w.proc != nil {
		w.proc.SetTaskItemNum(max(n, 1))
	}
}

// hold stops (true) or resumes (false) fetching; running deals go on.
func (w *workHost) hold(on bool) { w.setFlag(&w.held, on) }

// setPaused stops (true) or resumes (false) fetching because the operator
// paused the task type; the items stay owned and running deals go on.
func (w *workHost) setPaused(on bool) { w.setFlag(&w.paused, on) }

// setFlag sets one of the flags that stop fetching without fencing, and
// hands the processor the items it may fetch for after the change.
func (w *workHost) setFlag(flag *bool, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if *flag == on {
		return
	}
	*flag = on
	if w.proc == nil || w.fenced {
		return
	}
	if w.mayFetchLocked() {
		w.proc.SetItems(w.items)
	} else {
		w.proc.SetItems(nil)
	}
}

// setFenced cancels every running deal and drops queued records (true), or
// lets the processor work again (false).
func (w *workHost) setFenced(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fenced == on {
		return
	}
	w.fenced = on
	if w.proc == nil {
		return
	}
	if on {
		w.proc.SetItems(nil)
		w.proc.Fence()
	} else {
		w.proc.Unfence()
		if w.mayFetchLocked() {
			w.proc.SetItems(w.items)
		}
	}
}

// release stops fetching for ids and returns a channel closed once every
// record already fetched for them has finished (the batch boundary).
func (w *workHost) release(ids []schedule.ItemID) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	drop := make(map[string]bool, len(ids))
	strs := make([]string, len(ids))
	for i, id := range ids {
		drop[string(id)] = true
		strs[i] = string(id)
	}
	kept := w.items[:0:0]
	for _, it := range w.items {
		if !drop[it.ID] {
			kept = append(kept, it)
		}
	}
	w.items = kept
	switch {
	case w.proc != nil:
		return w.proc.Release(strs)
	case w.last != nil:
		return w.last.Release(strs) // the window closed: it may still drain
	default:
		c := make(chan struct{})
		close(c)
		return c
	}
}

func (w *workHost) isFenced() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fenced
}

// windowName is the window's state for the registration's log line.
func (w *workHost) windowName() string {
	w.mu.Lock()
	set := w.windowSet
	w.mu.Unlock()
	if !set {
		return "not known yet"
	}
	return w.windowState().name()
}

func (w *workHost) windowState() windowView {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.ws
	if w.paused {
		ws.paused, ws.message = true, "paused (task type sts: pause)"
	}
	return ws
}

func (w *workHost) stats() processor.Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.past
	if w.proc != nil {
		s = s.Add(w.proc.Stats())
	}
	return s
}
