package manager

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// fenceGuard is the self-fencing of the manager's processor under one
// session (the shared guard of internal/fence): suspect, fetching stops at
// once (hold) and running deals are cancelled FenceAfter later (fence);
// expired or closed, both at once. Under a new session nothing is lifted
// until the session loop has read servers and items on it (lift), which
// proves it alive and the items ours: it starts held — and fenced if the
// last session ended fenced — so nothing is fetched before that. After that
// first round, the session connected again lifts the guard by itself: the
// store reports Connected only when the server has answered on the session
// recently, and while the session lives the items it owns stay its own
// (every change to one leaves a note in its box, which it watches).
type fenceGuard struct {
	*fence.Guard
	changed <-chan struct{} // the session loop should look at the session
}

func newFenceGuard(m *Manager, sess storekit.Session, work *workHost) *fenceGuard {
	work.hold(true)
	p := fence.PolicyOf(sess.Timeout(), m.cfg.FenceAfter, m.cfg.FaultTest)
	g := fence.NewGuard(guardSession{sess, m, new(atomic.Int32)}, guardWork{work, m, sess.ID()}, fenceClock{m.clock}, p,
		fence.Start(work.isFenced()))
	return &fenceGuard{Guard: g, changed: g.Changed()}
}

func (g *fenceGuard) run(ctx context.Context) { g.Run(ctx) }

// restrained reports whether fetching is held or deals are fenced.
func (g *fenceGuard) restrained() bool {
	st := g.State()
	return st.Held || st.Fenced
}

// lift resumes work after the session loop proved the session alive with a
// successful read. It does nothing unless the session is connected now.
func (g *fenceGuard) lift() { g.Confirm() }

// guardSession shows the guard a session, and records each change of
// state it reads in the manager's status and metrics.
type guardSession struct {
	storekit.Session
	m    *Manager
	last *atomic.Int32 // the SessionState last recorded
}

func (s guardSession) Condition() fence.Condition {
	st := s.State()
	if schedule.SessionState(s.last.Swap(int32(st))) != st {
		s.m.metrics.SessionState(s.m.runtime, st)
		s.m.updateStatus(func(x *schedule.Status) { x.Session = st })
	}
	return fenceCondition(st)
}

// fenceCondition is st as the fence reads it.
func fenceCondition(st schedule.SessionState) fence.Condition {
	switch st {
	case schedule.SessionConnected:
		return fence.Connected
	case schedule.SessionExpired, schedule.SessionClosed:
		return fence.Lost
	}
	return fence.Suspect
}

// guardWork applies the guard's decisions to the processor.
type guardWork struct {
	w    *workHost
	m    *Manager
	sess int64
}

func (g guardWork) Hold(on bool, c fence.Condition) {
	g.w.hold(on)
	if on && c == fence.Suspect {
		g.m.log.Warn("session suspect: fetching stopped", "session", fmt.Sprintf("%#x", g.sess))
	}
}

func (g guardWork) Fence(on bool, c fence.Condition) {
	g.w.setFenced(on)
	g.m.emitFence(on, c)
	if on {
		g.m.log.Error("session "+c.String()+": running deals cancelled (self-fenced)", "session", fmt.Sprintf("%#x", g.sess))
	} else {
		g.m.log.Info("session confirmed: fence lifted", "session", fmt.Sprintf("%#x", g.sess))
	}
}

// fenceClock is a Clock as the guard takes it.
type fenceClock struct{ c schedule.Clock }

func (c fenceClock) Now() time.Time                       { return c.c.Now() }
func (c fenceClock) NewTimer(d time.Duration) fence.Timer { return c.c.NewTimer(d) }
