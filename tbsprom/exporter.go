package tbsprom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// Exporter is the receiver of every layer's events (strategy.Metrics, and
// through it schedule.Metrics and processor.Metrics; its Store method is
// the store's zkstore.Metrics) and a prometheus.Collector of them. Register it with a registry and serve the
// registry with promhttp. It is safe for concurrent use.
type Exporter struct {
	strategy.NopMetrics // later methods of the receivers: recorded nowhere until implemented
	itemLabels          bool
	s                   storeVecs
	m                   managerVecs
	p                   processorVecs
	f                   factoryVecs
	owned, leaders      *perServer
	all                 []prometheus.Collector
}

// Option sets an optional behaviour of an Exporter.
type Option func(*Exporter)

// WithItemLabels adds the item id as a label of the release wait histogram
// (tbschedule_manager_item_release_wait_seconds). Off by default: item ids
// are unbounded in general; turn it on only when a task type has a small,
// fixed set of items.
func WithItemLabels() Option { return func(e *Exporter) { e.itemLabels = true } }

// New returns an Exporter with every metric at zero.
func New(opts ...Option) *Exporter {
	e := &Exporter{}
	for _, o := range opts {
		o(e)
	}
	e.s = newStoreVecs()
	e.m = newManagerVecs(e.itemLabels)
	e.p = newProcessorVecs()
	e.f = newFactoryVecs()
	e.owned, e.leaders = newPerServer(e.m.owned), newPerServer(e.m.leader)
	e.all = append(append(append(e.s.collectors(), e.m.collectors()...), e.p.collectors()...), e.f.collectors()...)
	return e
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range e.all {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	for _, c := range e.all {
		c.Collect(ch)
	}
}

var (
	_ strategy.Metrics = (*Exporter)(nil)
	_ zkstore.Metrics  = storeMetrics{}
)

// runtimeLabels are the task_type and own_sign labels of a runtime name.
func runtimeLabels(runtime string) (string, string) {
	base, ownSign, err := schedule.SplitRuntimeName(runtime)
	if err != nil {
		return runtime, ""
	}
	return base, ownSign
}

// boolGauge is 1 for true, 0 for false.
func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seconds is d in seconds, as Prometheus wants durations.
func seconds(d time.Duration) float64 { return d.Seconds() }

// Store returns the store's receiver, to pass to zkstore.WithMetrics.
func (e *Exporter) Store() zkstore.Metrics { return storeMetrics{v: &e.s} }

// storeMetrics records a store's events in the exporter's store metrics.
type storeMetrics struct {
	zkstore.NopMetrics
	v *storeVecs
}

func (s storeMetrics) Request(kind string, failed bool) {
	s.v.requests.WithLabelValues(kind).Inc()
	if failed {
		s.v.errors.WithLabelValues(kind).Inc()
	}
}

func (s storeMetrics) SessionState(st schedule.SessionState) {
	s.v.changes.WithLabelValues(st.String()).Inc()
	s.v.connected.Set(boolGauge(st == schedule.SessionConnected))
}

// ItemsOwned implements schedule.Metrics: the gauge is the sum over the
// runtime's servers in this process.
func (e *Exporter) ItemsOwned(runtime string, server schedule.ServerID, n int) {
	e.owned.set(runtime, server, n)
}

// ItemsGranted implements schedule.Metrics.
func (e *Exporter) ItemsGranted(runtime string, n int) {
	e.m.granted.WithLabelValues(runtimeLabels(runtime)).Add(float64(n))
}

// LeaderChanged implements schedule.Metrics: the gauge counts the
// runtime's servers in this process that lead (0 or 1 but for a moment of
// handover).
func (e *Exporter) LeaderChanged(runtime string, server schedule.ServerID, leader bool) {
	e.leaders.set(runtime, server, int(boolGauge(leader)))
}

// ItemReleased implements schedule.Metrics.
func (e *Exporter) ItemReleased(runtime string, item schedule.ItemID, wait time.Duration) {
	tt, own := runtimeLabels(runtime)
	e.m.releases.WithLabelValues(tt, own).Inc()
	if e.itemLabels {
		e.m.releaseWait.WithLabelValues(tt, own, string(item)).Observe(seconds(wait))
	} else {
		e.m.releaseWait.WithLabelValues(tt, own).Observe(seconds(wait))
	}
}

// SessionState implements schedule.Metrics: the manager's view of its
// session (the store's own is reported through Store).
func (e *Exporter) SessionState(runtime string, st schedule.SessionState) {
	tt, own := runtimeLabels(runtime)
	e.m.sessions.WithLabelValues(tt, own, st.String()).Inc()
}

// WindowChanged implements schedule.Metrics.
func (e *Exporter) WindowChanged(runtime string, open bool) {
	e.m.window.WithLabelValues(runtimeLabels(runtime)).Set(boolGauge(open))
}

// Conflict implements schedule.Metrics.
func (e *Exporter) Conflict(runtime string, op string) {
	tt, own := runtimeLabels(runtime)
	e.m.conflicts.WithLabelValues(tt, own, op).Inc()
}

// Balanced implements schedule.Metrics.
func (e *Exporter) Balanced(runtime string, writes, held, unassigned int) {
	tt, own := runtimeLabels(runtime)
	e.m.rounds.WithLabelValues(tt, own).Inc()
	e.m.writes.WithLabelValues(tt, own).Add(float64(writes))
	e.m.held.WithLabelValues(tt, own).Set(float64(held))
	e.m.unassigned.WithLabelValues(tt, own).Set(float64(unassigned))
}

// HoldEnded implements schedule.Metrics.
func (e *Exporter) HoldEnded(runtime string, d time.Duration) {
	e.m.holdTime.WithLabelValues(runtimeLabels(runtime)).Observe(seconds(d))
}

// Processor implements schedule.Metrics: the receiver of the runtime's
// processors, with its labels bound once.
func (e *Exporter) Processor(runtime string) processor.Metrics {
	return e.p.bind(runtimeLabels(runtime))
}

// StrategyLeader implements strategy.Metrics.
func (e *Exporter) StrategyLeader(name string, leader bool) {
	e.f.leader.WithLabelValues(name).Set(boolGauge(leader))
}

// Running implements strategy.Metrics.
func (e *Exporter) Running(name string, n int) { e.f.running.WithLabelValues(name).Set(float64(n)) }

// Wanted implements strategy.Metrics.
func (e *Exporter) Wanted(name string, n int) { e.f.wanted.WithLabelValues(name).Set(float64(n)) }

// StartFailed implements strategy.Metrics.
func (e *Exporter) StartFailed(name string) { e.f.startFailures.WithLabelValues(name).Inc() }

// MachineStopped implements strategy.Metrics.
func (e *Exporter) MachineStopped(stopped bool) { e.f.stopped.Set(boolGauge(stopped)) }
