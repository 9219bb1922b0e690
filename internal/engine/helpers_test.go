package engine

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/internal/clock"
	"github.com/tbschedule/tbschedule-go/processor"
)

// waitTimeout bounds every wait of a test.
const waitTimeout = 10 * time.Second

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// testConfig is a fast configuration for tests.
func testConfig(t processor.Type, threads int) Config {
	c := DefaultConfig()
	c.Type = t
	c.ThreadNumber = threads
	c.FetchDataNumber = 10
	c.SleepTimeNoData = 5 * time.Millisecond
	c.ShutdownTimeout = 2 * time.Second
	c.CancelGrace = time.Second
	c.TaskItemNum = 4
	return c
}

// running is a Run in progress.
type running struct {
	t      *testing.T
	cancel context.CancelFunc
	errc   chan error
	done   bool
	err    error
}

// start runs p until stop (or the end of the test).
func start(t *testing.T, p *Processor) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the Run and returns its error.
func (r *running) stop() error {
	r.t.Helper()
	if r.done {
		return r.err
	}
	r.cancel()
	select {
	case r.err = <-r.errc:
	case <-time.After(waitTimeout):
		r.t.Fatal("Run did not return")
	}
	r.done = true
	return r.err
}

// eventually waits for cond, failing the test after waitTimeout.
func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, waitTimeout, time.Millisecond, append([]any{msg}, args...)...)
}

// closed waits for ch to close.
func closed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not closed", what)
	}
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

// items builds TaskItems "0".."n-1" with epoch 1.
func items(ids ...string) []processor.TaskItem {
	out := make([]processor.TaskItem, len(ids))
	for i, id := range ids {
		out[i] = processor.TaskItem{ID: id, Epoch: 1}
	}
	return out
}

// source hands out ints 0..total-1 once each, FetchNum at a time.
type source struct {
	mu    sync.Mutex
	next  int
	total int
	calls int
}

func (s *source) selectTasks(_ context.Context, req processor.SelectRequest) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	n := min(req.FetchNum, s.total-s.next)
	out := make([]int, n)
	for i := range out {
		out[i] = s.next
		s.next++
	}
	return out, nil
}

func (s *source) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// fakeClock is a Clock whose timers fire only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk    *fakeClock
	c      chan time.Time
	at     time.Time
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1), at: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	return t
}

// NewTicker implements clock.Clock; a processor uses no ticker.
func (c *fakeClock) NewTicker(time.Duration) clock.Ticker { panic("processor used a ticker") }

// Active counts armed timers.
func (c *fakeClock) Active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active {
			n++
		}
	}
	return n
}

// Armed returns how long each armed timer has left, shortest first: what a
// test checks to see how long the processor decided to wait.
func (c *fakeClock) Armed() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		if t.active {
			out = append(out, t.at.Sub(c.now))
		}
	}
	slices.Sort(out)
	return out
}

// Advance moves time and fires due timers.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			t.active = false
			t.c <- c.now
			continue
		}
		if t.active {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.active
	t.active, t.at = true, t.clk.now.Add(d)
	if !was {
		t.clk.timers = append(t.clk.timers, t)
	}
	return was
}
