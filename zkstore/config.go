package zkstore

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Defaults of Config, pinned by a test.
const (
	// DefaultSessionTimeout is the default Config.SessionTimeout.
	DefaultSessionTimeout = 10 * time.Second
	// DefaultConnectTimeout is the default Config.ConnectTimeout.
	DefaultConnectTimeout = 15 * time.Second
	// DefaultCalibrationInterval is the default Config.CalibrationInterval.
	DefaultCalibrationInterval = time.Minute
	// DefaultClockDriftWarning is the default Config.ClockDriftWarning.
	DefaultClockDriftWarning = time.Second
)

// Config configures a Store. The zero value of every field but Servers and
// Root means "the default"; DefaultConfig returns the defaults spelled out.
type Config struct {
	// Servers lists the ZooKeeper servers as "host:port" ("host" alone means
	// port 2181). Required. The client connects to one at a time, in random
	// order, and moves to another when its server fails; list every member of
	// the ensemble, or sessions will not survive the loss of the one listed.
	Servers []string

	// Root is the absolute path of the tree of this application, such as
	// "/orders-app" (not "/" itself, no trailing slash). Required. The root and
	// its missing ancestors are created on Open (unless ReadOnly). Several applications (or
	// environments) share one ensemble by using different roots; a root
	// written by TBSchedule (Java) or another schema is refused with
	// schedule.ErrSchema rather than shared.
	Root string

	// SessionTimeout is the ZooKeeper session timeout asked of the server:
	// after this long without hearing from the client, the server expires the
	// session and deletes its ephemeral nodes, so the items of a crashed or
	// partitioned server move elsewhere after about this long. Default 10s.
	// The server clamps it to [2, 20] × its tickTime (with the default
	// tickTime of 2s: 4s to 40s); Session.Timeout reports the negotiated
	// value. Too short: GC pauses and network blips expire sessions and move
	// items needlessly. Too long: takeover after a crash is slow. The store
	// marks a session suspect after a third of it without an answer.
	SessionTimeout time.Duration

	// ConnectTimeout bounds how long Open waits for the first session (Open's
	// ctx may end it sooner). Default 15s. Open does not wait it out when
	// every address refuses the connection (nothing listens there): it fails
	// after one round of attempts, naming each address's error. Too short:
	// Open fails while the ensemble is electing a leader. Too long: a server
	// that accepts connections but gives no session is reported late.
	ConnectTimeout time.Duration

	// ReadOnly opens the store for a tool that only reads (tbsctl's status,
	// tree, get, export, doctor): Open creates nothing, neither the root nor
	// its directories, and a root that does not exist (or is empty) fails
	// with schedule.ErrNotFound naming it, so that a mistyped root is
	// reported rather than created. Open does not check that Auth may write
	// either. It does not stop the caller from writing: the methods that
	// write still send their requests (the ACL decides). Default false: a
	// service's store, which creates the root and checks its credentials.
	ReadOnly bool

	// Auth, when set, is the digest identity of this application: the client
	// authenticates with it, and every node the store creates gets the ACL
	// digest(user:password) ALL + world:anyone READ (as TBSchedule does), so
	// other clients may read the tree but not change it. Open checks that
	// ZooKeeper accepts these credentials for writing under the root (one
	// throw-away ephemeral node) and fails with schedule.ErrPermission naming
	// the user (never the password) if it does not: a wrong password, or a
	// tree created by another user. Nil: nodes are created open to all
	// (world:anyone ALL), and writes to nodes protected by a digest fail with
	// schedule.ErrPermission.
	Auth *DigestAuth

	// CalibrationInterval is how often cluster time is re-calibrated against
	// the ZooKeeper leader's clock (one create, one exists and one delete of a
	// throw-away ephemeral node). Default 1 minute. Too long: local clock drift
	// between calibrations goes unnoticed. Too short: needless writes.
	CalibrationInterval time.Duration

	// ClockDriftWarning is the offset between the local clock and cluster time
	// above which each calibration logs a warning. Default 1s. Cluster time is
	// used whatever the offset; the warning tells the operator that the
	// host's clock (NTP) needs attention.
	ClockDriftWarning time.Duration

	// Dialer, if not nil, opens the TCP connections to ZooKeeper (tests use it
	// to put a fault proxy in between or to record session passwords). Nil:
	// net.DialTimeout.
	Dialer zk.Dialer
}

