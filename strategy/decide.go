package strategy

import (
	"errors"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// The factory loop's decisions. Each is pure: it takes what the loop knows
// (and "now" as an argument) and returns what to do; the loop reads the
// store, calls these, applies the result and waits. The leader's
// distribution (plan) and the Bean lock delay (ghostCopies)
// are decided the same way.

// nextWake is when the loop must run a round without being told to: the
// earliest of timers that lies after seen, the start of the last round
// (whether it succeeded or not), or zero when nothing is due.
//
// A timer at or before seen was due when that round started: the round
// looked at it, or failed before it could, and then scheduled its own retry
// (a failed refresh's backoff is one of timers). Waking for it again would
// only repeat the failure at once, forever.
func nextWake(seen time.Time, timers ...time.Time) time.Time {
	var at time.Time
	for _, t := range timers {
		if !t.IsZero() && t.After(seen) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	return at
}

// startRetry is a strategy's account of failed starts: the last error, the
// configuration (key) that failed, when it may be tried again, and when a
// recovery has lasted long enough to forget the error (probation).
type startRetry struct {
	lastErr   error
	failKey   string
	retryAt   time.Time
	healthyAt time.Time
}

// mayStart reports whether a unit of configuration key may start now: no
// failure waits for its retry, or the failure was of another configuration.
func (r startRetry) mayStart(now time.Time, key string) bool {
	return r.retryAt.IsZero() || !now.Before(r.retryAt) || key != r.failKey
}

// failed records a failed start of key at now, to be retried after delay
// (the strategy's backoff); a probation under way ends.
func (r startRetry) failed(err error, key string, now time.Time, delay time.Duration) startRetry {
	return startRetry{lastErr: err, failKey: key, retryAt: now.Add(delay)}
}

// probation decides, after a round in which the strategy asked for req
// units and has units of them (stopping ones included), whether a failed
// start's error is forgotten: once every wanted unit has been running for
// hold (or none is wanted and none runs). It returns the new account and
// whether the backoff starts again from its minimum.
func (r startRetry) probation(req, units int, now time.Time, hold time.Duration) (startRetry, bool) {
	switch {
	case r.lastErr == nil:
		return r, false
	case req == 0 && units == 0:
	case units < req:
		r.healthyAt = time.Time{}
		return r, false
	case r.healthyAt.IsZero():
		r.healthyAt = now.Add(hold)
		return r, false
	case now.Before(r.healthyAt):
		return r, false
	}
	return startRetry{}, true
}

// unitView is what the decisions need of a unit.
type unitView struct {
	key      string
	stopping bool
}

// staleUnits returns the units (indexes) that must stop before anything
// else because the strategy no longer wants them: the factory must not run
// the strategy (wanted false), its task type was deleted (gone), or they
// run another configuration than key (known only when keyOK). Units already
// stopping are not listed.
func staleUnits(units []unitView, wanted, gone, keyOK bool, key string) []int {
	var stale []int
	for i, u := range units {
		if !u.stopping && (!wanted || gone || (keyOK && u.key != key)) {
			stale = append(stale, i)
		}
	}
	return stale
}

// resize decides how the units follow requestNum req: the newest units
// beyond req that are not stopping yet stop (stop, indexes), and start more
// start until req units exist. Units still stopping count, so that a
// replacement starts only after the unit it replaces has returned.
func resize(units []unitView, req int) (stop []int, start int) {
	req = max(req, 0)
	active := 0
	for _, u := range units {
		if !u.stopping {
			active++
		}
	}
	for k := len(units) - 1; k >= 0 && active > req; k-- {
		if !units[k].stopping {
			stop = append(stop, k)
			active--
		}
	}
	return stop, max(req-len(units), 0)
}

// sessionStep is what run does after a session's loop ended.
type sessionStep int

const (
	stepStop    sessionStep = iota // Run ends (ctx done, or the store closed)
	stepNow                        // a new session at once
	stepBackoff                    // a new session after the backoff
)

// afterSession decides what follows a session's loop that ended with err:
// stop when ctx is done (done) or the store is closed; a session lost after
// it served (the factory registered under it) is replaced at once; anything
// else, including a session lost before the factory could register under
// it, waits for the backoff, so that a store that keeps handing out a dead
// session is not asked again and again in a busy loop.
func afterSession(err error, done, served bool) sessionStep {
	switch {
	case done, errors.Is(err, schedule.ErrClosed):
		return stepStop
	case errors.Is(err, schedule.ErrSessionLost) && served:
		return stepNow
	}
	return stepBackoff
}
