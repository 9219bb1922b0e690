package manager

import (
	"log/slog"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// WithEvents sets the function that receives the manager's events (default
// none: nothing is built). It is called synchronously on the manager's
// goroutines, sometimes concurrently, and must be fast and never block: a
// slow fn stalls the manager's loop. strategy.Factory passes one that
// appends to its ring and delivers to the user's hook on a goroutine of its
// own.
func WithEvents(fn func(schedule.Event)) ManagerOption {
	return func(o *managerOptions) { o.events = fn }
}

// emit completes e (time, runtime) and delivers it; a nil hook costs
// nothing but the call.
func (m *Manager) emit(e schedule.Event) {
	if m.events == nil {
		return
	}
	e.Time = m.clock.Now()
	e.Runtime, e.TaskType, e.OwnSign = m.runtime, m.tt.BaseTaskType, m.ownSign
	m.events(e)
}

// ManagerOption sets a collaborator of a Manager.
type ManagerOption func(*managerOptions)

type managerOptions struct {
	log     *slog.Logger
	clock   schedule.Clock
	metrics schedule.Metrics
	events  func(schedule.Event)
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) ManagerOption {
	return func(o *managerOptions) {
		if l != nil {
			o.log = l
		}
	}
}

// WithClock sets the local clock (default SystemClock()); tests pass a fake.
func WithClock(c schedule.Clock) ManagerOption {
	return func(o *managerOptions) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithMetrics sets the metrics sink (default: none).
func WithMetrics(m schedule.Metrics) ManagerOption {
	return func(o *managerOptions) {
		if m != nil {
			o.metrics = m
		}
	}
}
