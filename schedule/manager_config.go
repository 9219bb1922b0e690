package schedule

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	fencing "github.com/tbschedule/tbschedule-go/internal/fence"
)

// ManagerConfig holds the tunables of a Manager. The task type's own settings
// (heartbeat, threads, windows...) come from the TaskType; these are the
// process-side ones. A zero field means its default, so ManagerConfig{} is
// the default configuration (DefaultManagerConfig spells it out); where
// "none" is a value of its own, a negative duration says it.
type ManagerConfig struct {
	// IP is the address recorded in the server record and node name.
	// Default (""): the first non-loopback IPv4 address, else 127.0.0.1.
	// Containers sharing an address should set it, or HostName, explicitly.
	IP string
	// HostName is recorded in the server record. Default (""):
	// os.Hostname().
	HostName string
	// FactoryID is the manager factory this server belongs to (recorded as
	// managerFactoryUUID). Empty when the manager runs on its own.
	FactoryID FactoryID
	// ShutdownTimeout bounds how long a graceful stop waits for running deals
	// before cancelling their contexts. Default (0): 30s. Negative: cancel
	// them at once. Too short: deals are cancelled mid-record on every stop;
	// too long: a stuck deal delays the handover of every item of this
	// server by that much.
	ShutdownTimeout time.Duration
	// CancelGrace is how long a stop waits, after cancelling the contexts of
	// deals still running at ShutdownTimeout, before it reports them as
	// stuck. Default (0): 1s. Negative: no wait. The items of a stuck deal
	// are not handed over until it returns, whatever this says.
	CancelGrace time.Duration
	// StopTimeout bounds each later step of a graceful stop: the wait for
	// deals still running after ShutdownTimeout and CancelGrace (their
	// contexts are cancelled), the removal of the server node, and the
	// release of the items. Default (0): 10s. Must not be negative. When a
	// step runs out, Run returns ErrStopIncomplete naming what was left: a
	// deal that still runs keeps the server and its items as they are (they
	// move once the session ends — close the store or exit); a node or an
	// item that could not be written (a partition) vanishes with the session
	// and is taken over after the session timeout plus the lock delay. Too
	// short: a slow coordination service turns ordinary stops into such
	// takeovers; too long: a partitioned process takes that long to exit.
	StopTimeout time.Duration
	// FenceAfter is how long the manager keeps running deals after its session
	// became suspect (disconnected or silent) before it cancels their contexts.
	// Fetching stops at once. Default: a third of the session timeout, which
	// with the store's own suspicion delay (about a third) cancels deals well
	// before the server can expire the session and grant the items elsewhere.
	// Zero means the default; it is capped at half the session timeout. Must
	// not be negative.
	FenceAfter time.Duration
	// LockDelay is how long a leader waits, once this server's node has
	// vanished while it still owned items, before it grants them elsewhere.
	// The server publishes it in its record (Server.TakeoverDelay); leaders
	// honour the published value. Zero means the safe default, the takeover
	// delay (a third of the session timeout + FenceAfter + 100ms):
	// a session closed early by another client or an operator, while this
	// server is cut off and still running deals, cannot let a deal overlap
	// the item's next owner. The price is a slower takeover after a crash:
	// the session timeout plus this delay. Negative means no lock delay: a
	// crash is taken over right after the session timeout, but such an early
	// close can overlap a deal with the next owner for up to the default
	// delay (only the item's epoch then protects the data). A positive value
	// is used as is; below the default it narrows that window, not closes it.
	LockDelay time.Duration
	// ResyncInterval is how often the manager re-reads the servers and its
	// note box even when no watch fired (a safety net; watches do the work),
	// and, every tenth time, the items it owns (the leader: the mark). A
	// resync never reads every item: it costs a few requests, plus the
	// server's own items now and then, whatever the number of items.
	// Default (0): the task type's judgeDeadInterval. Must not be negative.
	ResyncInterval time.Duration
	// WriteParallelism bounds concurrent item writes of a leader's rebalance.
	// Default (0): 32. Must not be negative.
	WriteParallelism int
	// FaultTest is for the project's own fault tests only: its zero value,
	// the only one a program outside this module can give it (its type is
	// internal), keeps self-fencing on. The chaos suite's deliberately
	// broken build sets it to switch self-fencing off.
	FaultTest fencing.Fault
}

// DefaultStopTimeout is the default ManagerConfig.StopTimeout.
const DefaultStopTimeout = 10 * time.Second

// Defaults of ManagerConfig not exported as constants.
const (
	defaultShutdownTimeout  = 30 * time.Second
	defaultCancelGrace      = time.Second
	defaultWriteParallelism = 32
)

// DefaultManagerConfig returns the defaults documented on ManagerConfig: the
// configuration ManagerConfig{} means, spelled out (ResyncInterval stays
// zero: its default is the task type's judgeDeadInterval).
func DefaultManagerConfig() ManagerConfig { return ManagerConfig{}.withDefaults() }

// withDefaults returns c with every zero field set to its default: the one
// place they are written (DefaultManagerConfig and Validate use it; the
// Manager takes them from DefaultManagerConfig). Negative "none"
// values are kept, so withDefaults is idempotent. FenceAfter and LockDelay
// keep their zero, whose default depends on the session
// (see LockDelay and FenceAfter); ResyncInterval keeps its zero, whose default
// is the task type's judgeDeadInterval.
func (c ManagerConfig) withDefaults() ManagerConfig {
	if c.IP == "" {
		c.IP = localIP()
	}
	if c.HostName == "" {
		c.HostName, _ = os.Hostname()
	}
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, defaultShutdownTimeout)
	c.CancelGrace = cmp.Or(c.CancelGrace, defaultCancelGrace)
	c.StopTimeout = cmp.Or(c.StopTimeout, DefaultStopTimeout)
	c.WriteParallelism = cmp.Or(c.WriteParallelism, defaultWriteParallelism)
	return c
}

// Validate reports every problem of the configuration at once (zero fields
// take their defaults first); each wraps ErrInvalid and names the field.
func (c ManagerConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := ValidateName(NameHost, c.IP); err != nil {
		errs = append(errs, fmt.Errorf("ManagerConfig.IP: %w", err))
	}
	if c.HostName != "" {
		if err := ValidateName(NameHost, c.HostName); err != nil {
			errs = append(errs, fmt.Errorf("ManagerConfig.HostName: %w", err))
		}
	}
	if c.StopTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: ManagerConfig.StopTimeout (%v) must not be negative", ErrInvalid, c.StopTimeout))
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
