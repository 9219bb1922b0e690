package dealrun

import (
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/backoff"
)

// Failed records back off instead of hot-looping. A record whose deal call
// failed (error or panic) comes back in a later SelectTasks; the processor
// remembers its key and does not hand a record with that key to the deal
// again before a jittered delay that doubles with each failure in a row, from
// Config.RetryMin up to Config.RetryMax (of the engine). Records of other
// keys are not held. A success forgets the key. Without a key (a SLEEP deal
// of a struct without WithKey, a key function that panicked, or
// MaxFailingKeys already remembered), the fetch backs off instead: see
// FetchPause.
//
// The decisions are pure functions of their inputs (NextFailure, HeldBack,
// Stale, FetchPause, HeldPause, LogLimit.Allow); the runner and the workers
// read the clock and the random source and apply them.

// MaxFailingKeys bounds the keys a processor remembers as failing. When it is
// reached, keys whose backoff ended long ago (Stale) are forgotten; failures
// of new keys beyond it back off per fetch, like a keyless deal.
const MaxFailingKeys = 10_000

// FailLogEvery is the interval of the rate-limited failure log: at most one
// line per interval reports the repeated failures (a key failing again, or a
// failure without a key), with their count.
const FailLogEvery = time.Minute

// RetryPolicy is the backoff of failed records (Config.RetryMin, RetryMax).
type RetryPolicy struct {
	Min, Max time.Duration
}

// FailState is what a processor remembers of a failing key.
type FailState struct {
	Fails int       // failures in a row
	Due   time.Time // records with the key are held back before Due
}

// NextFailure is the state of a key after one more failure at now; prev is
// the zero FailState for a first failure. jitter in [0, 1] places the delay
// in [cur/2, cur] (see backoff.Delay).
func NextFailure(prev FailState, now time.Time, pol RetryPolicy, jitter float64) FailState {
	n := prev.Fails + 1
	return FailState{Fails: n, Due: now.Add(backoff.Delay(pol.Min, pol.Max, n, jitter))}
}

// HeldBack tells whether a record whose key is remembered with st must not be
// handed to the deal at now.
func HeldBack(st FailState, now time.Time) bool { return now.Before(st.Due) }

// Stale tells whether a remembered key may be forgotten to make room: its
// backoff ended more than twice the cap ago, so its record has not come back
// (it was done elsewhere, or its item moved away).
func Stale(st FailState, now time.Time, pol RetryPolicy) bool {
	return now.Sub(st.Due) > 2*pol.Max
}

// FetchPause is the backoff of failures without a key. Given the streak of
// fetches in a row whose executed records all failed without a key, and what
// the records executed since the previous fetch did (ok succeeded, untracked
// failed without a remembered key), it returns the new streak and the pause
// before the next SelectTasks: a success ends the streak, untracked failures
// with no success extend it and pause, anything else (nothing executed, or
// only keyed failures) leaves it and does not pause. So a fetch that returns
// only failing records cannot loop, and progress is never slowed.
func FetchPause(streak, ok, untracked int, pol RetryPolicy, jitter float64) (int, time.Duration) {
	switch {
	case ok > 0:
		return 0, 0
	case untracked > 0:
		streak++
		return streak, backoff.Delay(pol.Min, pol.Max, streak, jitter)
	default:
		return streak, 0
	}
}

// HeldPause is the pause after a fetch whose records were all held back (or
// duplicates with nothing in flight): until the earliest of them is due, but
// no longer than SleepTimeNoData when that is set, so that new records are
// found as soon as an idle processor would find them.
func HeldPause(wake, now time.Time, noData time.Duration) time.Duration {
	d := max(wake.Sub(now), 0)
	if noData > 0 {
		d = min(d, noData)
	}
	return d
}

// LogLimit rate-limits the log of repeated failures.
type LogLimit struct {
	last  time.Time // when the last line was written; zero: never
	quiet int       // failures since then, not logged
}

// Allow records n failures at now and tells whether to write a line, and how
// many failures it reports (those since the previous line, these included):
// the first line at once, then at most one per every.
func (l LogLimit) Allow(now time.Time, every time.Duration, n int) (next LogLimit, emit bool, count int) {
	if !l.last.IsZero() && now.Sub(l.last) < every {
		return LogLimit{last: l.last, quiet: l.quiet + n}, false, 0
	}
	return LogLimit{last: now}, true, l.quiet + n
}

// RetryState is the non-generic part of the retry bookkeeping of a
// processor. Guarded by the engine's mu, except Keys (atomic: a SLEEP
// fetch reads it to decide whether to compute keys).
type RetryState struct {
	Pol       RetryPolicy
	Keys      atomic.Int64 // keys remembered as failing (the runner's table)
	Streak    int          // FetchPause's streak
	OK        int          // records succeeded since the last fetch
	Untracked int          // records failed without a remembered key since the last fetch
	Log       LogLimit     // repeated failures
	LastPrune time.Time    // when the runner last looked for stale keys
}

// Failure is a failed deal call: records [Lo, Hi) of a batch, and their keys
// (nil: no key known).
type Failure struct {
	Lo, Hi int
	Err    error
	Keys   any // []K
}

// FailNote is a log line decided under the lock and written after it.
type FailNote struct {
	First   bool // first failure of these keys; else a rate-limited repeat
	Keys    any  // []K, or nil
	Err     error
	RetryIn time.Duration // the backoff of the first key (0: fetch-level)
	Count   int           // repeat: failures since the previous line
	Failing int           // keys remembered as failing
}

// Settled is what Settle did: failed records in backoff by key or not, and
// the lines to log.
type Settled struct {
	Keyed, Untracked int
	Notes            []FailNote
	// Failing and Recovered name the keys whose first failure this was and
	// the failing keys that succeeded (only with WithFailing).
	Failing   []FailedKey
	Recovered []string
}

// FailedKey is a key's first failure, for WithFailing.
type FailedKey struct {
	Key string
	Err error
}
