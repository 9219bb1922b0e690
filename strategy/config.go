package strategy

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Defaults of Config, pinned by a test.
const (
	// DefaultRefreshInterval is the default Config.RefreshInterval.
	DefaultRefreshInterval = 10 * time.Second
	// DefaultShutdownTimeout is the default Config.ShutdownTimeout.
	DefaultShutdownTimeout = time.Minute
	// DefaultRetryMin is the default Config.RetryMin.
	DefaultRetryMin = time.Second
	// DefaultRetryMax is the default Config.RetryMax.
	DefaultRetryMax = 30 * time.Second
)

// Config holds the tunables of a Factory. A zero field means its default, so
// Config{} is the default configuration (DefaultConfig spells it out).
type Config struct {
	// IP is this process's address: part of its factory id, recorded in the
	// factory record and in every server record of its managers, matched
	// against the strategies' IPList, and (with HostName) the key of the
	// durable stop flag. Default (""): the first non-loopback IPv4 address
	// of the host, else 127.0.0.1. Processes sharing an address (containers on one
	// bridge, several processes on one host) must differ in HostName, or an
	// operator's stop of one stops them all.
	IP string
	// HostName is this process's host name, used like IP. Default (""):
	// os.Hostname().
	HostName string
	// RefreshInterval is how often the factory re-reads its state,
	// the strategies and its registrations even when no watch fired: a
	// safety net, since watches do the work (a change takes effect within
	// one round trip of its watch). Default (0): 10s. Must not be negative.
	// Too short: needless reads
	// (each round reads the factory state, the factory list, the strategies,
	// and per strategy it runs its registrations and task type); too long: a
	// change whose notification was lost takes effect late.
	RefreshInterval time.Duration
	// ShutdownTimeout bounds Run's graceful stop: the time for every manager
	// to hand its items over (each bounded by ManagerConfig.ShutdownTimeout
	// for its running deals) and every Bean copy to return. After it Run
	// returns ErrShutdownTimeout naming what is still running. Default (0):
	// 1m. Must not be negative.
	// Too short: a slow but healthy stop is reported as stuck and its
	// registrations left to vanish with the session; too long: a stuck Task
	// delays the process's exit by that much.
	ShutdownTimeout time.Duration
	// FenceAfter is how long Bean copies keep running once the session is
	// suspect (disconnected or silent) before their contexts are cancelled,
	// so that a copy stops before the session can expire at the server and
	// the copy be started elsewhere. Default (0): a third of the session
	// timeout; it is capped at half the session timeout. Must not be
	// negative. Managers have their own (ManagerConfig.FenceAfter).
	FenceAfter time.Duration
	// LockDelay is how long a strategy's leader counts the Bean copies of
	// this factory as still running after the factory vanished with its
	// session, before it lets another factory start them; published in the
	// registrations (StrategyRuntime.TakeoverDelay). Zero means the safe
	// default, as for managers (schedule.ManagerConfig.LockDelay: a third of
	// the session timeout + FenceAfter + 100ms); negative means none (a
	// crashed holder's copy moves right after the session timeout, but a
	// session closed early by someone else while the factory is cut off can
	// then run a copy twice for a moment). Managers have their own
	// (ManagerConfig.LockDelay).
	LockDelay time.Duration
	// RetryMin and RetryMax bound the jittered exponential backoff after a
	// failed start (a task type that does not exist or does not validate, a
	// deal or task not registered, a Bean task that returned or panicked) and
	// after a failed refresh. Defaults (0): 1s and 30s (or RetryMin if that
	// is larger). Must not be negative. Too short: a persistent
	// fault floods the log and the store; too long: recovery after the fault
	// is fixed is late by up to RetryMax.
	RetryMin, RetryMax time.Duration
	// ManagerConfig holds the tunables of every manager (thread group) the
	// factory starts, with the zero fields meaning the managers' defaults
	// (see schedule.ManagerConfig). Its IP, HostName and FactoryID are
	// ignored: the factory sets them to its own.
	ManagerConfig schedule.ManagerConfig
	// EventHistory is how many of the last events (schedule.Event) the
	// factory keeps in memory for Status.Events and the health JSON, and as
	// the lead a slow WithEvents hook may fall behind. Default (0): 1,000.
	// Must not be negative.
	// An event is a few hundred bytes; too small and an operator looking
	// at a busy process finds only the last seconds.
	EventHistory int
}

