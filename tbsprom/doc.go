// Package tbsprom exports the metrics of tbschedule-go to Prometheus.
//
// One Exporter receives the events of every layer: pass it to the factory
// with strategy.WithMetrics (it reaches the managers and their processors)
// and its Store method to the store with zkstore.WithMetrics; register it
// with a prometheus.Registerer and serve the registry:
//
//	exp := tbsprom.New()
//	store, err := zkstore.Open(ctx, cfg, zkstore.WithMetrics(exp.Store()))
//	...
//	f, err := strategy.NewFactory(store, fcfg, strategy.WithMetrics(exp))
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(exp)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics are named tbschedule_<layer>_<what> with their unit in the
// name (_seconds) and _total on counters:
//
//   - store: requests_total{kind}, request_errors_total{kind},
//     session_state_changes_total{state}, session_connected.
//   - manager{task_type, own_sign}: items_owned, items_granted_total,
//     leader, window_open,
//     items_held, items_unassigned, item_releases_total,
//     item_release_wait_seconds, hold_duration_seconds,
//     session_state_changes_total{state},
//     conflicts_total{op}, rebalance_rounds_total, item_assignments_total.
//   - processor{task_type, own_sign}: fetches_total, fetch_errors_total,
//     fetch_duration_seconds, records_fetched_total,
//     duplicates_suppressed_total, records_succeeded_total,
//     records_failed_total, records_dropped_total{reason},
//     records_retried_total (failed records backing off), failing_keys,
//     deal_duration_seconds.
//   - factory{strategy}: units_wanted, units_running, strategy_leader,
//     start_failures_total; machine_stopped (no label).
//
// Labels are bounded: task type, ownSign, strategy and small fixed sets
// (request kind, session state, drop reason, conflict operation). Record
// keys never appear; item ids only with WithItemLabels. Gauges of a runtime
// keep their last value after its manager stopped.
//
// The module is separate from the library's, so that embedders who do not
// use Prometheus do not carry client_golang. An Exporter is safe for
// concurrent use; it holds no package-level state, so a process may run
// several, each with its own registry.
package tbsprom
