// Package fakeclock is a clock.Clock (the library's one clock interface,
// schedule.Clock) whose time moves only when a test says so, for
// deterministic tests of timers, tickers and timeouts.
package fakeclock

import (
	"sort"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/clock"
)

// Clock is a fake clock.Clock. The zero value is not usable; call New.
type Clock struct {
	mu      sync.Mutex // guards now, waiters, seq
	now     time.Time
	waiters []*waiter
	seq     int
}

type waiter struct {
	at     time.Time
	period time.Duration // > 0 for tickers
	c      chan time.Time
	seq    int
	active bool
}

var _ clock.Clock = (*Clock)(nil)

// New returns a fake clock set at start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves time forward by d, firing every timer and ticker due, in
// order of their deadlines. A ticker fires at most once per Advance call
// step, like a real ticker that drops ticks for a slow reader.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		w := c.nextDue(end)
		if w == nil {
			break
		}
		c.now = w.at
		select {
		case w.c <- w.at:
		default:
		}
		if w.period > 0 {
			w.at = w.at.Add(w.period)
		} else {
			w.active = false
		}
	}
	c.now = end
	c.prune()
	c.mu.Unlock()
}

// Waiters returns how many timers and tickers are active.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune()
	return len(c.waiters)
}

// Timers returns how many one-shot timers are active (tickers not
// counted): a goroutine that waits on a timer has one, so a test can tell a
// loop waiting for its next wake-up from one that is busy.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.waiters {
		if w.active && w.period == 0 {
			n++
		}
	}
	return n
}

func (c *Clock) nextDue(end time.Time) *waiter {
	var best *waiter
	for _, w := range c.waiters {
		if !w.active || w.at.After(end) {
			continue
		}
		if best == nil || w.at.Before(best.at) || (w.at.Equal(best.at) && w.seq < best.seq) {
			best = w
		}
	}
	return best
}

func (c *Clock) prune() {
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.active {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
	sort.SliceStable(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
}

func (c *Clock) add(d, period time.Duration, ch chan time.Time) *waiter {
	if ch == nil {
		ch = make(chan time.Time, 1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	w := &waiter{at: c.now.Add(d), period: period, c: ch, seq: c.seq, active: true}
	c.waiters = append(c.waiters, w)
	if d <= 0 && period == 0 {
		select {
		case w.c <- c.now:
		default:
		}
		w.active = false
	}
	return w
}

// NewTimer returns a fake timer.
func (c *Clock) NewTimer(d time.Duration) clock.Timer { return &timer{c: c, w: c.add(d, 0, nil)} }

// NewTicker returns a fake ticker; d must be > 0.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("fakeclock: non-positive ticker period")
	}
	return &ticker{c: c, w: c.add(d, d, nil)}
}

type timer struct {
	c *Clock
	w *waiter
}

func (t *timer) C() <-chan time.Time { return t.ch() }

func (t *timer) ch() chan time.Time {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.w.c
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.w.active
	t.w.active = false
	return was
}

// Reset re-arms the timer on the same channel.
func (t *timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	old := t.w
	was := old.active
	old.active = false
	t.c.mu.Unlock()
	nw := t.c.add(d, 0, old.c)
	t.c.mu.Lock()
	t.w = nw
	t.c.mu.Unlock()
	return was
}

type ticker struct {
	c *Clock
	w *waiter
}

func (t *ticker) C() <-chan time.Time { return t.w.c }

func (t *ticker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.w.active = false
}

func (t *ticker) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.w.at = t.c.now.Add(d)
	t.w.period = d
	if !t.w.active {
		t.w.active = true
		t.c.waiters = append(t.c.waiters, t.w)
	}
}
