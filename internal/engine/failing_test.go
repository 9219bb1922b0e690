package engine

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingLog records the calls of a WithFailing hook.
type failingLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *failingLog) hook(key string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.calls = append(l.calls, key+" recovered")
		return
	}
	l.calls = append(l.calls, key+" failing: "+err.Error())
}

func (l *failingLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// WithFailing hears a key's first failure once, whatever the retries that
// follow, and its recovery once.
func TestWithFailingFirstFailureAndRecovery(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			l := &failingLog{}
			r := newPoisonRun(t, mode, WithFailing(l.hook))
			r.p.SetItems(items("0"))
			start(t, r.p)
			eventually(t, func() bool { return r.p.Stats().Succeeded == 200 }, "the other records")
			quiet(t, r.clk, r.p)
			for len(r.tries()) < 5 {
				r.clk.AdvanceToNext()
				quiet(t, r.clk, r.p)
			}
			assert.Equal(t, []string{"0 failing: poison"}, l.get(), "one call for %d failures", len(r.tries()))
			r.failing.Store(false)
			for r.tb.len() > 0 {
				r.clk.AdvanceToNext()
				quiet(t, r.clk, r.p)
			}
			assert.Equal(t, []string{"0 failing: poison", "0 recovered"}, l.get())
		})
	}
}

// A panicking hook is recovered and logged; the records go on.
func TestWithFailingHookPanics(t *testing.T) {
	r := newPoisonRun(t, modes[0], WithFailing(func(string, error) { panic("hook bug") }))
	r.p.SetItems(items("0"))
	start(t, r.p)
	eventually(t, func() bool { return r.p.Stats().Succeeded == 200 }, "the other records")
	quiet(t, r.clk, r.p)
	require.Contains(t, r.log.String(), "WithFailing")
}
