package manager

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

type fakeSess struct {
	lapsed  atomic.Bool // the lease lapsed (State is not affected)
	mu      sync.Mutex
	st      schedule.SessionState
	changed chan struct{}
	done    chan struct{}
}

func newFakeSess() *fakeSess {
	return &fakeSess{st: schedule.SessionConnected, changed: make(chan struct{}), done: make(chan struct{})}
}
func (f *fakeSess) ID() int64                    { return 1 }
func (f *fakeSess) Timeout() time.Duration       { return 3 * time.Second }
func (f *fakeSess) State() schedule.SessionState { f.mu.Lock(); defer f.mu.Unlock(); return f.st }
func (f *fakeSess) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}
func (f *fakeSess) Done() <-chan struct{} { return f.done }
func (f *fakeSess) Err() error            { return nil }
func (f *fakeSess) Alive() bool           { return !f.lapsed.Load() && f.State() == schedule.SessionConnected }
func (f *fakeSess) set(st schedule.SessionState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	close(f.changed)
	f.changed = make(chan struct{})
}

func (w *workHost) flags() (held, fenced bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.held, w.fenced
}

// stepClock is a Clock whose single timer the test fires by hand.
type stepClock struct {
	mu    sync.Mutex // guards now, timer
	now   time.Time
	timer *stepTimer
}

type stepTimer struct {
	c  chan time.Time
	at time.Time
}

func (s *stepTimer) C() <-chan time.Time        { return s.c }
func (s *stepTimer) Stop() bool                 { return true }
func (s *stepTimer) Reset(d time.Duration) bool { return true }

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) NewTicker(d time.Duration) schedule.Ticker {
	panic("stepClock: no tickers")
}
func (c *stepClock) NewTimer(d time.Duration) schedule.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer = &stepTimer{c: make(chan time.Time, 1), at: c.now.Add(d)}
	return c.timer
}

// fire moves the time to the last timer's deadline and fires it.
func (c *stepClock) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.timer.at
	c.timer.c <- c.now
}

// The manager's wiring of the shared guard (internal/fence): a new session
// holds fetching until a successful read (lift); a suspect session holds
// fetching and shows in the status, the timer fences the deals FenceAfter
// later, and connected again resumes; ManagerConfig.FaultTest switches it
// off for one manager.
func TestManagerGuardWiring(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fence.Fault
	}{{"self-fencing", fence.Fault{}}, {"fault test: self-fencing off", fence.NoSelfFencing()}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &stepClock{now: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
			m := &Manager{clock: clk, metrics: schedule.NopMetrics{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				cfg: schedule.ManagerConfig{FenceAfter: 100 * time.Millisecond, FaultTest: tc.fault}}
			work := newWorkHost(m)
			sess := newFakeSess()
			g := newFenceGuard(m, sess, work)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); g.run(ctx) }()
			defer func() { cancel(); <-done }()
			<-g.changed
			held, _ := work.flags()
			require.True(t, held, "a new session fetching before a read confirmed it")
			g.lift()
			held, fenced := work.flags()
			require.False(t, held || fenced, "confirmed: fetching")

			sess.set(schedule.SessionSuspect)
			<-g.changed
			assert.Equal(t, schedule.SessionSuspect, m.Status().Session)
			held, _ = work.flags()
			if tc.fault != (fence.Fault{}) {
				assert.False(t, held, "self-fencing off, yet fetching stopped")
				assert.Nil(t, clk.timer, "self-fencing off, yet a fence armed")
				return
			}
			require.True(t, held, "suspect: fetching stopped")
			require.Equal(t, 100*time.Millisecond, clk.timer.at.Sub(clk.Now()), "fence armed FenceAfter later")
			clk.fire()
			<-g.changed
			_, fenced = work.flags()
			require.True(t, fenced, "suspect for FenceAfter: deals cancelled")
			sess.set(schedule.SessionConnected)
			<-g.changed
			held, fenced = work.flags()
			assert.False(t, held || fenced, "connected again, the session confirmed before: fetching again")
		})
	}
}

// waitFor polls f until it holds, failing with msg after 10 s.
func waitFor(t *testing.T, f func() bool, msg string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
	}
}

type nopStore struct{ storekit.Store }

