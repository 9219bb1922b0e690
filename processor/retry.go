package processor

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/backoff"
)

// Failed records back off instead of hot-looping. A record whose deal call
// failed (error or panic) comes back in a later SelectTasks; the processor
// remembers its key and does not hand a record with that key to the deal
// again before a jittered delay that doubles with each failure in a row, from
// Config.RetryMin up to Config.RetryMax. Records of other keys are not held.
// A success forgets the key. Without a key (a SLEEP deal of a struct without
// WithKey, a key function that panicked, or maxFailingKeys already
// remembered), the fetch backs off instead: see fetchPause.
//
// The decisions are pure functions of their inputs (nextFailure, heldBack,
// stale, fetchPause, heldPause, logLimit.allow); the runner and the workers
// read the clock and the random source and apply them.

// maxFailingKeys bounds the keys a processor remembers as failing. When it is
// reached, keys whose backoff ended long ago (stale) are forgotten; failures
// of new keys beyond it back off per fetch, like a keyless deal.
const maxFailingKeys = 10_000

// failLogEvery is the interval of the rate-limited failure log: at most one
// line per interval reports the repeated failures (a key failing again, or a
// failure without a key), with their count.
const failLogEvery = time.Minute

// retryPolicy is the backoff of failed records (Config.RetryMin, RetryMax).
type retryPolicy struct {
	min, max time.Duration
}

// failState is what a processor remembers of a failing key.
type failState struct {
	fails int       // failures in a row
	due   time.Time // records with the key are held back before due
}

// nextFailure is the state of a key after one more failure at now; prev is
// the zero failState for a first failure. jitter in [0, 1] places the delay
// in [cur/2, cur] (see backoff.Delay).
func nextFailure(prev failState, now time.Time, pol retryPolicy, jitter float64) failState {
	n := prev.fails + 1
	return failState{fails: n, due: now.Add(backoff.Delay(pol.min, pol.max, n, jitter))}
}

// heldBack tells whether a record whose key is remembered with st must not be
// handed to the deal at now.
func heldBack(st failState, now time.Time) bool { return now.Before(st.due) }

// stale tells whether a remembered key may be forgotten to make room: its
// backoff ended more than twice the cap ago, so its record has not come back
// (it was done elsewhere, or its item moved away).
func stale(st failState, now time.Time, pol retryPolicy) bool {
	return now.Sub(st.due) > 2*pol.max
}

// fetchPause is the backoff of failures without a key. Given the streak of
// fetches in a row whose executed records all failed without a key, and what
// the records executed since the previous fetch did (ok succeeded, untracked
// failed without a remembered key), it returns the new streak and the pause
// before the next SelectTasks: a success ends the streak, untracked failures
// with no success extend it and pause, anything else (nothing executed, or
// only keyed failures) leaves it and does not pause. So a fetch that returns
// only failing records cannot loop, and progress is never slowed.
func fetchPause(streak, ok, untracked int, pol retryPolicy, jitter float64) (int, time.Duration) {
	switch {
	case ok > 0:
		return 0, 0
	case untracked > 0:
		streak++
		return streak, backoff.Delay(pol.min, pol.max, streak, jitter)
	default:
		return streak, 0
	}
}

// heldPause is the pause after a fetch whose records were all held back (or
// duplicates with nothing in flight): until the earliest of them is due, but
// no longer than SleepTimeNoData when that is set, so that new records are
// found as soon as an idle processor would find them.
func heldPause(wake, now time.Time, noData time.Duration) time.Duration {
	d := max(wake.Sub(now), 0)
	if noData > 0 {
		d = min(d, noData)
	}
	return d
}

// logLimit rate-limits the log of repeated failures.
type logLimit struct {
	last  time.Time // when the last line was written; zero: never
	quiet int       // failures since then, not logged
}

// allow records n failures at now and tells whether to write a line, and how
// many failures it reports (those since the previous line, these included):
// the first line at once, then at most one per every.
func (l logLimit) allow(now time.Time, every time.Duration, n int) (next logLimit, emit bool, count int) {
	if !l.last.IsZero() && now.Sub(l.last) < every {
		return logLimit{last: l.last, quiet: l.quiet + n}, false, 0
	}
	return logLimit{last: now}, true, l.quiet + n
}

