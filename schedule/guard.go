package schedule

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/testknob"
)

// fenceGuard watches one session and fences the processor on its own
// goroutine, so that self-fencing never waits behind the session loop's
// store calls (which hang while the connection is blackholed).
//
// Suspect: fetching stops at once (hold); if the session is still suspect
// after fenceAfter, the contexts of running deals are cancelled (fence).
// Expired or closed: fence at once. Connected again: nothing is lifted here —
// the session loop lifts the hold and the fence only after a successful read
// of servers and items has proved the session alive and the items still ours.
type fenceGuard struct {
	m          *Manager
	sess       Session
	work       *workHost
	fenceAfter time.Duration
	changed    chan struct{} // coalescing: tell the session loop to look

	mu     sync.Mutex // guards held, fenced, lost
	held   bool
	fenced bool
	lost   bool
}

// newFenceGuard starts held — and fenced if the last session ended fenced —
// so that nothing is fetched under a new session before the first successful
// read of servers and items lifts it.
func newFenceGuard(m *Manager, sess Session, work *workHost) *fenceGuard {
	work.hold(true)
	return &fenceGuard{m: m, sess: sess, work: work, fenceAfter: m.fenceAfter(sess), changed: make(chan struct{}, 1),
		held: true, fenced: work.isFenced()}
}

func (g *fenceGuard) run(ctx context.Context) {
	var timer Timer
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
		st := g.sess.State()
		g.m.metrics.SessionState(g.m.runtime, st)
		g.m.updateStatus(func(x *Status) { x.Session = st })
		switch st {
		case SessionSuspect:
			if testknob.NoSelfFencing.Load() {
				break
			}
			g.mu.Lock()
			if !g.held {
				g.held = true
				g.work.hold(true)
				g.m.log.Warn("session suspect: fetching stopped", "session", fmt.Sprintf("%#x", g.sess.ID()))
			}
			// Arm the fence whenever the session is suspect and not fenced,
			// also when it was held already (a flap: suspect, connected but
			// not yet confirmed, suspect again).
			if !g.fenced && timer == nil {
				timer = g.m.clock.NewTimer(g.fenceAfter)
				timerC = timer.C()
			}
			g.mu.Unlock()
		case SessionConnected:
			stopTimer()
			signal(g.changed)
		case SessionExpired, SessionClosed:
			stopTimer()
			g.mu.Lock()
			g.lost, g.held = true, true
			if !g.fenced {
				g.fenced = true
				g.work.setFenced(true)
			}
			g.mu.Unlock()
			signal(g.changed)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timerC:
			timer, timerC = nil, nil
			g.mu.Lock()
			if g.held && !g.fenced && g.sess.State() != SessionConnected {
				g.fenced = true
				g.work.setFenced(true)
				g.m.log.Error("session still suspect: running deals cancelled (self-fenced)", "session", fmt.Sprintf("%#x", g.sess.ID()))
			}
			g.mu.Unlock()
		}
	}
}

// restrained reports whether fetching is held or deals are fenced.
func (g *fenceGuard) restrained() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held || g.fenced
}

// lift resumes work after the session loop proved the session alive with a
// successful read. It does nothing unless the session is connected now.
func (g *fenceGuard) lift() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lost || g.sess.State() != SessionConnected || (!g.held && !g.fenced) {
		return
	}
	if g.fenced {
		g.fenced = false
		g.work.setFenced(false)
		g.m.log.Info("session confirmed: fence lifted")
	}
	g.held = false
	g.work.hold(false)
}
