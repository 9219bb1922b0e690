package strategy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Task is a Bean task: Go code that a Bean strategy runs as assignNum copies
// across the cluster (TBSchedule's IStrategyTask). With assignNum 1 it is a
// cluster singleton.
//
// Start runs one copy: it must block until ctx is cancelled and then return
// promptly. ctx is cancelled when the copy is stopped (its factory's
// requestNum went down, the strategy was paused, edited or deleted, the
// machine was stopped, the process shuts down) and when the factory's
// session is suspect for longer than Config.FenceAfter or lost: the copy
// may then be started elsewhere. strategyName and taskParameter come from
// the strategy. If Start returns before ctx is cancelled (with an error or
// nil) or panics, the copy is started again after a backoff and the error
// is shown in the strategy runtime's message and in Status.
type Task interface {
	Start(ctx context.Context, strategyName, taskParameter string) error
}

// TaskFunc adapts a function to Task.
type TaskFunc func(ctx context.Context, strategyName, taskParameter string) error

// Start calls f.
func (f TaskFunc) Start(ctx context.Context, strategyName, taskParameter string) error {
	return f(ctx, strategyName, taskParameter)
}

// Factory is the manager factory of one process (TBSchedule's
// TBScheduleManagerFactory): it registers the process, follows the
// strategies, takes part in distributing their thread groups, and runs the
// managers and Bean copies this process is asked to run. See the package
// documentation.
//
// Register deals and tasks, then call Run once. Status and ForceStop are
// safe to call at any time from any goroutine.
type Factory struct {
	store       storekit.Store
	cfg         Config
	log         *slog.Logger
	clock       schedule.Clock
	metrics     Metrics
	hook        func(schedule.Event) // WithEvents; nil: none
	history     *history             // the last events
	processUUID string

	running atomic.Bool
	// loopAt (unix nanoseconds, of clock) and loopPhase are the main
	// loop's last wake and its phase, for Health.
	loopAt    atomic.Int64
	loopPhase atomic.Int32
	wg        sync.WaitGroup // helper goroutines (guards, watch forwarders, the stop's ForceStop relay)
	units     sync.WaitGroup // unit goroutines (managers, Bean copies); see goUnit
	unitExit  func()         // tests: runs last on a unit's goroutine; nil: none
	wake      chan struct{}  // coalescing: the main loop should look again
	force     chan struct{}  // closed by ForceStop
	forceMu   sync.Once

	mu     sync.Mutex // guards deals, tasks, status
	deals  map[string]processor.Deal
	tasks  map[string]Task
	status statusSnapshot
}

