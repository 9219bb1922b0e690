package memstore

import (
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// DefaultSessionTimeout is the session timeout of a client made without
// WithSessionTimeout.
const DefaultSessionTimeout = 10 * time.Second

// ServerOption configures a Server.
type ServerOption func(*serverConfig)

type serverConfig struct {
	clock  schedule.Clock
	digest string // "user:password"; empty: every node is world-writable
}

// WithClock sets the clock of the server: cluster time (Client.Now), node
// times, and the timers that end Client.Disconnect and expire sessions of
// clients cut off for longer than their timeout. Default schedule.SystemClock().
func WithClock(c schedule.Clock) ServerOption {
	return func(cfg *serverConfig) { cfg.clock = c }
}

// WithDigest protects every node like ZooKeeper's digest ACL: world-readable,
// writable only by clients that hold the digest (WithAuth with the same user
// and password). Other clients' writes fail with schedule.ErrPermission.
func WithDigest(user, password string) ServerOption {
	return func(cfg *serverConfig) { cfg.digest = user + ":" + password }
}

// ClientOption configures a Client.
type ClientOption func(*clientConfig)

type clientConfig struct {
	timeout time.Duration
	auth    string
}

// WithSessionTimeout sets the client's session timeout: a client cut off for
// longer than this loses its session. Default DefaultSessionTimeout.
func WithSessionTimeout(d time.Duration) ClientOption {
	return func(cfg *clientConfig) { cfg.timeout = d }
}

// WithAuth gives the client a digest credential (see WithDigest).
func WithAuth(user, password string) ClientOption {
	return func(cfg *clientConfig) { cfg.auth = user + ":" + password }
}