// retryState is the non-generic part of the retry bookkeeping of a
// processor. Guarded by the processor's mu, except keys (atomic: a SLEEP
// fetch reads it to decide whether to compute keys).
type retryState struct {
	pol       retryPolicy
	keys      atomic.Int64 // keys remembered as failing (the runner's table)
	streak    int          // fetchPause's streak
	ok        int          // records succeeded since the last fetch
	untracked int          // records failed without a remembered key since the last fetch
	log       logLimit     // repeated failures
	lastPrune time.Time    // when the runner last looked for stale keys
}

// failure is a failed deal call: records [lo, hi) of a batch, and their keys
// (nil: no key known).
type failure struct {
	lo, hi int
	err    error
	keys   any // []K
}

// failNote is a log line decided under the lock and written after it.
type failNote struct {
	first   bool // first failure of these keys; else a rate-limited repeat
	keys    any  // []K, or nil
	err     error
	retryIn time.Duration // the backoff of the first key (0: fetch-level)
	count   int           // repeat: failures since the previous line
	failing int           // keys remembered as failing
}

// settled is what settle did: failed records in backoff by key or not, and
// the lines to log.
type settled struct {
	keyed, untracked int
	notes            []failNote
	// failing and recovered name the keys whose first failure this was and
	// the failing keys that succeeded (only with WithFailing).
	failing   []failedKey
	recovered []string
}

// failedKey is a key's first failure, for WithFailing.
type failedKey struct {
	key string
	err error
}

// retryPauseLocked applies fetchPause before a fetch. Lock held.
func (p *Processor) retryPauseLocked() time.Duration {
	rs := &p.env.retry
	var d time.Duration
	rs.streak, d = fetchPause(rs.streak, rs.ok, rs.untracked, rs.pol, rand.Float64())
	rs.ok, rs.untracked = 0, 0
	return d
}

// settleLocked books the outcome of executed records [lo, hi) of f (their
// failures in res) and reports them: it unlocks to log and call Metrics when
// something failed. Lock held.
func (p *Processor) settleLocked(f *fetchRec, lo, hi int, res execResult, now time.Time) {
	rs := &p.env.retry
	rs.ok += res.ok
	if len(res.fails) == 0 && rs.keys.Load() == 0 {
		return // the common case: nothing failed, nothing to forget
	}
	s := p.run.settle(f.data, lo, hi, res.fails, now)
	rs.untracked += s.untracked
	if s.keyed+s.untracked == 0 && len(s.recovered) == 0 {
		return
	}
	p.mu.Unlock()
	defer p.mu.Lock()
	p.reportKeys(s)
	if s.keyed+s.untracked == 0 {
		return
	}
	items := itemIDs(ItemsFromContext(f.ctx))
	for _, n := range s.notes {
		p.logFailure(f.ctx, n, items)
	}
	p.mRetrying(s.keyed+s.untracked, int(rs.keys.Load()))
}

// logFailure writes one failure line: a first failure at Warn (Error with the
// stack for a panic), a repeat with its count.
func (p *Processor) logFailure(ctx context.Context, n failNote, items []string) {
	args := []any{"items", items, "err", n.err}
	if n.keys != nil {
		args = append(args, "keys", n.keys)
	}
	if n.retryIn > 0 {
		args = append(args, "retryIn", n.retryIn)
	}
	var pe *panicError
	panicked := errors.As(n.err, &pe)
	msg := "processor: deal failed"
	switch {
	case !n.first:
		msg = "processor: deal keeps failing"
		args = append(args, "moreFailures", n.count, "failingKeys", n.failing)
	case panicked:
		msg = "processor: deal panicked"
	}
	if panicked {
		p.log.ErrorContext(ctx, msg, append(args, "stack", string(pe.Stack))...)
		return
	}
	p.log.WarnContext(ctx, msg, args...)
}

func (p *Processor) mRetrying(records, keys int) {
	if p.metrics == nil {
		return
	}
	defer p.recoverHook("Metrics.Retrying")
	p.metrics.Retrying(records, keys)
}

// reportKeys calls the WithFailing hook for the keys that started failing
// and those that recovered. No lock held.
func (p *Processor) reportKeys(s settled) {
	if p.failing == nil {
		return
	}
	defer p.recoverHook("WithFailing")
	for _, f := range s.failing {
		p.failing(f.key, f.err)
	}
	for _, k := range s.recovered {
		p.failing(k, nil)
	}
}