// While the window closes, the last processor drains its running deals. A
// Release asked meanwhile (a handover) must wait for them: handing the item
// over earlier would let its next owner start while the deal still runs.
func TestReleaseWaitsForADrainingWindow(t *testing.T) {
	var running atomic.Bool
	unblock := make(chan struct{})
	var fetched atomic.Bool
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			if fetched.CompareAndSwap(false, true) {
				return []int{1}, nil
			}
			return nil, nil
		},
		func(ctx context.Context, n int, ownSign string) error {
			running.Store(true)
			defer running.Store(false)
			select { // a deal that honours ctx, but takes a while
			case <-unblock:
			case <-ctx.Done():
			}
			return nil
		})
	tt := schedule.DefaultTaskType("rel")
	tt.DealBeanName = "d"
	tt.TaskItems = []string{"0"}
	tt.ThreadNumber = 1
	cfg := schedule.DefaultManagerConfig()
	cfg.ShutdownTimeout = 5 * time.Second
	m, err := NewManager(nopStore{}, tt, "", deal, cfg,
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkHost(m)
	w.setLease(newFakeSess())
	w.setItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	w.applyWindow(windowState{Open: true}, false, "open")
	waitFor(t, running.Load, "deal running")

	closed := make(chan struct{})
	go func() { w.applyWindow(windowState{}, true, "paused: no data"); close(closed) }()
	waitFor(t, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.proc == nil }, "proc cleared")

	// The release is answered by the draining processor: its channel is
	// open while the deal runs, and closes once the deal has returned.
	ch := w.release([]schedule.ItemID{"0"})
	if isClosed(ch) {
		close(unblock)
		<-closed
		t.Fatal("release reported the batch boundary while a deal of item 0 still runs")
	}
	close(unblock)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("release did not report the batch boundary after the deal returned")
	}
	if running.Load() {
		t.Error("release reported the batch boundary before the deal returned")
	}
	<-closed
}

// isClosed tells whether ch is closed now.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A graceful stop while the window's processor is still draining waits for
// it before the items are handed over.
func TestStopWaitsForADrainingWindow(t *testing.T) {
	var running atomic.Bool
	unblock := make(chan struct{})
	var fetched atomic.Bool
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			if fetched.CompareAndSwap(false, true) {
				return []int{1}, nil
			}
			return nil, nil
		},
		func(ctx context.Context, n int, ownSign string) error {
			running.Store(true)
			defer running.Store(false)
			select {
			case <-unblock:
			case <-ctx.Done():
			}
			return nil
		})
	tt := schedule.DefaultTaskType("stp")
	tt.DealBeanName = "d"
	tt.TaskItems = []string{"0"}
	tt.ThreadNumber = 1
	cfg := schedule.DefaultManagerConfig()
	cfg.ShutdownTimeout = 300 * time.Millisecond
	m, err := NewManager(nopStore{}, tt, "", deal, cfg,
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkHost(m)
	w.setLease(newFakeSess())
	w.setItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	w.applyWindow(windowState{Open: true}, false, "open")
	waitFor(t, running.Load, "deal running")
	closed := make(chan struct{})
	go func() { w.applyWindow(windowState{}, true, "paused: no data"); close(closed) }()
	waitFor(t, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.proc == nil }, "proc cleared")
	w.stop()
	still := running.Load()
	close(unblock)
	<-closed
	if still {
		t.Fatal("work.stop() returned while a deal still runs; stopGracefully would now hand its item over")
	}
}

// Deals still running at ShutdownTimeout get their contexts cancelled; the
// stop waits until they have returned (CancelGrace, then for as long as they
// take) before the items can be handed over.
func TestStopWaitsForCancelledDeals(t *testing.T) {
	var running atomic.Bool
	var fetched atomic.Bool
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
			if fetched.CompareAndSwap(false, true) {
				return []int{1}, nil
			}
			return nil, nil
		},
		func(ctx context.Context, n int, ownSign string) error {
			running.Store(true)
			defer running.Store(false)
			<-ctx.Done()
			// Honours ctx, but its rollback takes a while: the work whose
			// end the stop must wait for (not synchronisation).
			time.Sleep(50 * time.Millisecond)
			return ctx.Err()
		})
	tt := schedule.DefaultTaskType("grace")
	tt.DealBeanName = "d"
	tt.TaskItems = []string{"0"}
	tt.ThreadNumber = 1
	cfg := schedule.DefaultManagerConfig()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	m, err := NewManager(nopStore{}, tt, "", deal, cfg,
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkHost(m)
	w.setLease(newFakeSess())
	w.setItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	w.applyWindow(windowState{Open: true}, false, "open")
	waitFor(t, running.Load, "deal running")
	w.stop()
	still := running.Load()
	waitFor(t, func() bool { return !running.Load() }, "deal returned")
	if still {
		t.Fatalf("work.stop() returned (lastError=%v) while a deal that honours ctx was still returning", m.lastError)
	}
}
