package tbsprom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tbschedule/tbschedule-go/processor"
)

const namespace = "tbschedule"

// runtimeLabelNames label the metrics of managers and processors.
var runtimeLabelNames = []string{"task_type", "own_sign"}

// Buckets of the latency histograms, in seconds: from a millisecond (an
// empty fetch, a deal of one fast record) to a minute (a slow batch, a
// release waiting for a long deal).
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 4, 9) // 1ms .. 65.5s

func counterVec(sub, name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, labels)
}

func gaugeVec(sub, name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, labels)
}

func histogramVec(sub, name, help string, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help,
		Buckets: latencyBuckets}, labels)
}

func runtimeAnd(extra ...string) []string {
	return append(append([]string(nil), runtimeLabelNames...), extra...)
}

type storeVecs struct {
	requests, errors *prometheus.CounterVec
	changes          *prometheus.CounterVec
	connected        prometheus.Gauge
}

func newStoreVecs() storeVecs {
	return storeVecs{
		requests: counterVec("store", "requests_total", "Requests sent to ZooKeeper, by kind.", "kind"),
		errors: counterVec("store", "request_errors_total",
			"Requests to ZooKeeper that failed (connection loss, timeout; not expected answers such as no node), by kind.", "kind"),
		changes: counterVec("store", "session_state_changes_total",
			"Changes of the store's session state, by the state entered (connected, suspect, expired, closed).", "state"),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "store", Name: "session_connected",
			Help: "1 while the store's session is connected and answered recently, 0 while suspect, expired or closed."}),
	}
}

func (v storeVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.requests, v.errors, v.changes, v.connected}
}

type managerVecs struct {
	owned, leader, window, held, unassigned *prometheus.GaugeVec
	releases, sessions, conflicts           *prometheus.CounterVec
	rounds, writes, granted                 *prometheus.CounterVec
	releaseWait, holdTime                   *prometheus.HistogramVec
}

func newManagerVecs(itemLabels bool) managerVecs {
	waitLabels := runtimeAnd()
	if itemLabels {
		waitLabels = runtimeAnd("item")
	}
	rt := runtimeLabelNames
	return managerVecs{
		owned:      gaugeVec("manager", "items_owned", "Task items this process's thread groups own.", rt...),
		leader:     gaugeVec("manager", "leader", "1 while a thread group of this process leads the runtime.", rt...),
		window:     gaugeVec("manager", "window_open", "1 while the permit window is open.", rt...),
		held:       gaugeVec("manager", "items_held", "Items the leader holds back for the lock delay of vanished servers.", rt...),
		unassigned: gaugeVec("manager", "items_unassigned", "Items beyond the live servers' capacity, left unassigned by the leader.", rt...),
		releases:   counterVec("manager", "item_releases_total", "Items handed over at a batch boundary.", rt...),
		sessions: counterVec("manager", "session_state_changes_total",
			"Session state changes seen by the managers, by the state entered.", runtimeAnd("state")...),
		conflicts: counterVec("manager", "conflicts_total", "Lost compare-and-sets (concurrent changes, retried), by operation.",
			runtimeAnd("op")...),
		rounds: counterVec("manager", "rebalance_rounds_total", "Balancing rounds of the leader.", rt...),
		granted: counterVec("manager", "items_granted_total",
			"Items granted to this process's thread groups, each grant with a new, larger epoch.", rt...),
		writes: counterVec("manager", "item_assignments_total",
			"Item writes of the leader's balancing rounds (grants and handover requests).", rt...),
		releaseWait: histogramVec("manager", "item_release_wait_seconds",
			"How long a release waited for the item's in-flight records before the handover.", waitLabels...),
		holdTime: histogramVec("manager", "hold_duration_seconds",
			"How long the leader held a vanished server's items for its lock delay, from seeing it gone to the hold's end.", rt...),
	}
}

func (v managerVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.owned, v.leader, v.window, v.held, v.unassigned, v.releases, v.sessions,
		v.conflicts, v.rounds, v.writes, v.granted, v.releaseWait, v.holdTime}
}

type processorVecs struct {
	fetches, fetchErrors, fetched, duplicates *prometheus.CounterVec
	succeeded, failed, dropped, retried       *prometheus.CounterVec
	failingKeys                               *prometheus.GaugeVec
	fetchTime, dealTime                       *durationHistVec
}