// NewFactory validates cfg (zero fields take their defaults: Config{} is the
// default) and returns a factory working on store. The
// store must be used by this factory alone (it owns the store's session's
// registrations); close it after Run has returned.
func NewFactory(store storekit.Store, cfg Config, opts ...Option) (*Factory, error) {
	o := options{log: slog.Default(), clock: schedule.SystemClock(), metrics: NopMetrics{}}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	var errs []error
	if store == nil {
		errs = append(errs, fmt.Errorf("%w: store must not be nil", schedule.ErrInvalid))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	f := &Factory{
		store: store, cfg: cfg, clock: o.clock, metrics: o.metrics, hook: o.events,
		history:     newHistory(cfg.EventHistory),
		processUUID: strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")),
		wake:        make(chan struct{}, 1),
		force:       make(chan struct{}),
		deals:       map[string]processor.Deal{},
		tasks:       map[string]Task{},
	}
	f.log = o.log.With("factoryIP", cfg.IP, "factoryHost", cfg.HostName)
	f.status.ip, f.status.host = cfg.IP, cfg.HostName
	return f, nil
}

// RegisterDeal registers the deal that processes the task types whose
// dealBeanName is name. It must be called before Run; a name registered
// twice, an invalid name or a nil deal is an error.
func (f *Factory) RegisterDeal(name string, d processor.Deal) error {
	return register(f, f.deals, "deal", "RegisterDeal", name, d, d == nil)
}

// RegisterTask registers the task that Bean strategies whose taskName is
// name run. It must be called before Run; a name registered twice, an
// invalid name or a nil task is an error.
func (f *Factory) RegisterTask(name string, t Task) error {
	return register(f, f.tasks, "task", "RegisterTask", name, t, t == nil)
}

// register adds v under name to m (the factory's deals or tasks).
func register[T any](f *Factory, m map[string]T, what, fn, name string, v T, isNil bool) error {
	if err := schedule.ValidateName(schedule.NameBean, name); err != nil {
		return err
	}
	if isNil {
		return fmt.Errorf("%w: %s %q must not be nil", schedule.ErrInvalid, what, name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running.Load() {
		return fmt.Errorf("%w: %s(%q) after Run", schedule.ErrRunning, fn, name)
	}
	if _, dup := m[name]; dup {
		return fmt.Errorf("%w: %w: %s %q", schedule.ErrInvalid, ErrDuplicate, what, name)
	}
	m[name] = v
	return nil
}

func (f *Factory) deal(name string) processor.Deal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deals[name]
}

func (f *Factory) task(name string) Task {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tasks[name]
}

// goFunc starts a helper goroutine tied to the factory's WaitGroup.
func (f *Factory) goFunc(fn func()) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
}

// goUnit starts a unit's goroutine tied to the units WaitGroup, which Run
// waits for unless a unit is stuck (ErrShutdownTimeout).
func (f *Factory) goUnit(fn func()) {
	f.units.Add(1)
	go func() {
		defer f.units.Done()
		fn()
		if f.unitExit != nil {
			f.unitExit()
		}
	}()
}

func (f *Factory) poke() { signal(f.wake) }

// ForceStop makes a graceful stop under way (or the next one) stop waiting:
// Run returns at once with ErrShutdownTimeout naming what still runs, as
// when Config.ShutdownTimeout elapses. Call it on a second signal. Managers
// and copies that have not returned yet keep their goroutines until they do.
func (f *Factory) ForceStop() {
	f.forceMu.Do(func() { close(f.force) })
}

// Run registers the factory and runs until ctx is cancelled, then stops
// gracefully: every manager hands its items over, every Bean copy's
// context is cancelled and waited for, the strategy registrations and the
// factory node are removed, and Run returns nil once every goroutine it
// started has exited. If that takes longer than Config.ShutdownTimeout (or
// ForceStop is called), Run returns ErrShutdownTimeout naming what still
// runs; the registrations of strategies with stuck units are then left to
// vanish with the session (close the store), so a stuck Bean copy is not
// started elsewhere while this process lives.
//
// Run may be called once. It returns early only with schedule.ErrClosed
// (the store was closed), and with an error wrapping
// schedule.ErrPermission when the store refuses the factory's first
// registration (wrong or missing credentials: retrying cannot help). A
// permission lost after that is retried and shown in Status.LastError.
func (f *Factory) Run(ctx context.Context) error {
	f.mu.Lock()
	already := f.running.Swap(true)
	f.mu.Unlock()
	if already {
		return fmt.Errorf("%w: factory: Run called twice", schedule.ErrRunning)
	}
	ctx, refuse := context.WithCancelCause(ctx)
	defer refuse(nil)
	f.store = &refusalWatch{Store: f.store, refuse: refuse}
	l := newLoop(f)
	stopDelivery := f.startDelivery()
	defer l.closeWatches()
	defer f.beat(phaseStopped)
	err := l.run(ctx)
	if cause := context.Cause(ctx); errors.Is(cause, errRefused) {
		err = cause
	}
	f.beat(phaseStopping)
	serr := l.shutdown()
	l.closeWatches()
	stopDelivery()
	f.wg.Wait()
	if !errors.Is(serr, ErrShutdownTimeout) {
		f.units.Wait() // every unit has returned: only its last steps remain
	}
	f.log.Info("factory stopped")
	return errors.Join(err, serr)
}

// errRefused marks the store's refusal of the first registration.
var errRefused = errors.New("strategy: the store refuses to register the factory")

// refusalWatch ends Run (through refuse) when the store refuses the
// factory's first registration for lack of permission. Every other call
// goes to the store as it is.
type refusalWatch struct {
	storekit.Store
	refuse     context.CancelCauseFunc
	registered atomic.Bool
}

func (w *refusalWatch) RegisterFactory(ctx context.Context, sess storekit.Session, rec schedule.Factory) (schedule.Factory, error) {
	got, err := w.Store.RegisterFactory(ctx, sess, rec)
	switch {
	case err == nil:
		w.registered.Store(true)
	case errors.Is(err, schedule.ErrPermission) && !w.registered.Load():
		w.refuse(fmt.Errorf("%w: %w", errRefused, err))
	}
	return got, err
}
