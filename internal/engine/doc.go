// Package engine runs a task type's data processing inside one thread
// group: the SLEEP and NOTSLEEP processors of TBSchedule, the batch boundary
// a handover waits for, and statistics. The deals it runs are made by package
// processor (Single, Multi, SingleFunc, MultiFunc), which also holds the
// types the engine shares with users (TaskItem, SelectRequest, Type, Stats,
// Metrics); the typed half of a deal (its records and keys) is the runner
// processor builds, behind the contract of internal/dealrun. The only user of
// the engine is the thread-group manager (package schedule, workhost.go).
//
// # Model
//
// A user writes a deal for records of some type T: SelectTasks returns the
// records of the task items it is given (SelectRequest.Items, each with its
// epoch), and Execute handles one record (SingleDeal) or ExecuteBatch up to
// Config.ExecuteNumber records (MultiDeal). Single, Multi, SingleFunc and
// MultiFunc erase T into a Deal, so one factory registers deals of many types
// by bean name. New builds a Processor from a Deal and a Config; Run starts
// Config.ThreadNumber goroutines that fetch and execute until its context is
// cancelled. The thread-group manager (package schedule) tells the processor
// which items it owns (SetItems, SetTaskItemNum), takes items away at a batch
// boundary (Release), fences it when its session is in doubt (Fence, Unfence),
// learns that the data ran out (Config.OnNoData, Config.PauseWhenNoData with
// Config.OnPause, Config.FetchDataCountEachSchedule) and reads its statistics
// (Stats, Status, DealInfoDesc, and a Metrics receiver). It also hands the
// processor its session's lease (WithLease), which the processor asks itself,
// synchronously, before every fetch and every record.
//
//   - SLEEP (Sleep): the goroutines share one queue. When it is empty, the
//     last goroutine to go idle calls SelectTasks while the others wait, so no
//     fetch overlaps an execution of the group and a record is never handed
//     out twice. One slow record delays the next fetch for everyone.
//   - NOTSLEEP (NotSleep): a goroutine that finds the queue empty fetches at
//     once (one fetch at a time) while others may still execute. SelectTasks
//     may then return records still in flight; the processor drops every
//     record whose key is queued or executing, or finished during that
//     SelectTasks call (Stats.DuplicatesSuppressed). Dedupe costs one hash
//     insert and one delete per record (TBSchedule compared every fetched
//     record with every running one). When a fetch returns only records in
//     flight, the next fetch waits until one of them finishes.
//     The key comes from WithKey, or is the record itself for string, boolean
//     and integer types; without one, New fails with
//     schedule.ErrInvalid.
//
// # Guarantees
//
//   - Each record SelectTasks returns is executed at most once by this
//     processor, and exactly once unless Fence, shutdown or a lapsed lease
//     drops it first (Stats.Fenced, Stats.Dropped, Stats.Lapsed). NOTSLEEP never executes two records with
//     equal keys at the same time. SLEEP never calls SelectTasks while a
//     goroutine of the group executes. A multi deal gets at most
//     ExecuteNumber records per call, all from one fetch.
//   - Release(ids) closes its channel only after every record fetched with
//     any of those items is finished: the handover waits for the batch, and
//     nothing fetched is lost (docs/DESIGN.md, guarantee 4).
//   - With WithLease, no SelectTasks call and no record (or batch) starts
//     while the lease reports false: a process resumed after a freeze longer
//     than its session starts nothing new, before any other goroutine has
//     noticed. The records queued meanwhile are dropped; deals already
//     running are not stopped by the lease (Fence does that).
//   - The ctx of a deal call is cancelled at Fence and when Run's shutdown
//     timeout expires; ItemsFromContext(ctx) gives the items and epochs of the
//     fetch, so a deal can fence its own writes.
//   - A deal error or panic is counted (Stats.Failed, Stats.Panics,
//     Metrics.Dealt and Metrics.Retrying) and logged, a panic with its stack;
//     the goroutine goes on. Fetch errors are retried with jittered
//     exponential backoff. Every sleep ends early when Run's context is
//     cancelled.
//   - A failing record does not loop (see Failed records below): other
//     records keep flowing, the failing one is handed to the deal again only
//     after a backoff, and it is never dropped.
//   - Run returns only after every goroutine it started has exited, or
//     reports with ErrStuck the user calls that ignored cancellation; a later
//     Run waits for them, and Exited tells when they are gone, so two Runs or
//     two processors of a thread group never overlap (TBSchedule could run
//     two after a pause and a resume).
//   - Without items the processor idles and calls nothing. Waiting goroutines
//     block on a condition variable: no polling, no lost wake-ups.
//
// # Non-guarantees
//
//   - The processor keeps no failed record: one is processed again only if a
//     later SelectTasks returns it, as in TBSchedule, and no sooner than its
//     backoff allows. Mark records done in Execute.
//   - Backoff is per processor and forgotten with it: a record whose item
//     moves to another server starts afresh there.
//   - Records dropped by Fence, shutdown or a lapsed lease are not executed
//     here; the next owner of their items fetches them.
//   - Dedupe covers one processor. Across servers, item ownership (package
//     schedule) and epochs keep work apart.
//
// # Failed records
//
// When a deal call fails (error or panic), the processor remembers the keys
// of its records (all records of a failed ExecuteBatch). A later SelectTasks
// may return them (the deal did not mark them done); a record whose key failed
// is held back (Stats.Deferred) until a delay drawn from [d/2, d] has passed,
// d doubling with each failure in a row from Config.RetryMin (default 100ms)
// to Config.RetryMax (default 30s). Then it is handed to the deal again; a
// success forgets the key. The other records of the same fetch are handed out
// at once. When a fetch returns only held-back records, the fetcher sleeps
// until the first is due, or for SleepTimeNoData if that is set and sooner
// (so new records are found as fast as when idle), then fetches again; such
// a fetch does not count as "no data" (OnNoData, PauseWhenNoData),
// since a record is waiting. SLEEP processors compute keys only while some key
// is failing, so a deal that never fails pays nothing.
//
// Without a key (a SLEEP deal of a struct type without WithKey), the
// processor cannot hold one record back: it backs off per fetch instead. After
// the records of a fetch all failed, the next SelectTasks waits the same
// doubling delay; a fetch with any success ends the streak. A failing record
// that comes with others is thus tried once per fetch, and never in a tight
// loop. Give WithKey to back off per record.
//
// At most 10,000 failing keys are remembered (Status.FailingKeys); when the
// table is full, keys whose backoff ended more than 2*RetryMax ago are
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
// Every method of Processor is safe for concurrent use, including SetItems,
// Release, Fence and Status while Run runs. User code (deal, key function,
// Metrics, OnPause) is called on processor goroutines, concurrently from
// several of them, and never with a processor lock held, so it may call
// Status or Stats.
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
//	cfg := engine.DefaultConfig()
//	cfg.Type = processor.NotSleep
//	p, err := engine.New(deal, cfg, engine.WithLogger(log))
//	if err != nil { ... }
//	p.SetItems([]processor.TaskItem{{ID: "0", Epoch: 7}, {ID: "1", Epoch: 7}})
//	err = p.Run(ctx) // until ctx is cancelled
package engine
