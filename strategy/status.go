package strategy

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	iplan "github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Status is a snapshot of a factory: its registration, the operator's stop
// flag, and per strategy what this process is asked to run and runs.
type Status struct {
	// Factory is the factory's id under its current session ("" while not
	// registered, and after Run has returned).
	Factory      schedule.FactoryID
	IP, HostName string
	Session      schedule.SessionState
	// Stopped is the operator's durable stop flag of this machine, with who
	// set it, when and why.
	Stopped    bool
	StoppedBy  string
	StoppedAt  time.Time
	StopReason string
	// LastError is the error of the last refresh ("" if it succeeded); the
	// refresh is retried with backoff.
	LastError string
	// Strategies lists every strategy the factory knows of, sorted by name.
	Strategies []StrategyStatus
	// Events are the last events of the factory and its managers, oldest
	// first, at most Config.EventHistory (see WithEvents).
	Events []schedule.Event
}

// StrategyStatus is a factory's view of one strategy.
type StrategyStatus struct {
	Name     string
	Kind     schedule.StrategyKind
	TaskName string
	// Sts is the strategy's sts; Deleted is set while the units of a
	// deleted strategy are stopping.
	Sts     string
	Deleted bool
	// Admitted: the strategy's IPList admits this factory.
	Admitted bool
	// Registered: this factory is registered under the strategy.
	Registered bool
	// Leader: this factory distributes the strategy's thread groups.
	Leader bool
	// RequestNum is what the leader asks of this factory; CurrentNum what
	// it runs (units stopping included).
	RequestNum, CurrentNum int
	// Shortfall (leader only): thread groups of assignNum that cannot run
	// anywhere because numOfSingleServer caps every factory.
	Shortfall int
	// Held (Bean): copies that factories gone with their sessions may still
	// run, counted against assignNum until their lock delay has passed.
	Held int
	// Message is the runtime message written to the registration; LastError
	// the full last failed start (with a panic's stack), "" once recovered.
	Message   string
	LastError string
	// RetryAt is when a failed start is retried (zero if none is pending).
	RetryAt time.Time
	// Managers are the thread groups (Kind Schedule) with their items,
	// epochs and leader roles.
	Managers []schedule.Status
	// Copies are the Bean copies (Kind Bean).
	Copies []CopyStatus
}

// CopyStatus describes one running Bean copy.
type CopyStatus struct {
	// Copy numbers the copies this factory started for the strategy.
	Copy     int
	Started  time.Time
	Stopping bool
}

// statusSnapshot is what the main loop publishes for Status.
type statusSnapshot struct {
	ip, host   string
	factory    schedule.FactoryID
	sess       storekit.Session
	state      schedule.FactoryState
	lastErr    string
	strategies []strategySnapshot
}

type strategySnapshot struct {
	st   StrategyStatus
	mgrs []*manager.Manager
}

// publish copies the loop's state for Status.
func (l *loop) publish() {
	f := l.f
	snap := statusSnapshot{ip: f.cfg.IP, host: f.cfg.HostName, factory: l.me.UUID, sess: l.sess, state: l.state}
	if l.lastErr != nil {
		snap.lastErr = l.lastErr.Error()
	}
	for _, name := range sortedKeys(l.strats) {
		s := l.strats[name]
		st := StrategyStatus{
			Name: s.name, Kind: s.def.Kind, TaskName: s.def.TaskName, Sts: s.def.Sts, Deleted: !s.exists,
			Admitted:   iplan.Admits(s.def.IPList, f.cfg.IP, f.cfg.HostName),
			Registered: s.rt != nil, Leader: s.leader, CurrentNum: len(s.units), Shortfall: s.shortfall, Held: s.held(),
			Message: s.message(), RetryAt: s.retryAt,
		}
		if s.rt != nil {
			st.RequestNum = s.rt.RequestNum
		}
		if s.lastErr != nil {
			st.LastError = errorWithStack(s.lastErr)
		}
		var mgrs []*manager.Manager
		for _, u := range s.units {
			if u.mgr != nil {
				mgrs = append(mgrs, u.mgr)
			} else {
				st.Copies = append(st.Copies, CopyStatus{Copy: u.copyNo, Started: u.started, Stopping: u.stopping})
			}
		}
		snap.strategies = append(snap.strategies, strategySnapshot{st: st, mgrs: mgrs})
	}
	f.mu.Lock()
	f.status = snap
	f.mu.Unlock()
}

// Status returns a snapshot of the factory, as of its main loop's last
// round, with the managers' own live status.
func (f *Factory) Status() Status {
	f.mu.Lock()
	snap := f.status
	f.mu.Unlock()
	st := Status{
		Factory: snap.factory, IP: snap.ip, HostName: snap.host, Session: schedule.SessionClosed,
		Stopped: snap.state.Stopped, StoppedBy: snap.state.By, StoppedAt: snap.state.At.Time, StopReason: snap.state.Reason,
		LastError: snap.lastErr,
	}
	if snap.sess != nil {
		st.Session = snap.sess.State()
	}
	for _, s := range snap.strategies {
		ss := s.st
		ss.Copies = slices.Clone(ss.Copies)
		for _, m := range s.mgrs {
			ss.Managers = append(ss.Managers, m.Status())
		}
		st.Strategies = append(st.Strategies, ss)
	}
	st.Events = f.lastEvents(0)
	return st
}

// Strategy returns the status of the named strategy, and whether the
// factory knows of it.
func (s Status) Strategy(name string) (StrategyStatus, bool) {
	i := slices.IndexFunc(s.Strategies, func(x StrategyStatus) bool { return x.Name == name })
	if i < 0 {
		return StrategyStatus{}, false
	}
	return s.Strategies[i], true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}

// errorWithStack is err's message followed, for a recovered panic (a
// *schedule.PanicError), by the panicking goroutine's stack.
func errorWithStack(err error) string {
	msg := err.Error()
	if pe := (*schedule.PanicError)(nil); errors.As(err, &pe) {
		msg += "\n" + string(pe.Stack)
	}
	return msg
}
