package schedule

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
)

// ManagerConfig holds the tunables of a Manager. The task type's own settings
// (heartbeat, threads, windows...) come from the TaskType; these are the
// process-side ones. Start from DefaultManagerConfig.
type ManagerConfig struct {
	// IP is the address recorded in the server record and node name.
	// Default: the first non-loopback IPv4 address, else 127.0.0.1.
	// Containers sharing an address should set it, or HostName, explicitly.
	IP string
	// HostName is recorded in the server record. Default: os.Hostname().
	HostName string
	// FactoryID is the manager factory this server belongs to (recorded as
	// managerFactoryUUID). Empty when the manager runs on its own.
	FactoryID FactoryID
	// ShutdownTimeout bounds how long a graceful stop waits for running deals
	// before cancelling their contexts. Default 30s. Too short: deals are
	// cancelled mid-record on every stop; too long: a stuck deal delays the
	// handover of every item of this server by that much.
	ShutdownTimeout time.Duration
	// CancelGrace is how long a stop waits, after cancelling the contexts of
	// deals still running at ShutdownTimeout, before it reports them as
	// stuck. Default 1s. The items of a stuck deal are not handed over until
	// it returns, whatever this says.
	CancelGrace time.Duration
	// FenceAfter is how long the manager keeps running deals after its session
	// became suspect (disconnected or silent) before it cancels their contexts.
	// Fetching stops at once. Default: a third of the session timeout, which
	// with the store's own suspicion delay (about a third) cancels deals well
	// before the server can expire the session and grant the items elsewhere.
	// Zero means the default; it is capped at half the session timeout.
	FenceAfter time.Duration
	// ResyncInterval is how often the manager re-reads servers and items even
	// when no watch fired (a safety net; watches do the work). Items are read
	// again in full only when the store's items stamp moved (see
	// ItemStore.ItemsStamp); otherwise a resync costs a few requests whatever
	// the number of items. Default: the task type's judgeDeadInterval.
	ResyncInterval time.Duration
	// WriteParallelism bounds concurrent item writes of a leader's rebalance.
	// Default 32.
	WriteParallelism int
}

// takeoverMargin is added to the takeover delay for the return of cancelled
// deals and the skew between two processes' timers.
const takeoverMargin = 100 * time.Millisecond

// FenceTimes returns, for a session of the given timeout and a configured
// FenceAfter (0 means the default), the two delays of self-fencing:
//
//   - fence: how long running work may go on once the session is suspect
//     (the FenceAfter default, a third of the timeout, capped at half of it);
//   - takeover: the longest work may go on after the last request the
//     server answered was sent — the store reports a silent session Suspect
//     within a third of the timeout (SessionSuspect), the fence comes fence
//     later, plus a margin of 100ms for cancelled work to return.
//
// takeover is the lock delay: a leader grants the items (or counts the Bean
// copies) of a server or factory whose node vanished only that long after it
// saw it vanish, because a session closed early by someone else (not expired
// by silence) can end while its client is cut off and still working. Servers
// publish it (Server.TakeoverDelay, StrategyRuntime.TakeoverDelay), and a
// crash is taken over after the session timeout plus this delay.
func FenceTimes(sessionTimeout, fenceAfter time.Duration) (fence, takeover time.Duration) {
	fence = fenceAfter
	if fence == 0 {
		fence = sessionTimeout / 3
	}
	if limit := sessionTimeout / 2; limit > 0 && fence > limit {
		fence = limit
	}
	return fence, sessionTimeout/3 + fence + takeoverMargin
}

// DefaultManagerConfig returns the defaults documented on ManagerConfig.
func DefaultManagerConfig() ManagerConfig {
	host, _ := os.Hostname()
	return ManagerConfig{
		IP:               localIP(),
		HostName:         host,
		ShutdownTimeout:  30 * time.Second,
		CancelGrace:      time.Second,
		WriteParallelism: 32,
	}
}

// Validate reports every problem of the configuration at once.
func (c ManagerConfig) Validate() error {
	var errs []error
	if c.IP == "" {
		errs = append(errs, fmt.Errorf("%w: ManagerConfig.IP must not be empty", ErrInvalid))
	} else if err := ValidateName(NameHost, c.IP); err != nil {
		errs = append(errs, fmt.Errorf("ManagerConfig.IP: %w", err))
	}
	if c.HostName != "" {
		if err := ValidateName(NameHost, c.HostName); err != nil {
			errs = append(errs, fmt.Errorf("ManagerConfig.HostName: %w", err))
		}
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: ManagerConfig.ShutdownTimeout (%v) must not be negative", ErrInvalid, c.ShutdownTimeout))
	}
	if c.CancelGrace < 0 {
		errs = append(errs, fmt.Errorf("%w: ManagerConfig.CancelGrace (%v) must not be negative", ErrInvalid, c.CancelGrace))
	}
	if c.FenceAfter < 0 {
		errs = append(errs, fmt.Errorf("%w: ManagerConfig.FenceAfter (%v) must not be negative", ErrInvalid, c.FenceAfter))
	}
	if c.ResyncInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: ManagerConfig.ResyncInterval (%v) must not be negative", ErrInvalid, c.ResyncInterval))
	}
	if c.WriteParallelism < 0 {
		errs = append(errs, fmt.Errorf("%w: ManagerConfig.WriteParallelism (%d) must not be negative", ErrInvalid, c.WriteParallelism))
	}
	return errors.Join(errs...)
}

// ManagerOption sets a collaborator of a Manager.
type ManagerOption func(*managerOptions)

type managerOptions struct {
	cfg     ManagerConfig
	log     *slog.Logger
	clock   Clock
	metrics Metrics
}

// WithManagerConfig sets the process-side tunables.
func WithManagerConfig(c ManagerConfig) ManagerOption {
	return func(o *managerOptions) { o.cfg = c }
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
func WithClock(c Clock) ManagerOption {
	return func(o *managerOptions) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithMetrics sets the metrics sink (default: none).
func WithMetrics(m Metrics) ManagerOption {
	return func(o *managerOptions) {
		if m != nil {
			o.metrics = m
		}
	}
}

// localIP returns the first non-loopback IPv4 address of this host, or
// 127.0.0.1 when there is none.
func localIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
