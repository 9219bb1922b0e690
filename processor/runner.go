package processor

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/dealrun"
)

// batch holds the records of one fetch and, when deduplicating, their keys.
type batch[T any, K comparable] struct {
	recs []T
	keys []K
}

// runnerK is the runner of a deal of T keyed by K (K = struct{} and key = nil
// when the deal has no key).
type runnerK[T any, K comparable] struct {
	spec *dealSpec[T]
	key  func(T) K
	env  *dealrun.Env
	set  map[K]struct{} // in-flight keys; guarded by the processor's mu
	// recent holds the keys that finished during the SelectTasks call in
	// progress (tracking); guarded by the processor's mu.
	recent   map[K]struct{}
	tracking bool
	// fails holds the keys whose records failed and back off; guarded by the
	// processor's mu; bounded by dealrun.MaxFailingKeys.
	fails map[K]dealrun.FailState
	fmu   sync.Mutex     // guards free
	free  []*batch[T, K] // recycled batches, to reuse their keys slices
}

// keyedMaker returns a maker of runners of T keyed by key.
func keyedMaker[T any, K comparable](key func(T) K) func(*dealSpec[T], *dealrun.Env) dealRunner {
	return func(s *dealSpec[T], e *dealrun.Env) dealRunner {
		r := &runnerK[T, K]{spec: s, key: key, env: e}
		if e.Dedupe && key != nil {
			r.set = make(map[K]struct{})
			r.recent = make(map[K]struct{})
		}
		return r
	}
}

func (r *runnerK[T, K]) dedupe() bool { return r.set != nil }

func (r *runnerK[T, K]) getBatch() *batch[T, K] {
	r.fmu.Lock()
	defer r.fmu.Unlock()
	if n := len(r.free); n > 0 {
		b := r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
		return b
	}
	return new(batch[T, K])
}

func (r *runnerK[T, K]) Recycle(data any) {
	b, ok := data.(*batch[T, K])
	if !ok || b == nil {
		return
	}
	clear(b.recs) // let the records be collected; the slice is the user's
	b.recs = nil
	b.keys = b.keys[:0]
	r.fmu.Lock()
	if len(r.free) < 4 {
		r.free = append(r.free, b)
	}
	r.fmu.Unlock()
}

func (r *runnerK[T, K]) Fetch(ctx context.Context, req SelectRequest) (any, int, int, error) {
	recs, err := r.callSelect(ctx, req)
	if err != nil || len(recs) == 0 {
		return nil, 0, 0, err
	}
	b := r.getBatch()
	b.recs = recs
	raw, bad := len(recs), 0
	// SLEEP needs keys only to hold back failing ones; no fetch of SLEEP
	// overlaps an execution, so no key starts failing meanwhile.
	if r.dedupe() || (r.key != nil && r.env.Retry.Keys.Load() > 0) {
		bad = r.computeKeys(ctx, b)
	}
	return b, raw, bad, nil
}

// computeKeys fills b.keys; a record whose key panics is removed from the
// batch, logged and counted.
func (r *runnerK[T, K]) computeKeys(ctx context.Context, b *batch[T, K]) (bad int) {
	if cap(b.keys) < len(b.recs) {
		b.keys = make([]K, 0, len(b.recs))
	}
	b.keys = b.keys[:0]
	for len(b.keys) < len(b.recs) {
		if perr := r.keysFrom(b); perr != nil {
			i := len(b.keys)
			copy(b.recs[i:], b.recs[i+1:])
			var zero T
			b.recs[len(b.recs)-1] = zero
			b.recs = b.recs[:len(b.recs)-1]
			bad++
			r.env.Log.ErrorContext(ctx, "processor: key function panicked; record dropped",
				"err", perr, "stack", string(perr.Stack))
		}
	}
	return bad
}

// keysFrom appends keys from len(b.keys) on; it stops at a panicking record.
func (r *runnerK[T, K]) keysFrom(b *batch[T, K]) (perr *panicError) {
	defer func() {
		if v := recover(); v != nil {
			perr = &panicError{Op: "Key", Value: v, Stack: debug.Stack()}
		}
	}()
	for i := len(b.keys); i < len(b.recs); i++ {
		b.keys = append(b.keys, r.key(b.recs[i]))
	}
	return nil
}

