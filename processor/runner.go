package processor

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// env is what a runner needs of its processor. Immutable after New, except
// gen, which is atomic, and retry, guarded by the processor's mu.
type env struct {
	ownSign string
	execNum int
	dedupe  bool           // NOTSLEEP: admit and forget keys
	gen     *atomic.Uint64 // current generation; records of an older one are dropped
	lease   func() bool    // WithLease; nil: always valid
	failing bool           // WithFailing is set: settle names the keys that start failing or recover
	log     *slog.Logger
	retry   retryState // the backoff of failed records (retry.go)
}

// valid tells whether a record of generation gen may start now.
func (e *env) valid(gen uint64) bool { return e.gen.Load() == gen && (e.lease == nil || e.lease()) }

// runner is the erased, per-processor engine of one deal: it holds the typed
// records of each fetch (data) and, for NOTSLEEP, the set of in-flight keys.
type runner interface {
	// fetch calls SelectTasks and, when deduplicating, computes the keys of the
	// records (no lock held: both are user code). It returns the batch, the
	// number of records SelectTasks returned and how many were dropped because
	// their key panicked.
	fetch(ctx context.Context, req SelectRequest) (data any, raw, bad int, err error)
	// beginFetch starts remembering the keys that finish from now on, until
	// endFetch: a SelectTasks call that started while a record was in flight
	// may return it even if it finished before admit. Lock held.
	beginFetch()
	// endFetch forgets those keys. Lock held.
	endFetch()
	// admit drops the records whose key is in flight, or was at any time since
	// beginFetch, or repeats in the batch (dups), holds back those whose key
	// backs off after a failure at now (held), and marks the rest in flight.
	// Called with the processor's lock held.
	admit(data any, now time.Time) admitted
	// run executes records [lo, hi) of data, batching for a multi deal, and
	// stops early when the generation moves away from gen or the lease
	// lapses. No lock held.
	run(ctx context.Context, data any, lo, hi int, gen uint64) execResult
	// settle books the outcome of executed records [lo, hi) of data: the
	// keys of fails back off, the others are forgotten (retrykeys.go). Lock
	// held.
	settle(data any, lo, hi int, fails []failure, now time.Time) settled
	// forget removes records [lo, hi) from the in-flight set. Lock held.
	forget(data any, lo, hi int)
	// recycle takes back a batch whose records are all finished. Lock held.
	recycle(data any)
}

// execResult counts what run did: done records were executed (ok + failed);
// the rest of the range was dropped. fails are the failed deal calls.
type execResult struct {
	done, ok, failed, panics int
	fails                    []failure
}

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
	env  *env
	set  map[K]struct{} // in-flight keys; guarded by the processor's mu
	// recent holds the keys that finished during the SelectTasks call in
	// progress (tracking); guarded by the processor's mu.
	recent   map[K]struct{}
	tracking bool
	// fails holds the keys whose records failed and back off; guarded by the
	// processor's mu; bounded by maxFailingKeys.
	fails map[K]failState
	fmu   sync.Mutex     // guards free
	free  []*batch[T, K] // recycled batches, to reuse their keys slices
}

// keyedMaker returns a maker of runners of T keyed by key.
func keyedMaker[T any, K comparable](key func(T) K) func(*dealSpec[T], *env) runner {
	return func(s *dealSpec[T], e *env) runner {
		r := &runnerK[T, K]{spec: s, key: key, env: e}
		if e.dedupe && key != nil {
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

func (r *runnerK[T, K]) recycle(data any) {
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

func (r *runnerK[T, K]) fetch(ctx context.Context, req SelectRequest) (any, int, int, error) {
	recs, err := r.callSelect(ctx, req)
	if err != nil || len(recs) == 0 {
		return nil, 0, 0, err
	}
	b := r.getBatch()
	b.recs = recs
	raw, bad := len(recs), 0
	// SLEEP needs keys only to hold back failing ones; no fetch of SLEEP
	// overlaps an execution, so no key starts failing meanwhile.
	if r.dedupe() || (r.key != nil && r.env.retry.keys.Load() > 0) {
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
			r.env.log.ErrorContext(ctx, "processor: key function panicked; record dropped",
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

func (r *runnerK[T, K]) admit(data any, now time.Time) (a admitted) {
	b := data.(*batch[T, K])
	dedupe := r.dedupe()
	hold := len(r.fails) > 0 && len(b.keys) == len(b.recs)
	if !dedupe && !hold {
		a.kept = len(b.recs)
		return a
	}
	checkRecent := len(r.recent) > 0
	kept := 0
	for i, k := range b.keys {
		if checkRecent {
			if _, finished := r.recent[k]; finished {
				a.dups++
				continue
			}
		}
		if hold {
			if st, failing := r.fails[k]; failing && heldBack(st, now) {
				a.held++
				if a.wake.IsZero() || st.due.Before(a.wake) {
					a.wake = st.due
				}
				continue
			}
		}
		if dedupe {
			// One hash operation: the insert is a no-op when k is in flight.
			n := len(r.set)
			if r.set[k] = struct{}{}; len(r.set) == n {
				a.dups++
				continue
			}
		}
		b.recs[kept], b.keys[kept] = b.recs[i], k
		kept++
	}
	clear(b.recs[kept:])
	b.recs, b.keys = b.recs[:kept], b.keys[:kept]
	a.kept = kept
	return a
}

func (r *runnerK[T, K]) forget(data any, lo, hi int) {
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

func (r *runnerK[T, K]) beginFetch() { r.tracking = r.dedupe() }

func (r *runnerK[T, K]) endFetch() {
	if r.tracking {
		r.tracking = false
		clear(r.recent)
	}
}

func (r *runnerK[T, K]) run(ctx context.Context, data any, lo, hi int, gen uint64) (res execResult) {
	b := data.(*batch[T, K])
	if r.spec.one != nil {
		for i := lo; i < hi; i++ {
			if !r.env.valid(gen) {
				return res
			}
			res.done++
			if err := r.callOne(ctx, b.recs[i]); err != nil {
				res.failed++
				r.failed(ctx, b, i, i+1, err, &res)
			} else {
				res.ok++
			}
		}
		return res
	}
	n := r.env.execNum
	for i := lo; i < hi; i += n {
		if !r.env.valid(gen) {
			return res
		}
		j := min(i+n, hi)
		res.done += j - i
		if err := r.callBatch(ctx, b.recs[i:j:j]); err != nil {
			res.failed += j - i
			r.failed(ctx, b, i, j, err, &res)
		} else {
			res.ok += j - i
		}
	}
	return res
}

// failed records a failed deal call of records [lo, hi) of b; settle backs
// them off and decides what to log.
func (r *runnerK[T, K]) failed(ctx context.Context, b *batch[T, K], lo, hi int, err error, res *execResult) {
	if _, ok := err.(*panicError); ok {
		res.panics++
	}
	res.fails = append(res.fails, r.failureOf(ctx, b, lo, hi, err))
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
	return r.spec.one(ctx, t, r.env.ownSign)
}

func (r *runnerK[T, K]) callBatch(ctx context.Context, ts []T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{Op: "ExecuteBatch", Value: v, Stack: debug.Stack()}
		}
	}()
	return r.spec.batch(ctx, ts, r.env.ownSign)
}

// itemIDs lists the ids of items, for logs and errors.
func itemIDs(items []TaskItem) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

func sprint(v any) string { return fmt.Sprint(v) }
