package processor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/dealrun"
)

// The per-key half of the retry bookkeeping (see retry.go): the runner keeps
// its table of failing keys, typed by K, guarded by the processor's mu.

// failureOf describes a failed deal call of records [lo, hi) of b, with their
// keys when the deal has a key. No lock held: the key function may run here.
func (r *runnerK[T, K]) failureOf(ctx context.Context, b *batch[T, K], lo, hi int, err error) dealrun.Failure {
	f := dealrun.Failure{Lo: lo, Hi: hi, Err: err}
	switch {
	case r.key == nil:
	case len(b.keys) == len(b.recs):
		f.Keys = b.keys[lo:hi:hi]
	default: // SLEEP computes keys only while some key is failing
		ks := make([]K, 0, hi-lo)
		for _, t := range b.recs[lo:hi] {
			k, perr := r.keyOf(t)
			if perr != nil {
				r.env.Log.ErrorContext(ctx, "processor: key function panicked; failed record backs off per fetch",
					"err", perr, "stack", string(perr.Stack))
				return f
			}
			ks = append(ks, k)
		}
		f.Keys = ks
	}
	return f
}

// keyOf calls the key function, recovering a panic.
func (r *runnerK[T, K]) keyOf(t T) (k K, perr *panicError) {
	defer func() {
		if v := recover(); v != nil {
			perr = &panicError{Op: "Key", Value: v, Stack: debug.Stack()}
		}
	}()
	return r.key(t), nil
}

// settle books executed records [lo, hi) of data, of which fails failed: a
// success forgets its key, a failure backs its key off (nextFailure), and the
// lines to log are decided. Lock held.
func (r *runnerK[T, K]) Settle(data any, lo, hi int, fails []dealrun.Failure, now time.Time) (s dealrun.Settled) {
	b, _ := data.(*batch[T, K])
	if len(r.fails) > 0 && b != nil && len(b.keys) == len(b.recs) {
		s.Recovered = r.forgetSucceeded(b.keys, lo, hi, fails)
	}
	for _, f := range fails {
		r.settleFailure(f, now, &s)
	}
	r.env.Retry.Keys.Store(int64(len(r.fails)))
	return s
}

// forgetSucceeded forgets the keys of [lo, hi) outside the failed ranges,
// and names those that were failing when WithFailing is set.
func (r *runnerK[T, K]) forgetSucceeded(keys []K, lo, hi int, fails []dealrun.Failure) (recovered []string) {
	j := 0
	for i := lo; i < hi; i++ {
		for j < len(fails) && fails[j].Hi <= i {
			j++
		}
		if j < len(fails) && i >= fails[j].Lo {
			continue
		}
		if _, was := r.fails[keys[i]]; was && r.env.Failing {
			recovered = append(recovered, fmt.Sprint(keys[i]))
		}
		delete(r.fails, keys[i])
	}
	return recovered
}

// settleFailure backs off the keys of one failed deal call.
func (r *runnerK[T, K]) settleFailure(f dealrun.Failure, now time.Time, s *dealrun.Settled) {
	rs := &r.env.Retry
	ks, _ := f.Keys.([]K)
	var fresh []K
	var firstIn, againIn time.Duration
	again := 0
	if ks == nil {
		again = f.Hi - f.Lo
		s.Untracked += again
	}
	for _, k := range ks {
		prev, known := r.fails[k]
		if !known && !r.roomFor(now) {
			s.Untracked++
			again++
			continue
		}
		st := dealrun.NextFailure(prev, now, rs.Pol, rand.Float64())
		r.fails[k] = st
		s.Keyed++
		if known {
			again++
			againIn = st.Due.Sub(now)
		} else {
			fresh = append(fresh, k)
			firstIn = max(firstIn, st.Due.Sub(now))
		}
	}
	if len(fresh) > 0 {
		s.Notes = append(s.Notes, dealrun.FailNote{First: true, Keys: fresh, Err: f.Err, RetryIn: firstIn})
		noteFailing(s, r.env.Failing, fresh, f.Err)
	}
	if again == 0 {
		return
	}
	var emit bool
	var count int
	if rs.Log, emit, count = rs.Log.Allow(now, dealrun.FailLogEvery, again); emit {
		n := dealrun.FailNote{Err: f.Err, RetryIn: againIn, Count: count, Failing: len(r.fails)}
		if ks != nil {
			n.Keys = append([]K(nil), ks...)
		}
		s.Notes = append(s.Notes, n)
	}
}

// roomFor tells whether a new failing key can be remembered; when the table
// is full it forgets the stale keys, at most once per RetryMax.
func (r *runnerK[T, K]) roomFor(now time.Time) bool {
	if r.fails == nil {
		r.fails = make(map[K]dealrun.FailState)
	}
	if len(r.fails) < dealrun.MaxFailingKeys {
		return true
	}
	rs := &r.env.Retry
	if !rs.LastPrune.IsZero() && now.Sub(rs.LastPrune) < rs.Pol.Max {
		return false
	}
	rs.LastPrune = now
	for k, st := range r.fails {
		if dealrun.Stale(st, now, rs.Pol) {
			delete(r.fails, k)
		}
	}
	return len(r.fails) < dealrun.MaxFailingKeys
}

// noteFailing names keys, failing for the first time with err, when
// WithFailing is set (on).
func noteFailing[K comparable](s *dealrun.Settled, on bool, keys []K, err error) {
	if !on {
		return
	}
	for _, k := range keys {
		s.Failing = append(s.Failing, dealrun.FailedKey{Key: fmt.Sprint(k), Err: err})
	}
}