func (r *runnerK[T, K]) Admit(data any, now time.Time) (a dealrun.Admitted) {
	b := data.(*batch[T, K])
	dedupe := r.dedupe()
	hold := len(r.fails) > 0 && len(b.keys) == len(b.recs)
	if !dedupe && !hold {
		a.Kept = len(b.recs)
		return a
	}
	checkRecent := len(r.recent) > 0
	kept := 0
	for i, k := range b.keys {
		if checkRecent {
			if _, finished := r.recent[k]; finished {
				a.Dups++
				continue
			}
		}
		if hold {
			if st, failing := r.fails[k]; failing && dealrun.HeldBack(st, now) {
				a.Held++
				if a.Wake.IsZero() || st.Due.Before(a.Wake) {
					a.Wake = st.Due
				}
				continue
			}
		}
		if dedupe {
			// One hash operation: the insert is a no-op when k is in flight.
			n := len(r.set)
			if r.set[k] = struct{}{}; len(r.set) == n {
				a.Dups++
				continue
			}
		}
		b.recs[kept], b.keys[kept] = b.recs[i], k
		kept++
	}
	clear(b.recs[kept:])
	b.recs, b.keys = b.recs[:kept], b.keys[:kept]
	a.Kept = kept
	return a
}

func (r *runnerK[T, K]) Forget(data any, lo, hi int) {
	if !r.dedupe() || lo >= hi {
		return
	}
	b := data.(*batch[T, K])
	for _, k := range b.keys[lo:hi] {
		delete(r.set, k)
		if r.tracking {
			r.recent[k] = struct{}{}
		}
	}
}

func (r *runnerK[T, K]) BeginFetch() { r.tracking = r.dedupe() }

func (r *runnerK[T, K]) EndFetch() {
	if r.tracking {
		r.tracking = false
		clear(r.recent)
	}
}

func (r *runnerK[T, K]) Run(ctx context.Context, data any, lo, hi int, gen uint64) (res dealrun.ExecResult) {
	b := data.(*batch[T, K])
	if r.spec.one != nil {
		for i := lo; i < hi; i++ {
			if !r.env.Valid(gen) {
				return res
			}
			res.Done++
			if err := r.callOne(ctx, b.recs[i]); err != nil {
				res.Failed++
				r.failed(ctx, b, i, i+1, err, &res)
			} else {
				res.OK++
			}
		}
		return res
	}
	n := r.env.ExecNum
	for i := lo; i < hi; i += n {
		if !r.env.Valid(gen) {
			return res
		}
		j := min(i+n, hi)
		res.Done += j - i
		if err := r.callBatch(ctx, b.recs[i:j:j]); err != nil {
			res.Failed += j - i
			r.failed(ctx, b, i, j, err, &res)
		} else {
			res.OK += j - i
		}
	}
	return res
}

// failed records a failed deal call of records [lo, hi) of b; settle backs
// them off and decides what to log.
func (r *runnerK[T, K]) failed(ctx context.Context, b *batch[T, K], lo, hi int, err error, res *dealrun.ExecResult) {
	if _, ok := err.(*panicError); ok {
		res.Panics++
	}
	res.Fails = append(res.Fails, r.failureOf(ctx, b, lo, hi, err))
}

func (r *runnerK[T, K]) callSelect(ctx context.Context, req SelectRequest) (recs []T, err error) {
	defer func() {
		if v := recover(); v != nil {
			recs, err = nil, &panicError{Op: "SelectTasks", Value: v, Stack: debug.Stack()}
		}
	}()
	return r.spec.sel(ctx, req)
}

func (r *runnerK[T, K]) callOne(ctx context.Context, t T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{Op: "Execute", Value: v, Stack: debug.Stack()}
		}
	}()
	return r.spec.one(ctx, t, r.env.OwnSign)
}

func (r *runnerK[T, K]) callBatch(ctx context.Context, ts []T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{Op: "ExecuteBatch", Value: v, Stack: debug.Stack()}
		}
	}()
	return r.spec.batch(ctx, ts, r.env.OwnSign)
}
