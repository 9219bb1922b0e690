package strategy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Causes of a unit's context ending.
var (
	errStopped  = errors.New("strategy: stopped by the factory")
	errFenced   = errors.New("strategy: session suspect or lost (fenced)")
	errShutdown = errors.New("strategy: factory shutting down")
)

// copyGuard is the self-fencing of the Bean copies started under one
// session: the shared guard of internal/fence, as the managers have it.
//
//   - Suspect: no new copy starts; if the session is still not connected
//     after FenceAfter, the contexts of the running copies are cancelled.
//   - Expired or closed: fence at once, for good.
//   - Connected again: under a new session no copy starts before the main
//     loop has refreshed on it (lift), which proves it alive. After that
//     first refresh, connected again lifts the guard by itself: the store
//     reports Connected only when the server has answered on the session
//     recently (see internal/fence).
type copyGuard struct {
	g       *fence.Guard
	sess    storekit.Session
	changed <-chan struct{} // the main loop should look at the session
	// lockDelay is this factory's lock delay for its copies
	// (Config.LockDelay), published in its registrations.
	lockDelay time.Duration
	work      *copyWork
}

// copyWork holds the context the copies derive from; the guard's lock
// guards it (Fence runs under it, and context and release take it).
type copyWork struct {
	log    *slog.Logger
	sess   int64
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newCopyGuard(f *Factory, sess storekit.Session) *copyGuard {
	w := &copyWork{log: f.log, sess: sess.ID()}
	w.ctx, w.cancel = context.WithCancelCause(context.Background())
	p := fence.PolicyOf(sess.Timeout(), f.cfg.FenceAfter, fence.Fault{})
	g := fence.NewGuard(copySession{sess}, w, copyClock{f.clock}, p, fence.Start(false))
	return &copyGuard{g: g, sess: sess, changed: g.Changed(), work: w,
		lockDelay: fence.LockDelay(sess.Timeout(), f.cfg.FenceAfter, f.cfg.LockDelay)}
}

func (g *copyGuard) run(ctx context.Context) { g.g.Run(ctx) }

// fence cancels the copies for good: the main loop found the session lost.
func (g *copyGuard) fence() { g.g.Lose() }

// context returns the context new copies derive from, or false when copies
// must not start (held, fenced, lost, or the session is not connected).
func (g *copyGuard) context() (ctx context.Context, ok bool) {
	g.g.Locked(func(st fence.State) {
		if !st.Held && !st.Fenced && g.sess.State() == schedule.SessionConnected {
			ctx, ok = g.work.ctx, true
		}
	})
	return ctx, ok
}

// restrained reports whether copies are held or fenced.
func (g *copyGuard) restrained() bool {
	st := g.g.State()
	return st.Held || st.Fenced
}

// lift ends the hold and the fence after the main loop proved the session
// alive with a successful refresh. It does nothing unless the session is
// connected now.
func (g *copyGuard) lift() { g.g.Confirm() }

// release cancels the guard's context when the session's loop ends (the
// copies started under it have been stopped or fenced by then).
func (g *copyGuard) release() {
	g.g.Locked(func(fence.State) { g.work.cancel(errShutdown) })
}

func (w *copyWork) Hold(on bool, c fence.Condition) {
	if on && c == fence.Suspect {
		w.log.Warn("session suspect: no Bean copy starts", "session", fmt.Sprintf("%#x", w.sess))
	}
}

func (w *copyWork) Fence(on bool, c fence.Condition) {
	if on {
		w.cancel(errFenced)
		w.log.Error("session "+c.String()+": Bean copies cancelled (self-fenced)", "session", fmt.Sprintf("%#x", w.sess))
		return
	}
	w.ctx, w.cancel = context.WithCancelCause(context.Background())
	w.log.Info("session confirmed: Bean copies may run again", "session", fmt.Sprintf("%#x", w.sess))
}

// copySession shows the guard a session.
type copySession struct{ storekit.Session }

func (s copySession) Condition() fence.Condition {
	switch s.State() {
	case schedule.SessionConnected:
		return fence.Connected
	case schedule.SessionExpired, schedule.SessionClosed:
		return fence.Lost
	}
	return fence.Suspect
}

// copyClock is a schedule.Clock as the guard takes it.
type copyClock struct{ c schedule.Clock }

func (c copyClock) Now() time.Time                       { return c.c.Now() }
func (c copyClock) NewTimer(d time.Duration) fence.Timer { return c.c.NewTimer(d) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