// DigestAuth is a ZooKeeper digest identity (scheme "digest", "user:password").
type DigestAuth struct {
	// User is the user name. Required, no ':'.
	User string
	// Password is the password. Required.
	Password string
}

// Digest returns the digest identity user:password, for Config.Auth.
func Digest(user, password string) *DigestAuth {
	return &DigestAuth{User: user, Password: password}
}

// String hides the password.
func (d *DigestAuth) String() string {
	if d == nil {
		return "<nil>"
	}
	return "digest(" + d.User + ":***)"
}

// DefaultConfig returns a Config with every default spelled out and no
// Servers or Root: what the zero fields mean.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults returns c with zero fields replaced by their defaults: the
// one place they are applied (Open and Validate use it).
func (c Config) withDefaults() Config {
	c.SessionTimeout = cmp.Or(c.SessionTimeout, DefaultSessionTimeout)
	c.ConnectTimeout = cmp.Or(c.ConnectTimeout, DefaultConnectTimeout)
	c.CalibrationInterval = cmp.Or(c.CalibrationInterval, DefaultCalibrationInterval)
	c.ClockDriftWarning = cmp.Or(c.ClockDriftWarning, DefaultClockDriftWarning)
	return c
}

// Validate reports every problem of the configuration at once; each error
// wraps schedule.ErrInvalid and names the field. Zero durations are valid
// (they mean the default).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, invalidf("Config."+format, args...))
	}
	if len(c.Servers) == 0 {
		bad("Servers must list at least one ZooKeeper server")
	}
	for i, s := range c.Servers {
		if err := validateServer(s); err != nil {
			bad("Servers[%d] (%q) %v", i, s, err)
		}
	}
	if err := validateRoot(c.Root); err != nil {
		bad("Root (%q) %v", c.Root, err)
	}
	if c.SessionTimeout < 0 {
		bad("SessionTimeout (%v) must not be negative", c.SessionTimeout)
	} else if c.SessionTimeout < 100*time.Millisecond {
		bad("SessionTimeout (%v) must be at least 100ms", c.SessionTimeout)
	}
	if c.ConnectTimeout < 0 {
		bad("ConnectTimeout (%v) must not be negative", c.ConnectTimeout)
	}
	if c.CalibrationInterval < 0 {
		bad("CalibrationInterval (%v) must not be negative", c.CalibrationInterval)
	} else if c.CalibrationInterval < time.Second {
		bad("CalibrationInterval (%v) must be at least 1s", c.CalibrationInterval)
	}
	if c.ClockDriftWarning < 0 {
		bad("ClockDriftWarning (%v) must not be negative", c.ClockDriftWarning)
	}
	if c.Auth != nil {
		if c.Auth.User == "" {
			bad("Auth.User must not be empty")
		} else if strings.ContainsAny(c.Auth.User, ":\n") {
			bad("Auth.User (%q) must not contain ':' or a newline", c.Auth.User)
		}
		if c.Auth.Password == "" {
			bad("Auth.Password must not be empty")
		}
	}
	return errors.Join(errs...)
}

func validateServer(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if strings.ContainsAny(s, " ,/\t\n") {
		return errors.New(`must be "host" or "host:port" (one server per element)`)
	}
	if strings.Contains(s, ":") {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return fmt.Errorf(`must be "host" or "host:port": %v`, err)
		}
		if host == "" || port == "" {
			return errors.New(`must be "host" or "host:port"`)
		}
	}
	return nil
}

func validateRoot(root string) error {
	switch {
	case root == "":
		return errors.New("must not be empty")
	case root == "/":
		return errors.New(`must not be "/" (the tree needs its own node)`)
	case !strings.HasPrefix(root, "/"):
		return errors.New(`must start with "/"`)
	case strings.HasSuffix(root, "/"):
		return errors.New(`must not end with "/"`)
	}
	for _, seg := range strings.Split(root[1:], "/") {
		if err := validateSegment(seg); err != nil {
			return fmt.Errorf("has an invalid element: %v", err)
		}
	}
	return nil
}

// Option sets a collaborator of a Store.
type Option func(*options)

type options struct {
	logger  *slog.Logger
	clock   schedule.Clock
	metrics Metrics // nil: none
}

// WithLogger makes the store log through l (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock makes the store read local time from c (default the system
// clock): the liveness probe, retries and cluster-time calibration use it.
func WithClock(c schedule.Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}
