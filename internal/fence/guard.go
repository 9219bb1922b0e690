package fence

import (
	"context"
	"sync"
	"time"
)

// Session is the session a guard watches.
type Session interface {
	// Condition is the session's state now. The guard calls it once per
	// look (and at each Confirm); an owner may record the state there.
	Condition() Condition
	// Changed returns a channel closed at the next change of the state.
	Changed() <-chan struct{}
}

// Work is what a guard restrains. Its methods are called one at a time,
// in the order of the guard's decisions, under the guard's lock: they must
// not call back into the guard.
type Work interface {
	// Hold stops (true) or resumes (false) the start of new work; c is the
	// session's condition that decided it.
	Hold(on bool, c Condition)
	// Fence cancels running work (true) or lets work run again (false).
	Fence(on bool, c Condition)
}

// Timer is the part of a timer a guard uses (schedule.Timer has it).
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Clock is the local time of a guard (schedule.Clock, adapted).
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Guard applies Step to one session on its own goroutine (Run), and to the
// owner's confirmations (Confirm) and findings of a loss (Lose).
type Guard struct {
	sess    Session
	work    Work
	clock   Clock
	policy  Policy
	changed chan struct{} // coalescing: the owner should look at the session

	mu sync.Mutex // guards st; held while the work applies a decision
	st State
}

// NewGuard returns a guard of work under sess, starting at st (usually
// Start); work must already be in that state.
func NewGuard(sess Session, work Work, clock Clock, p Policy, st State) *Guard {
	return &Guard{sess: sess, work: work, clock: clock, policy: p, st: st, changed: make(chan struct{}, 1)}
}

// Changed is signalled after every look at the session: the owner should
// read the session's state and act on it.
func (g *Guard) Changed() <-chan struct{} { return g.changed }

// Run watches the session until ctx ends or the session is lost.
func (g *Guard) Run(ctx context.Context) {
	var timer Timer
	var timerC <-chan time.Time
	var armed time.Time // the FenceAt the timer waits for
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		changed := g.sess.Changed()
		now := g.clock.Now()
		st := g.apply(Input{Now: now, Session: g.sess.Condition()})
		if !st.FenceAt.Equal(armed) {
			if timer != nil {
				timer.Stop()
				timer, timerC = nil, nil
			}
			if armed = st.FenceAt; !armed.IsZero() {
				timer = g.clock.NewTimer(armed.Sub(now))
				timerC = timer.C()
			}
		}
		signal(g.changed)
		if st.Lost {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timerC:
			timer, timerC, armed = nil, nil, time.Time{}
		}
	}
}

// Confirm tells the guard that the owner has just read from the store on
// the session successfully: if it is connected now, hold and fence end.
func (g *Guard) Confirm() {
	g.apply(Input{Now: g.clock.Now(), Session: g.sess.Condition(), Confirmed: true})
}

// Lose tells the guard the owner found the session lost: the work is held
// and fenced for good.
func (g *Guard) Lose() {
	g.apply(Input{Now: g.clock.Now(), Session: Lost})
}

// State returns the fence's state.
func (g *Guard) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st
}

// Locked calls f with the state under the guard's lock: no decision is
// applied while f runs. f must not call the guard.
func (g *Guard) Locked(f func(State)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g.st)
}

func (g *Guard) apply(in Input) State {
	g.mu.Lock()
	defer g.mu.Unlock()
	next, act := Step(g.policy, g.st, in)
	g.st = next
	if act.Hold {
		g.work.Hold(true, in.Session)
	}
	if act.Fence {
		g.work.Fence(true, in.Session)
	}
	if act.Unfence {
		g.work.Fence(false, in.Session)
	}
	if act.Resume {
		g.work.Hold(false, in.Session)
	}
	return next
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
