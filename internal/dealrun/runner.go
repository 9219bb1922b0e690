package dealrun

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Env is what a runner needs of its engine. Immutable after the engine's New,
// except Gen, which is atomic, and Retry, guarded by the engine's mu.
type Env struct {
	OwnSign string
	ExecNum int
	Dedupe  bool           // NOTSLEEP: admit and forget keys
	Gen     *atomic.Uint64 // current generation; records of an older one are dropped
	Lease   func() bool    // WithLease; nil: always valid
	Failing bool           // WithFailing is set: Settle names the keys that start failing or recover
	Log     *slog.Logger
	Retry   RetryState // the backoff of failed records (retry.go)
}

// Valid tells whether a record of generation gen may start now.
func (e *Env) Valid(gen uint64) bool { return e.Gen.Load() == gen && (e.Lease == nil || e.Lease()) }

// Runner is the erased, per-processor engine of one deal: it holds the typed
// records of each fetch (data) and, for NOTSLEEP, the set of in-flight keys.
// R is the request of SelectTasks (processor.SelectRequest).
type Runner[R any] interface {
	// Fetch calls SelectTasks and, when deduplicating, computes the keys of the
	// records (no lock held: both are user code). It returns the batch, the
	// number of records SelectTasks returned and how many were dropped because
	// their key panicked.
	Fetch(ctx context.Context, req R) (data any, raw, bad int, err error)
	// BeginFetch starts remembering the keys that finish from now on, until
	// EndFetch: a SelectTasks call that started while a record was in flight
	// may return it even if it finished before Admit. Lock held.
	BeginFetch()
	// EndFetch forgets those keys. Lock held.
	EndFetch()
	// Admit drops the records whose key is in flight, or was at any time since
	// BeginFetch, or repeats in the batch (dups), holds back those whose key
	// backs off after a failure at now (held), and marks the rest in flight.
	// Called with the engine's lock held.
	Admit(data any, now time.Time) Admitted
	// Run executes records [lo, hi) of data, batching for a multi deal, and
	// stops early when the generation moves away from gen or the lease
	// lapses. No lock held.
	Run(ctx context.Context, data any, lo, hi int, gen uint64) ExecResult
	// Settle books the outcome of executed records [lo, hi) of data: the
	// keys of fails back off, the others are forgotten. Lock held.
	Settle(data any, lo, hi int, fails []Failure, now time.Time) Settled
	// Forget removes records [lo, hi) from the in-flight set. Lock held.
	Forget(data any, lo, hi int)
	// Recycle takes back a batch whose records are all finished. Lock held.
	Recycle(data any)
}

// Info is the erased view of a deal that the engine's New uses.
type Info[R any] struct {
	Desc      string // e.g. "single deal of main.Order (key: WithKey)"
	Multi     bool   // a multi deal: batches of up to ExecuteNumber records
	Keyed     bool   // the deal has a key per record
	Err       error  // construction error, reported by New
	NewRunner func(*Env) Runner[R]
}

// Source is implemented by every deal package processor makes.
type Source[R any] interface {
	DealInfo() *Info[R]
}

// ItemsKey is the context key of processor.ItemsFromContext: the engine sets
// the items of a fetch ([]processor.TaskItem) on the ctx of its user calls.
type ItemsKey struct{}

// Admitted is what Admit did with a batch.
type Admitted struct {
	Kept, Dups int
	Held       int       // records held back: their key backs off
	Wake       time.Time // the earliest end of those backoffs
}

// ExecResult counts what Run did: Done records were executed (OK + Failed);
// the rest of the range was dropped. Fails are the failed deal calls.
type ExecResult struct {
	Done, OK, Failed, Panics int
	Fails                    []Failure
}
