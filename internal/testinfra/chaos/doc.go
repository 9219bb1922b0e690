// Package chaos is the proof under faults: it runs worker processes
// (cmd internal/testinfra/chaos/worker, a strategy.Factory on zkstore) on a real
// 3-node ZooKeeper ensemble (internal/testinfra/zktest), injects randomized faults from
// a printed seed, and checks the merged execution logs.
//
// # Workers and records
//
// Each worker runs the Schedule strategy "chaos-s" of task type "chaos",
// whose deal processes the records of a shared test database (DB, a
// directory of flock-guarded item files): record n of every item appears at
// its birth (the start, or when it was added) + n*period on CLOCK_MONOTONIC,
// so which records must be processed by when is known. SelectTasks claims an item under its epoch and returns
// records not yet done; Execute takes 5-45 ms (one record in twenty
// 200-900 ms, so that deals span faults), honours ctx, and commits under the
// epoch: a commit or claim under an epoch older than the item's is refused,
// as a fencing token would be at a real database. Every execution is logged
// (Log) as a begin and an end line with CLOCK_MONOTONIC times, shared by all
// processes of the host.
//
// # Faults
//
// kill -9 of a worker (restarted), SIGSTOP for longer than the session
// timeout, a blackholed connection (fault proxy) shorter or longer than the
// session timeout, session expiry, graceful restart, restart with the wall
// clock skewed by 1-10 minutes (WorkerConfig.Skew), kill / stop / pause of a
// ZooKeeper member or of the ensemble leader, items and servers added and
// removed. One fault at a time per worker and on the ensemble, and at least
// one worker out of faults.
//
// # Checks
//
// Check reads the logs: (a) no record executed by two executions at
// overlapping times; (b) every record available when the faults stopped is
// committed; (c) no execution starts under an epoch older than one already
// started on its item, nor runs on after it started; (d) every item is owned
// by a live server within the session timeout + 8 s of the end of the
// faults; (e) no goroutine left in a worker after a graceful stop, no stale
// server, factory, strategy runtime or systime node; (f) no execution
// starts outside the permit window (cluster time). A frozen (SIGSTOPped)
// process cannot fence itself: an execution of one that runs past a newer
// owner's start only until just after its SIGCONT is counted apart, not as
// a violation, if it commits nothing (its epoch is refused) or commits
// before the newer owner's claim of the item is granted (C lines).
//
// TestChaos is the short run of the test command (about 70 s of faults);
// scripts/chaos -duration 30m is the soak; TestChaosBrokenBuild
// (TBS_CHAOS_BROKEN=1, scripts/chaos -broken) switches self-fencing off and
// must fail the checker. RELIABILITY.md has the results.
package chaos
