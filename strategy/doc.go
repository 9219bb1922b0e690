// Package strategy is the manager factory, the entry point a service
// embeds (TBSchedule's TBScheduleManagerFactory), and the admin API that
// edits the configuration and the operator state.
//
// # Model
//
// One Factory runs per process. Run registers the process as an
// ephemeral-sequential factory node ("<ip>$<hostName>$<uuid>$<seq>") and
// then follows the strategies stored in the coordination service:
//
//   - For every strategy whose sts is resume and whose IPList admits this
//     factory ("127.0.0.1" or "localhost" admit every factory; otherwise an
//     entry must equal the factory's IP or host name, case-insensitively),
//     the factory registers under the strategy (an ephemeral node holding
//     requestNum, currentNum and message).
//   - Among the live factories registered under a strategy, the one with
//     the lowest sequence is its leader. It computes every registration's
//     requestNum — assignNum spread within ±1, at most
//     numOfSingleServer per factory, the remainder spread by a hash of the
//     strategy name (not piled on the leader), sticky to what runs — and
//     writes only the values that change, in one step guarded by its own
//     factory node and checked against every registration's version.
//   - Every factory starts or stops units to match its requestNum: for Kind
//     Schedule a unit is a thread group (TBSchedule's TBScheduleManager)
//     of the task type named by taskName ("base" or "base$ownSign") with the deal registered
//     under the task type's dealBeanName (RegisterDeal); for Kind Bean a
//     unit is a copy of the Task registered under taskName (RegisterTask),
//     whose Start runs until its context is cancelled. Each factory writes
//     its currentNum and the message of its last failed start into its own
//     registration.
//
// Changes take effect within one refresh: watches on the configuration, the
// factory's own node and stop flag, and the registrations trigger a round
// at once, and Config.RefreshInterval resyncs periodically. Only a
// strategy's leader needs every registration's data: a factory that does
// not lead a Schedule strategy watches the first registration leaving (it
// may lead after it) and its own changing (two ZooKeeper watches, whatever
// the number of factories) and
// reads their ids and its own; when that read says it leads, it watches and
// reads them all and distributes in the same round, and back when it no
// longer leads. Every factory of a Bean strategy watches and reads every
// registration: its account of the copies vanished factories may still run
// needs what each occupied. A paused strategy, one
// whose IPList no longer admits the factory, and a deleted one (even one
// deleted by force while units run) get their units stopped — managers hand
// their items over — and then the registration removed. A strategy whose
// kind, taskName or taskParameter changes, or whose task type changes in
// anything but its items (which running managers pick up themselves), has
// its units stopped and started again with the new configuration, each
// replacement after the unit it replaces has returned. A start that fails
// (a task type that does not exist or does not validate, a deal or task not
// registered in this process, a Bean task that returns or panics) is not
// counted and is retried with jittered exponential backoff (Config.RetryMin
// to RetryMax); the error is the registration's message and in Status. A
// manager that cannot start is never registered, so it never gets items.
//
// The loop wakes only for something due after the start of its last round
// (a retry, a probation's end, a lock delay's end, a refresh's backoff),
// whether that round succeeded or not; a session lost before the factory
// could register under it is replaced after the backoff, not at once. The decisions
// the loop makes (when to wake, when to retry a start, which units to stop
// and start) are pure functions of what it read and of "now".
//
// The operator's stop flag of a machine (ip, hostName) is a persistent node
// (Admin.StopFactory, StartFactory): a stopped factory stops all its units
// and leaves every strategy but keeps its factory node, across session
// expiries and restarts, until started again.
//
// After a session expiry the factory registers again under the new session
// with a new id, and under its strategies, asking for what it still runs:
// managers survive an expiry (they register again themselves, and their
// server records keep the factory id of their start as
// managerFactoryUUID), Bean copies do not.
//
// # Guarantees
//
//   - Bean strategies: at most assignNum copies run in the cluster at any
//     time, given Tasks that return when their context is cancelled. The
//     leader lowers requestNums at once but raises one only as far as the
//     copies that may still run elsewhere allow (each registration counts
//     max(currentNum, requestNum)); a factory reports a copy gone only after
//     its Start returned, and removes its registration only after all its
//     copies returned. A factory whose session is suspect starts no copy
//     until the session is connected again (the store reports that only
//     on an answer from the server on it; under a new session, none
//     before its first refresh); suspect for
//     Config.FenceAfter (default a third of the session timeout) it cancels
//     its copies, before the session can expire at the server and the
//     leader move them; one whose session expired has cancelled them. A session
//     closed early by someone else while its factory is cut off ends before
//     that fence, so the copies of a factory that vanished with its session
//     keep counting against assignNum for its lock delay (Config.LockDelay,
//     published in its registrations; by default a third of the session
//     timeout + FenceAfter + 100ms, see schedule.ManagerConfig.LockDelay),
//     as every registered factory remembers them (StrategyStatus.Held); a graceful
//     stop keeps the factory node until the leader has moved its copies,
//     so they are not held. With
//     assignNum 1 this is a cluster singleton that moves to another factory
//     within the session timeout plus the lock delay plus one round when
//     its process dies. Not covered: a factory that registers under the
//     strategy only after the holder vanished, and is then alone, does not
//     know of the vanished copy and starts it at once.
//   - Schedule strategies: the number of thread groups follows requestNum;
//     while a move is under way a strategy may briefly run one more thread
//     group than assignNum, which is harmless because items have a single
//     owner (package schedule).
//   - Run returns only after every manager has handed its items over and
//     every copy has returned, and after the factory's nodes are removed —
//     or after Config.ShutdownTimeout (or ForceStop) with
//     ErrShutdownTimeout naming what still runs. When the store refuses the
//     factory's first registration for lack of permission (wrong or
//     missing credentials), Run returns that error at once, wrapping
//     schedule.ErrPermission; a permission lost later is retried and shown
//     in Status.LastError.
//   - Nothing is distributed by a factory that cannot prove it leads: a
//     registration whose factory node is not listed never leads.
//
// # Non-guarantees
//
// A Task that ignores its context keeps running after it was cancelled; its
// copy may then overlap with the next one. Its factory keeps counting it
// (the copy does not move while the process lives), but after a session
// expiry or a process crash nothing can stop it: use the epoch-like
// fencing of your own data store for such work. A corrupt strategy node
// makes every refresh fail (the store lists strategies in one call) until it
// is fixed; running units are left as they are meanwhile, and the refresh
// is retried with backoff (Config.RetryMin to RetryMax), never at once.
//
// # Metrics
//
// WithMetrics gives the factory one Metrics receiver that reaches every
// layer it runs: the factory's own events (units wanted and running, failed
// starts, strategy leadership, the machine's stop flag), its managers'
// (schedule.Metrics) and, through schedule.Metrics.Processor, their
// processors'. The store is opened before the factory and takes its own
// receiver (zkstore.WithMetrics). Implementations embed NopMetrics; the
// default records nothing. Module tbsprom is a Prometheus implementation.
//
// # Events
//
// Every ownership change (a leader's grant or handover request, an owner's
// acquire or release), lock-delay hold (start and end), fence and unfence,
// permit window opening and closing, run-now request, failed start and
// failing record key (its first failure and its recovery, not each retry)
// is a schedule.Event. The factory keeps the last Config.EventHistory of
// them (default 1,000) in memory, numbered by Seq, and shows them in
// Status.Events and on the health handler's /events path; WithEvents hands
// them to a hook, in order, on a goroutine of Run's: the loops append to the
// ring and never wait for the hook (a hook that falls behind by more than
// the ring misses what it dropped: a gap in Seq). See docs/monitoring.
//
// # Run now
//
// Admin.RunNow (tbsctl run-now) records an operator's request in the task
// type (TaskType.RunNowAt, RunNowBy). Each manager sees it through the
// configuration watch it already has and, if its permit window is closed,
// opens it once, as "startrun:" does at start, until the window's end (no
// data left, or its end cron); a manager whose window is open does nothing
// new. Both are run-now events. A request is consumed once per manager and
// lapses at the window's next regular start; it restarts nothing.
//
// # Health
//
// Factory.Health is an http.Handler for Kubernetes-style probes, with a
// JSON body giving the reasons of a failure. /healthz (liveness) fails when
// Run is not running or its main loop has not woken for
// max(RefreshInterval, RetryMax) plus one minute (waiting for the store's
// session and a graceful stop are alive). /readyz (readiness) also fails
// while the factory is not registered, its session is not connected, the
// operator has stopped the machine, or a thread group's session is suspect
// or expired.
//
// # Thread safety
//
// Register deals and tasks before Run; Run may be called once. Status,
// Health (with /events) and ForceStop are safe for concurrent use at any time. An Admin is safe for
// concurrent use and may share its store with a Factory.
//
// # Example
//
//	store, err := zkstore.Open(ctx, zkstore.Config{Servers: servers, Root: "/orders-app"})
//	...
//	cfg := strategy.DefaultConfig()
//	f, err := strategy.NewFactory(store, cfg, strategy.WithLogger(log))
//	f.RegisterDeal("orderDeal", processor.Single[Order](orderDeal{db}))
//	f.RegisterTask("reportJob", strategy.TaskFunc(runReports))
//	ctx, release := f.StopOnSignal(context.Background()) // 1st signal: graceful stop; 2nd: ForceStop
//	defer release()
//	err = f.Run(ctx) // blocks; cancel = graceful stop
//
// and, once, from a deploy script or the CLI:
//
//	admin := strategy.NewAdmin(store, strategy.AdminConfig{})
//	admin.ApplyTaskType(ctx, tt)   // dealBeanName "orderDeal"
//	admin.ApplyStrategy(ctx, schedule.Strategy{StrategyName: "orders", Kind: schedule.KindSchedule,
//		TaskName: "orders", AssignNum: 6, NumOfSingleServer: 3, IPList: []string{"127.0.0.1"}, Sts: "resume"})
package strategy
