// Package fence is the self-fencing of one session's work, shared by the
// managers (their processor's fetching and deals) and the factory (its Bean
// copies).
//
// The decision is pure: Step takes the fence's state, one look at the
// session and the time, and returns the next state and what to do. A Guard
// applies it on a goroutine of its own, so that fencing never waits behind
// the owner's store calls (which hang while the connection is blackholed).
//
//   - Suspect: no new work starts (hold) at once; if the session is still
//     not connected Policy.After later, running work is cancelled (fence).
//   - Lost (expired or closed): held and fenced at once, for good.
//   - Connected again: the fence timer stops. Under a new session the work
//     is held until the owner confirms the session with a successful read
//     on it (its state must be read first); hold and fence end together
//     then. Once the owner has confirmed the session, Connected alone lifts
//     them: the store reports Connected only when the server has answered
//     on the session recently (an answered probe, or a reconnection the
//     server accepted under the same session), which proves it alive as a
//     read would. A read of every owner at every return from suspicion
//     (thousands under a loaded ZooKeeper) loaded it further.
//
// The lock delay that covers a session closed early by someone else comes
// from the same delays (Times, LockDelay).
package fence

import "time"

// Condition is a session's state as the fence reads it.
type Condition int

// Session conditions.
const (
	// Connected: connected, and the server answered recently.
	Connected Condition = iota + 1
	// Suspect: disconnected or silent; the session may have expired.
	Suspect
	// Lost: expired or closed, for good.
	Lost
)

// String returns the condition's name.
func (c Condition) String() string {
	switch c {
	case Connected:
		return "connected"
	case Suspect:
		return "suspect"
	case Lost:
		return "lost"
	}
	return "unknown"
}

// Fault breaks self-fencing on purpose. Its zero value is the only one for
// a service; the project's own fault tests get the other from
// NoSelfFencing, and no program outside the module can name the type.
type Fault struct{ noSelfFencing bool }

// NoSelfFencing is the fault of the chaos suite's deliberately broken
// build: a suspect session neither holds nor fences the work (a lost one
// still does), so that the checks must find overlaps.
func NoSelfFencing() Fault { return Fault{noSelfFencing: true} }

// Policy is how a guard fences.
type Policy struct {
	// After is how long running work may go on once the session is suspect.
	After time.Duration
	// Off: a suspect session neither holds nor fences (NoSelfFencing).
	Off bool
}

// PolicyOf returns the policy of a session of the given timeout, for a
// configured fence delay (0: the default, see Times) and fault.
func PolicyOf(sessionTimeout, fenceAfter time.Duration, f Fault) Policy {
	after, _ := Times(sessionTimeout, fenceAfter)
	return Policy{After: after, Off: f.noSelfFencing}
}

// State is the fence of one session's work.
type State struct {
	Held   bool // no new work starts
	Fenced bool // running work is cancelled
	Lost   bool // the session ended: held and fenced for good
	// FenceAt is when the work is fenced unless the session is connected
	// again before; zero when no fence is armed. The guard wakes then.
	FenceAt time.Time
	// Confirmed: the owner has confirmed the session once; Connected
	// lifts hold and fence from then on.
	Confirmed bool
}

// Start is the state under a new session: held until the first
// confirmation, and fenced if the work was left fenced by the last one.
func Start(fenced bool) State { return State{Held: true, Fenced: fenced} }

// Input is one look at the session.
type Input struct {
	Now     time.Time
	Session Condition
	// Confirmed: the owner has just read from the store on this session
	// successfully, which proves it alive.
	Confirmed bool
}

// Actions is what the caller applies after a step, in this order: Hold,
// Fence, Unfence, Resume.
type Actions struct {
	Hold, Fence, Unfence, Resume bool
}

// Step decides the next state of the fence from one look at the session.
func Step(p Policy, s State, in Input) (State, Actions) {
	if s.Lost {
		return s, Actions{}
	}
	n := s
	switch in.Session {
	case Lost:
		n = State{Held: true, Fenced: true, Lost: true}
	case Suspect:
		if p.Off {
			break
		}
		n.Held = true
		if n.Fenced {
			break
		}
		// Armed also when held already: a flap (suspect, connected but not
		// yet confirmed, suspect again) is fenced After the new suspicion.
		if n.FenceAt.IsZero() {
			n.FenceAt = in.Now.Add(p.After)
		}
		if !in.Now.Before(n.FenceAt) {
			n.Fenced, n.FenceAt = true, time.Time{}
		}
	case Connected:
		n.FenceAt = time.Time{}
		if in.Confirmed {
			n.Confirmed = true
		}
		if n.Confirmed {
			n.Held, n.Fenced = false, false
		}
	}
	return n, Actions{
		Hold:    n.Held && !s.Held,
		Fence:   n.Fenced && !s.Fenced,
		Unfence: s.Fenced && !n.Fenced,
		Resume:  s.Held && !n.Held,
	}
}
