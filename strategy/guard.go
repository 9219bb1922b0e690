package strategy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Causes of a unit's context ending.
var (
	errStopped  = errors.New("strategy: stopped by the factory")
	errFenced   = errors.New("strategy: session suspect or lost (fenced)")
	errShutdown = errors.New("strategy: factory shutting down")
)

// copyGuard watches one session and fences the Bean copies started under it
// on its own goroutine, so that fencing never waits behind the main loop's
// store calls (which hang while the connection is blackholed). It mirrors
// the managers' guard (schedule/guard.go):
//
//   - Suspect: no new copy starts; if the session is still not connected
//     after fenceAfter, the contexts of the running copies are cancelled.
//   - Expired or closed: fence at once, for good.
//   - Connected again: nothing is lifted here; the main loop lifts the fence
//     only after a successful refresh has proved the session alive.
type copyGuard struct {
	f          *Factory
	sess       schedule.Session
	fenceAfter time.Duration
	// lockDelay is this factory's lock delay for its copies
	// (Config.LockDelay), published in its registrations.
	lockDelay time.Duration
	changed   chan struct{} // coalescing: tell the main loop to look

	mu     sync.Mutex // guards ctx, cancel, fenced, lost
	ctx    context.Context
	cancel context.CancelCauseFunc
	fenced bool
	lost   bool
}

func newCopyGuard(f *Factory, sess schedule.Session) *copyGuard {
	d, _ := schedule.FenceTimes(sess.Timeout(), f.cfg.FenceAfter)
	g := &copyGuard{f: f, sess: sess, fenceAfter: d, changed: make(chan struct{}, 1),
		lockDelay: schedule.LockDelayOf(sess.Timeout(), f.cfg.FenceAfter, f.cfg.LockDelay)}
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
	return g
}

func (g *copyGuard) run(ctx context.Context) {
	var timer schedule.Timer
	var timerC <-chan time.Time
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
	}
	defer stopTimer()
	for {
		changed := g.sess.Changed()
		switch st := g.sess.State(); st {
		case schedule.SessionSuspect:
			if timer == nil && !g.isFenced() {
				timer = g.f.clock.NewTimer(g.fenceAfter)
				timerC = timer.C()
			}
			signal(g.changed)
		case schedule.SessionConnected:
			stopTimer()
			signal(g.changed)
		case schedule.SessionExpired, schedule.SessionClosed:
			stopTimer()
			g.fence(true, st)
			signal(g.changed)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timerC:
			timer, timerC = nil, nil
			if g.sess.State() != schedule.SessionConnected {
				g.fence(false, g.sess.State())
			}
		}
	}
}

func (g *copyGuard) fence(lost bool, st schedule.SessionState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if lost {
		g.lost = true
	}
	if g.fenced {
		return
	}
	g.fenced = true
	g.cancel(errFenced)
	g.f.log.Error("session "+st.String()+": Bean copies cancelled (self-fenced)", "session", fmt.Sprintf("%#x", g.sess.ID()))
}

func (g *copyGuard) isFenced() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fenced
}

// context returns the context new copies derive from, or false when copies
// must not start (fenced, lost, or the session is not connected).
func (g *copyGuard) context() (context.Context, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fenced || g.lost || g.sess.State() != schedule.SessionConnected {
		return nil, false
	}
	return g.ctx, true
}

// lift ends a fence after the main loop proved the session alive with a
// successful refresh. It does nothing unless the session is connected now.
func (g *copyGuard) lift() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.fenced || g.lost || g.sess.State() != schedule.SessionConnected {
		return
	}
	g.fenced = false
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
	g.f.log.Info("session confirmed: Bean copies may run again")
}

// release cancels the guard's context when the session's loop ends (the
// copies started under it have been stopped or fenced by then).
func (g *copyGuard) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel(errShutdown)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
