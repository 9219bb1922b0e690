package processor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

// The per-key half of the retry bookkeeping (see retry.go): the runner keeps
// its table of failing keys, typed by K, guarded by the processor's mu.

// admitted is what admit did with a batch.
type admitted struct {
	kept, dups int
	held       int       // records held back: their key backs off
	wake       time.Time // the earliest end of those backoffs
}

// failureOf describes a failed deal call of records [lo, hi) of b, with their
// keys when the deal has a key. No lock held: the key function may run here.
func (r *runnerK[T, K]) failureOf(ctx context.Context, b *batch[T, K], lo, hi int, err error) failure {
	f := failure{lo: lo, hi: hi, err: err}
	switch {
	case r.key == nil:
	case len(b.keys) == len(b.recs):
		f.keys = b.keys[lo:hi:hi]
	default: // SLEEP computes keys only while some key is failing
		ks := make([]K, 0, hi-lo)
		for _, t := range b.recs[lo:hi] {
			k, perr := r.keyOf(t)
			if perr != nil {
				r.env.log.ErrorContext(ctx, "processor: key function panicked; failed record backs off per fetch",
					"err", perr, "stack", string(perr.Stack))
				return f
			}
			ks = append(ks, k)
		}
		f.keys = ks
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
func (r *runnerK[T, K]) settle(data any, lo, hi int, fails []failure, now time.Time) (s settled) {
	b, _ := data.(*batch[T, K])
	if len(r.fails) > 0 && b != nil && len(b.keys) == len(b.recs) {
		s.recovered = r.forgetSucceeded(b.keys, lo, hi, fails)
	}
	for _, f := range fails {
		r.settleFailure(f, now, &s)
	}
	r.env.retry.keys.Store(int64(len(r.fails)))
	return s
}

// forgetSucceeded forgets the keys of [lo, hi) outside the failed ranges,
// and names those that were failing when WithFailing is set.
func (r *runnerK[T, K]) forgetSucceeded(keys []K, lo, hi int, fails []failure) (recovered []string) {
	j := 0
	for i := lo; i < hi; i++ {
		for j < len(fails) && fails[j].hi <= i {
			j++
		}
		if j < len(fails) && i >= fails[j].lo {
			continue
		}
		if _, was := r.fails[keys[i]]; was && r.env.failing {
			recovered = append(recovered, fmt.Sprint(keys[i]))
		}
		delete(r.fails, keys[i])
	}
	return recovered
}

// settleFailure backs off the keys of one failed deal call.
func (r *runnerK[T, K]) settleFailure(f failure, now time.Time, s *settled) {
	rs := &r.env.retry
	ks, _ := f.keys.([]K)
	var fresh []K
	var firstIn, againIn time.Duration
	again := 0
	if ks == nil {
		again = f.hi - f.lo
		s.untracked += again
	}
	for _, k := range ks {
		prev, known := r.fails[k]
		if !known && !r.roomFor(now) {
			s.untracked++
			again++
			continue
		}
		st := nextFailure(prev, now, rs.pol, rand.Float64())
		r.fails[k] = st
		s.keyed++
		if known {
			again++
			againIn = st.due.Sub(now)
		} else {
			fresh = append(fresh, k)
			firstIn = max(firstIn, st.due.Sub(now))
		}
	}
	if len(fresh) > 0 {
		s.notes = append(s.notes, failNote{first: true, keys: fresh, err: f.err, retryIn: firstIn})
		noteFailing(s, r.env.failing, fresh, f.err)
	}
	if again == 0 {
		return
	}
	var emit bool
	var count int
	if rs.log, emit, count = rs.log.allow(now, failLogEvery, again); emit {
		n := failNote{err: f.err, retryIn: againIn, count: count, failing: len(r.fails)}
		if ks != nil {
			n.keys = append([]K(nil), ks...)
		}
		s.notes = append(s.notes, n)
	}
}

// roomFor tells whether a new failing key can be remembered; when the table
// is full it forgets the stale keys, at most once per RetryMax.
func (r *runnerK[T, K]) roomFor(now time.Time) bool {
	if r.fails == nil {
		r.fails = make(map[K]failState)
	}
	if len(r.fails) < maxFailingKeys {
		return true
	}
	rs := &r.env.retry
	if !rs.lastPrune.IsZero() && now.Sub(rs.lastPrune) < rs.pol.max {
		return false
	}
	rs.lastPrune = now
	for k, st := range r.fails {
		if stale(st, now, rs.pol) {
			delete(r.fails, k)
		}
	}
	return len(r.fails) < maxFailingKeys
}

// noteFailing names keys, failing for the first time with err, when
// WithFailing is set (on).
func noteFailing[K comparable](s *settled, on bool, keys []K, err error) {
	if !on {
		return
	}
	for _, k := range keys {
		s.failing = append(s.failing, failedKey{key: fmt.Sprint(k), err: err})
	}
}
