// Package processor is what a service writes to have its records processed
// by a thread group: the deal interfaces of TBSchedule, the adapters that
// turn a deal into a Deal to register with a factory, and the types a deal
// sees (SelectRequest, TaskItem, ItemsFromContext) or a monitoring system
// receives (Stats, Metrics). The thread group itself (its goroutines, its
// queue, the handover of items) is run by the manager of package schedule,
// configured by the task type.
//
// # Model
//
// A user writes a deal for records of some type T: SelectTasks returns the
// records of the task items it is given (SelectRequest.Items, each with its
// epoch), and Execute handles one record (SingleDeal) or ExecuteBatch up to
// the task type's executeNumber records (MultiDeal). Single, Multi,
// SingleFunc and MultiFunc erase T into a Deal, so one factory registers
// deals of many types by bean name (strategy.Factory.RegisterDeal). The
// manager of a task type runs the deal while its permit window is open, with
// the task type's threadNumber goroutines that fetch up to fetchDataNumber
// records per SelectTasks call, for the items the manager owns at the time.
//
// The task type's processorType chooses the model (Type):
//
//   - SLEEP (Sleep): the goroutines share one queue. When it is empty, the
//     last goroutine to go idle calls SelectTasks while the others wait, so no
//     fetch overlaps an execution of the group and a record is never handed
//     out twice. One slow record delays the next fetch for everyone.
//   - NOTSLEEP (NotSleep): a goroutine that finds the queue empty fetches at
//     once (one fetch at a time) while others may still execute. SelectTasks
//     may then return records still in flight; the thread group drops every
//     record whose key is queued or executing, or finished during that
//     SelectTasks call (Stats.DuplicatesSuppressed). Dedupe costs one hash
//     insert and one delete per record (TBSchedule compared every fetched
//     record with every running one). When a fetch returns only records in
//     flight, the next fetch waits until one of them finishes.
//     The key comes from WithKey, or is the record itself for string, boolean
//     and integer types; without one, the manager of a NOTSLEEP task type
//     refuses the deal with schedule.ErrInvalid.
//
// # Guarantees
//
//   - Each record SelectTasks returns is executed at most once by the thread
//     group that fetched it, and exactly once unless a fence, a stop or a
//     lapsed session lease drops it first (Stats.Fenced, Stats.Dropped,
//     Stats.Lapsed). NOTSLEEP never executes two records with equal keys at
//     the same time. SLEEP never calls SelectTasks while a goroutine of the
//     group executes. A multi deal gets at most executeNumber records per
//     call, all from one fetch.
//   - An item handed over to another server is released only after every
//     record fetched with it is finished: the handover waits for the batch,
//     and nothing fetched is lost (docs/DESIGN.md, guarantee 4).
//   - No SelectTasks call and no record (or batch) starts while the
//     session's lease has lapsed: a process resumed after a freeze longer
//     than its session starts nothing new, before any other goroutine has
//     noticed. Deals already running are not stopped by the lease; the
//     fence that follows cancels their ctx.
//   - The ctx of a deal call is cancelled when the thread group is fenced
//     (its session in doubt) and when a stop's timeout expires;
//     ItemsFromContext(ctx) gives the items and epochs of the fetch, so a
//     deal can fence its own writes.
//   - A deal error or panic is counted (Stats.Failed, Stats.Panics,
//     Metrics.Dealt and Metrics.Retrying) and logged, a panic with its stack
//     (a *schedule.PanicError); the goroutine goes on. Fetch errors are
//     retried with jittered exponential backoff.
//   - A failing record does not loop (see Failed records below): other
//     records keep flowing, the failing one is handed to the deal again only
//     after a backoff, and it is never dropped.
//   - Without items the thread group idles and calls nothing.
//
// # Non-guarantees
//
//   - No failed record is kept: one is processed again only if a later
//     SelectTasks returns it, as in TBSchedule, and no sooner than its
//     backoff allows. Mark records done in Execute.
//   - Backoff is per thread group and forgotten with it: a record whose item
//     moves to another server starts afresh there.
//   - Records dropped by a fence, a stop or a lapsed lease are not executed
//     here; the next owner of their items fetches them.
//   - Dedupe covers one thread group. Across servers, item ownership (package
//     schedule) and epochs keep work apart.
//
// # Failed records
//
// When a deal call fails (error or panic), the thread group remembers the
// keys of its records (all records of a failed ExecuteBatch). A later
// SelectTasks may return them (the deal did not mark them done); a record
// whose key failed is held back (Stats.Deferred) until a delay drawn from
// [d/2, d] has passed, d doubling with each failure in a row from 100ms to
// 30s. Then it is handed to the deal again; a success forgets the key. The
// other records of the same fetch are handed out at once. When a fetch
// returns only held-back records, the fetcher sleeps until the first is due,
// or for the task type's sleepTimeNoData if that is set and sooner (so new
// records are found as fast as when idle), then fetches again; such a fetch
// does not count as "no data", since a record is waiting. SLEEP thread
// groups compute keys only while some key is failing, so a deal that never
// fails pays nothing.
//
// Without a key (a SLEEP deal of a struct type without WithKey), a record
// cannot be held back by itself: the fetch backs off instead. After the
// records of a fetch all failed, the next SelectTasks waits the same
// doubling delay; a fetch with any success ends the streak. A failing record
// that comes with others is thus tried once per fetch, and never in a tight
// loop. Give WithKey to back off per record.
//
// At most 10,000 failing keys are remembered per thread group; when the
// table is full, keys whose backoff ended more than a minute ago are
// forgotten (their records were done elsewhere), and a new failing key that
// still finds no room backs off per fetch as if it had no key.
//
// Logs: the first failure of a key is logged at once ("processor: deal
// failed", Warn, or "processor: deal panicked", Error with the stack), with
// its keys and the delay before the retry. Repeated failures (a key failing
// again, or a failure without a key) share a rate limit: at most one line a
// minute, "processor: deal keeps failing", with moreFailures = the number of
// repeated failures since the previous such line (this one included) and
// failingKeys. Metrics.Retrying counts every failure.
//
// # Thread safety
//
// Deals are immutable and may be used by several thread groups at once. User
// code (deal, key function, Metrics) is called on the thread group's
// goroutines, concurrently from several of them, and never with a lock of
// the library held.
//
// # Example
//
//	deal := processor.SingleFunc(
//		func(ctx context.Context, req processor.SelectRequest) ([]int64, error) {
//			return db.PendingOrders(ctx, req.TaskItemNum, req.Items, req.FetchNum)
//		},
//		func(ctx context.Context, id int64, ownSign string) error {
//			return db.Ship(ctx, id)
//		})
//	if err := factory.RegisterDeal("orderDeal", deal); err != nil { ... }
package processor