// DefaultConfig returns the defaults documented on Config: the
// configuration Config{} means, spelled out (ManagerConfig stays zero: the
// thread groups' defaults, schedule.DefaultManagerConfig, applied when each
// starts).
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults returns c with every zero field set to its default: the one
// place they are applied (NewFactory and Validate use it). It is
// idempotent. FenceAfter and LockDelay keep their zero, whose default
// depends on the session.
func (c Config) withDefaults() Config {
	if c.IP == "" || c.HostName == "" {
		mc := schedule.DefaultManagerConfig()
		if c.IP == "" {
			c.IP = mc.IP
		}
		if c.HostName == "" {
			c.HostName = mc.HostName
		}
	}
	c.RefreshInterval = cmp.Or(c.RefreshInterval, DefaultRefreshInterval)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	c.RetryMin = cmp.Or(c.RetryMin, DefaultRetryMin)
	c.RetryMax = cmp.Or(c.RetryMax, max(DefaultRetryMax, c.RetryMin))
	c.EventHistory = cmp.Or(c.EventHistory, defaultEventHistory)
	return c
}

// Validate reports every problem of the configuration at once (zero fields
// take their defaults first; joined with errors.Join); each wraps
// schedule.ErrInvalid and names the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: strategy.Config."+format, append([]any{schedule.ErrInvalid}, args...)...))
	}
	if err := schedule.ValidateName(schedule.NameHost, c.IP); err != nil {
		errs = append(errs, fmt.Errorf("strategy.Config.IP: %w", err))
	}
	if c.HostName == "" {
		bad("HostName must not be empty (os.Hostname gave none)")
	} else if err := schedule.ValidateName(schedule.NameHost, c.HostName); err != nil {
		errs = append(errs, fmt.Errorf("strategy.Config.HostName: %w", err))
	}
	if c.RefreshInterval < 0 {
		bad("RefreshInterval (%v) must not be negative", c.RefreshInterval)
	}
	if c.ShutdownTimeout < 0 {
		bad("ShutdownTimeout (%v) must not be negative", c.ShutdownTimeout)
	}
	if c.FenceAfter < 0 {
		bad("FenceAfter (%v) must not be negative", c.FenceAfter)
	}
	if c.EventHistory < 0 {
		bad("EventHistory (%d) must not be negative", c.EventHistory)
	}
	if c.RetryMin < 0 {
		bad("RetryMin (%v) must not be negative", c.RetryMin)
	}
	if c.RetryMin >= 0 && c.RetryMax < c.RetryMin {
		bad("RetryMax (%v) must be at least RetryMin (%v)", c.RetryMax, c.RetryMin)
	}
	// IP, HostName and FactoryID are the factory's: checked above.
	mc := c.ManagerConfig
	mc.IP, mc.HostName, mc.FactoryID = "127.0.0.1", "", ""
	if err := mc.Validate(); err != nil {
		list := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		}
		for _, e := range list {
			errs = append(errs, fmt.Errorf("strategy.Config.ManagerConfig: %w", e))
		}
	}
	return errors.Join(errs...)
}

// Option sets a collaborator of a Factory.
type Option func(*options)

type options struct {
	log     *slog.Logger
	clock   schedule.Clock
	metrics Metrics
	events  func(schedule.Event)
}

// WithLogger sets the logger of the factory and of its managers (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithClock sets the local clock of the factory and its managers (default
// schedule.SystemClock()); tests pass a fake.
func WithClock(c schedule.Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithMetrics sets the metrics sink of the factory and its managers
// (default: none).
func WithMetrics(m Metrics) Option {
	return func(o *options) {
		if m != nil {
			o.metrics = m
		}
	}
}

// Metrics receives the events of a Factory worth counting or graphing, and
// (through the embedded schedule.Metrics) those of its managers and their
// processors: one receiver given to WithMetrics reaches every layer (pass
// it to the store too, e.g. zkstore.WithMetrics, which is opened before the
// factory). All methods must be cheap and safe for concurrent use.
//
// Implementations must embed NopMetrics: methods may be added to this
// interface in later versions, and the embedded no-op implements them until
// the implementation catches up.
type Metrics interface {
	schedule.Metrics
	// StrategyLeader reports whether this factory distributes the strategy's
	// thread groups now.
	StrategyLeader(strategy string, leader bool)
	// Running reports how many thread groups (or Bean copies) of the
	// strategy run in this process now.
	Running(strategy string, n int)
	// StartFailed counts a failed start (retried with backoff).
	StartFailed(strategy string)
	// Wanted reports how many thread groups (or Bean copies) of the strategy
	// the cluster asks this factory to run now (its requestNum).
	Wanted(strategy string, n int)
	// MachineStopped reports the operator's stop flag of this machine
	// (tbsctl machine stop/start): true while every strategy is left.
	MachineStopped(stopped bool)
}

// NopMetrics is a Metrics that records nothing.
type NopMetrics struct{ schedule.NopMetrics }

// StrategyLeader implements Metrics; it does nothing.
func (NopMetrics) StrategyLeader(string, bool) {}

// Running implements Metrics; it does nothing.
func (NopMetrics) Running(string, int) {}

// StartFailed implements Metrics; it does nothing.
func (NopMetrics) StartFailed(string) {}

// Wanted implements Metrics; it does nothing.
func (NopMetrics) Wanted(string, int) {}

// MachineStopped implements Metrics; it does nothing.
func (NopMetrics) MachineStopped(bool) {}