func newProcessorVecs() processorVecs {
	rt := runtimeLabelNames
	return processorVecs{
		fetches:     counterVec("processor", "fetches_total", "SelectTasks calls.", rt...),
		fetchErrors: counterVec("processor", "fetch_errors_total", "SelectTasks calls that returned an error or panicked.", rt...),
		fetched:     counterVec("processor", "records_fetched_total", "Records SelectTasks returned.", rt...),
		duplicates: counterVec("processor", "duplicates_suppressed_total",
			"Fetched records not handed out because a record with the same key was queued or executing.", rt...),
		succeeded: counterVec("processor", "records_succeeded_total", "Records whose deal returned nil.", rt...),
		failed:    counterVec("processor", "records_failed_total", "Records whose deal returned an error or panicked.", rt...),
		dropped: counterVec("processor", "records_dropped_total",
			"Fetched records dropped unexecuted, by reason (fenced, stopped, lease lapsed).", runtimeAnd("reason")...),
		retried: counterVec("processor", "records_retried_total",
			"Failed records held back for a per-key backoff before they may run again.", rt...),
		failingKeys: gaugeVec("processor", "failing_keys",
			"Record keys remembered as failing (backing off) by the last processor that reported.", rt...),
		fetchTime: newDurationHistVec("processor", "fetch_duration_seconds", "Duration of SelectTasks calls.", latencyBuckets),
		dealTime: newDurationHistVec("processor", "deal_duration_seconds",
			"Duration of the execution of a group of records a goroutine took.", latencyBuckets),
	}
}

func (v processorVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.fetches, v.fetchErrors, v.fetched, v.duplicates, v.succeeded, v.failed,
		v.dropped, v.retried, v.failingKeys, v.fetchTime, v.dealTime}
}

// bind returns the receiver of one runtime's processors, its counters
// resolved once so that an event costs no label lookup.
func (v processorVecs) bind(taskType, ownSign string) processor.Metrics {
	return &processorMetrics{
		fetches: v.fetches.WithLabelValues(taskType, ownSign), fetchErrors: v.fetchErrors.WithLabelValues(taskType, ownSign),
		fetched: v.fetched.WithLabelValues(taskType, ownSign), duplicates: v.duplicates.WithLabelValues(taskType, ownSign),
		succeeded: v.succeeded.WithLabelValues(taskType, ownSign), failed: v.failed.WithLabelValues(taskType, ownSign),
		fetchTime: v.fetchTime.with(taskType, ownSign), dealTime: v.dealTime.with(taskType, ownSign),
		dropped: v.dropped.MustCurryWith(prometheus.Labels{"task_type": taskType, "own_sign": ownSign}),
		retried: v.retried.WithLabelValues(taskType, ownSign), failingKeys: v.failingKeys.WithLabelValues(taskType, ownSign),
	}
}

// processorMetrics is the processor.Metrics of one runtime.
type processorMetrics struct {
	processor.NopMetrics
	fetches, fetchErrors, fetched, duplicates, succeeded, failed prometheus.Counter
	fetchTime, dealTime                                          *durationHist
	dropped                                                      *prometheus.CounterVec
	retried                                                      prometheus.Counter
	failingKeys                                                  prometheus.Gauge
}

func (p *processorMetrics) Fetched(records, duplicates int, d time.Duration, err error) {
	p.fetches.Inc()
	if err != nil {
		p.fetchErrors.Inc()
	}
	p.fetched.Add(float64(records))
	if duplicates > 0 {
		p.duplicates.Add(float64(duplicates))
	}
	p.fetchTime.observe(d)
}

func (p *processorMetrics) Dealt(succeeded, failed int, d time.Duration) {
	if succeeded > 0 {
		p.succeeded.Add(float64(succeeded))
	}
	if failed > 0 {
		p.failed.Add(float64(failed))
	}
	p.dealTime.observe(d)
}

func (p *processorMetrics) Dropped(records int, reason processor.DropReason) {
	p.dropped.WithLabelValues(string(reason)).Add(float64(records))
}

func (p *processorMetrics) Retrying(records, keys int) {
	p.retried.Add(float64(records))
	p.failingKeys.Set(float64(keys))
}

type factoryVecs struct {
	leader, running, wanted *prometheus.GaugeVec
	startFailures           *prometheus.CounterVec
	stopped                 prometheus.Gauge
}

func newFactoryVecs() factoryVecs {
	return factoryVecs{
		leader:  gaugeVec("factory", "strategy_leader", "1 while this factory distributes the strategy's thread groups.", "strategy"),
		running: gaugeVec("factory", "units_running", "Thread groups (or Bean copies) of the strategy running in this process.", "strategy"),
		wanted: gaugeVec("factory", "units_wanted",
			"Thread groups (or Bean copies) of the strategy the cluster asks this process to run.", "strategy"),
		startFailures: counterVec("factory", "start_failures_total", "Failed starts of the strategy's units (retried).", "strategy"),
		stopped: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "factory", Name: "machine_stopped",
			Help: "1 while the operator's stop flag of this machine is set (every strategy left)."}),
	}
}

func (v factoryVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.leader, v.running, v.wanted, v.startFailures, v.stopped}
}
