package fakeclock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestTimer(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(start)
	tm := c.NewTimer(time.Second)
	c.Advance(999 * time.Millisecond)
	assert.False(t, fired(tm.C()))
	c.Advance(time.Millisecond)
	assert.True(t, fired(tm.C()))
	assert.Equal(t, start.Add(time.Second), c.Now())
	assert.False(t, tm.Stop(), "a fired timer is not active")

	assert.False(t, tm.Reset(2*time.Second))
	c.Advance(time.Second)
	assert.False(t, fired(tm.C()))
	assert.True(t, tm.Stop())
	c.Advance(time.Hour)
	assert.False(t, fired(tm.C()), "a stopped timer never fires")
	assert.Equal(t, 0, c.Waiters())

	zero := c.NewTimer(0)
	assert.True(t, fired(zero.C()), "a zero timer fires at once")
}

func TestTicker(t *testing.T) {
	c := New(time.Unix(0, 0))
	tk := c.NewTicker(100 * time.Millisecond)
	n := 0
	for i := 0; i < 10; i++ {
		c.Advance(100 * time.Millisecond)
		if fired(tk.C()) {
			n++
		}
	}
	assert.Equal(t, 10, n)
	c.Advance(time.Second) // ten ticks due, one buffered: like a slow reader
	assert.True(t, fired(tk.C()))
	assert.False(t, fired(tk.C()))
	tk.Reset(time.Second)
	c.Advance(500 * time.Millisecond)
	assert.False(t, fired(tk.C()))
	c.Advance(500 * time.Millisecond)
	assert.True(t, fired(tk.C()))
	tk.Stop()
	c.Advance(time.Hour)
	assert.False(t, fired(tk.C()))
	require.Equal(t, 0, c.Waiters())
	assert.Panics(t, func() { c.NewTicker(0) })
}

func TestOrder(t *testing.T) {
	c := New(time.Unix(0, 0))
	a := c.NewTimer(3 * time.Second)
	b := c.NewTimer(time.Second)
	c.Advance(2 * time.Second)
	assert.True(t, fired(b.C()))
	assert.False(t, fired(a.C()))
	c.Advance(time.Second)
	v := <-a.C()
	assert.Equal(t, time.Unix(3, 0), v, "a timer carries its deadline")
}

// Timers counts the active one-shot timers: not tickers, not timers that
// fired, were stopped or were due at once.
func TestTimers(t *testing.T) {
	c := New(time.Unix(0, 0))
	tk := c.NewTicker(time.Second)
	defer tk.Stop()
	assert.Equal(t, 0, c.Timers(), "a ticker is not a timer")
	a := c.NewTimer(time.Second)
	b := c.NewTimer(2 * time.Second)
	c.NewTimer(0)
	assert.Equal(t, 2, c.Timers(), "a zero timer fires at once")
	c.Advance(time.Second)
	assert.True(t, fired(a.C()))
	assert.Equal(t, 1, c.Timers(), "a fired timer is not active")
	b.Stop()
	assert.Equal(t, 0, c.Timers())
}
