// Package manager is the thread-group manager of tbschedule-go: a Manager
// is one schedule server (thread group) of one task type in one ownSign
// environment, TBSchedule's TBScheduleManager. strategy.Factory runs
// Managers; tests, internal/testinfra and cmd/tbsbench run them directly.
// It deals with the coordination service only through storekit.Store.
//
// # The Manager
//
// A Manager is one schedule server (thread group) of one task type in one
// ownSign environment — TBSchedule's TBScheduleManager. Run registers an
// ephemeral-sequential server node and then, driven by watches:
//
//   - the live server with the lowest sequence leads: it builds the task items
//     from the task type (picking up edits while running) and balances them
//     over the live servers — within ±1, capped by
//     maxTaskItemsOfOneThreadGroup, sticky, deterministic;
//   - unowned items are granted directly, and so are items of servers whose
//     node is gone, once the vanished server's lock delay has passed (see
//     Guarantees); items of live servers are requested (req_server), and their
//     owner hands them over at its next batch boundary, when every record it
//     fetched for them is finished, with one compare-and-set that gives the
//     new owner a larger epoch;
//   - every server runs the task type's processor (package processor) on the
//     items it owns, inside the permit window, on cluster time;
//   - the server record is rewritten every heartBeatRate with statistics and
//     window state;
//   - no server watches or reads every item: each item write leaves a note
//     (storekit.ItemStore.Notes) for the servers it concerns, a server watches its
//     own note box and reads only the items it names, and the leader reads
//     every item once when it starts leading and keeps them between rounds.
//
// Guarantees. Every ownership change is one version-checked write guarded by
// the writer's own registration, so a server whose session expired cannot
// change anything. A server whose session becomes suspect stops fetching at
// once and cancels the contexts of running deals after schedule.ManagerConfig.FenceAfter
// (by default a third of the session timeout), before the session can expire
// at the server and its items be granted elsewhere; it resumes when the
// session is connected again (the store reports that only on an answer from
// the server on that session), and under a new session only after its
// first successful round on it. After an expiry it registers
// again under a new session: at once if it had registered under the lost
// one, otherwise after a backoff, so that a store handing out a session
// that is already dead is not asked again in a busy loop. Besides, the
// processor asks the session's lease (storekit.Session.Alive, judged on the
// monotonic clock at the call) before every fetch and every record: a
// process resumed after a freeze longer than its session starts no new work, although its goroutines that watch the
// session have not run yet. A new session's lease counts only once a read of
// servers and items under it succeeded.
// When the store refuses the first registration for lack of permission
// (wrong or missing credentials), Manager.Run returns that error
// (schedule.ErrPermission) at once instead of retrying it forever.
//
// That alone is safe only while sessions end by silence. A session can also
// be closed early by another client or an operator, while its server is cut
// off, has heard nothing, and still runs deals until its own timers fence
// them. So the leader grants the items of a server whose node vanished
// while it owned them only after that server's lock delay
// (schedule.ManagerConfig.LockDelay, published as schedule.Server.TakeoverDelay; by default
// the takeover delay: a third of the session timeout for the store's
// suspicion, plus FenceAfter, plus 100ms), counted from when the
// leader first saw the node gone; schedule.Status.Held counts the items it holds,
// and the leader publishes each hold with its end in its own record
// (schedule.Server.Holds), written as soon as a hold begins or ends, so operator
// tools can tell a takeover under way from a fault.
// This is Chubby's lock-delay. A crashed server's items are therefore
// granted again after its session timeout plus the lock delay plus one
// round; a graceful stop deletes its node and then releases its items
// itself, so they move at once. Each step of a stop after the deals'
// ShutdownTimeout and CancelGrace is bounded by schedule.ManagerConfig.StopTimeout;
// Run then returns schedule.ErrStopIncomplete naming what was left (a deal that
// ignores its context keeps its items with this server until the session
// ends). A task type paused by the operator (sts: pause) keeps its items
// and fetches nothing until resumed.
//
// Non-guarantees. A deal that ignores its context can still run after the
// fence; the epoch in processor.ItemsFromContext is there so that its writes
// can be fenced by the user's own data store. Epochs never restart: every
// grant of an item carries a larger epoch than every earlier grant of that
// item, also across deletion and re-creation of the item, its ownSign
// runtime or its task type (new items start above a ZooKeeper zxid, see
// schedule.Item), so a data store may keep the highest epoch it has seen per item
// forever. Cluster time is as good as the
// calibration against ZooKeeper (see storekit.ClockInfo).
//
// # Metrics
//
// WithMetrics gives a Manager a schedule.Metrics receiver (default schedule.NopMetrics:
// nothing is recorded). The manager reports items owned and newly granted
// (each grant a new epoch), leadership, the
// leader's balancing rounds (writes, lock-delay holds, unassigned items)
// and how long each hold lasted, releases and their wait, window and
// session changes and lost compare-and-sets, and asks Metrics.Processor
// once for the receiver of its processors' events. strategy.WithMetrics passes the factory's receiver
// here. Implementations embed schedule.NopMetrics.
//
// # Events
//
// WithEvents gives a Manager a function that receives its schedule.Events: the
// leader's grants, handover requests and lock-delay holds, the owner's
// acquires and releases (with the items' epochs), fences, window changes,
// run-now requests (schedule.TaskType.RunNowAt) and failing record keys. It is called
// synchronously and must be fast; strategy.Factory passes one that appends
// to its ring (see strategy.WithEvents). Without it nothing is built.
//
// All methods of Manager are safe for concurrent use.
package manager
