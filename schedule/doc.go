// Package schedule holds the domain of tbschedule-go: what its users write
// (task types, strategies, item definitions, names) and what they read
// (the records of servers, factories and items, a thread group's Status,
// its Events and Metrics, the errors).
//
// # Domain
//
// TaskType (TBSchedule's baseTaskType) and Strategy are the configuration,
// stored as JSON with TBSchedule's field names so that the Java console's
// documents decode unchanged; both Validate every field at once. Item
// definitions ("0", "1:{TYPE=A}") parse with ParseItemDefs; permit windows are
// Quartz-style crons (see Permit windows). Server, Factory, StrategyRuntime
// and Item are the runtime records.
//
// # Permit windows
//
// TaskType.PermitRunStartTime and PermitRunEndTime are crons in TBSchedule's
// Quartz dialect, with seconds:
//
//	second minute hour day-of-month month day-of-week [year]
//
// Each field is "*", a value, a range "a-b", a step "a/n", "*/n" or "a-b/n",
// or a comma-separated list of those. Ranges may wrap ("22-2", "FRI-MON"),
// as in Quartz. Months are 1-12 or JAN-DEC; days of week are Quartz's 1-7 =
// SUN-SAT (not Unix's 0-6) or SUN-SAT; names are case-insensitive. The year
// (1970-2199) is optional; when given it filters the other fields. "?" ("no
// specific value") is allowed in day-of-month, day-of-week and year; as in
// Quartz, one of day-of-month and day-of-week must be "?" when the other is
// set, but "*" is accepted in place of that "?" (so "0 0 2 * * MON" means
// Mondays). L, W, # and C are not supported. A start prefixed "startrun:"
// also opens the window at once; a blank start means always permitted; an
// end that is blank or "-1" means pause when SelectTasks returns nothing.
//
// Crons run on the wall clock of TaskType.TimeZone. Across daylight-saving
// changes no fire is lost: a wall time that does not exist (spring forward)
// fires when the clock jumps, shifted by the gap; one that happens twice
// (fall back) fires twice. A spec that does not parse is reported by
// TaskType.Validate, and by a thread group that starts on it as a
// *CronError naming the field at fault.
//
// # Where the rest lives
//
// Package strategy runs the thread groups (strategy.Factory) and
// administers the configuration (strategy.Admin); its results are made of
// this package's records. What only a client of the coordination service
// needs (the Store contract and its role interfaces, watch scopes, notes,
// versioned writes, the item-id order and the conformance suite) is in
// package schedule/storekit, for Store implementers: package zkstore
// implements it on ZooKeeper, package schedule/memstore in memory. The
// thread-group manager itself (TBSchedule's TBScheduleManager) is internal
// to the module; RELIABILITY.md states the guarantees it keeps.
//
// # Metrics
//
// Metrics receives the events of a thread group worth counting or
// graphing: items owned and newly granted (each grant a new epoch),
// leadership, the leader's balancing rounds (writes, lock-delay holds,
// unassigned items) and how long each hold lasted, releases and their
// wait, window and session changes and lost compare-and-sets; the manager
// asks Metrics.Processor once for the receiver of its processors' events.
// strategy.WithMetrics passes the factory's receiver to every thread
// group. Implementations embed NopMetrics.
//
// # Events
//
// Event is what a thread group tells an operator: the leader's grants,
// handover requests and lock-delay holds, the owner's acquires and
// releases (with the items' epochs), fences, window changes, run-now
// requests (TaskType.RunNowAt) and failing record keys. strategy.Factory
// keeps the recent ones in its Status and hands them to the function given
// to strategy.WithEvents.
package schedule
