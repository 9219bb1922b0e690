package zkstore

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Log keys, the same constant keys in every package of the project.
const (
	keyPath    = "path"
	keySession = "session"
	keyTask    = "task"
	keyServer  = "server"
	keyItem    = "item"
)

// rootSchema is the schema version this package writes and reads.
const rootSchema = 1

// software names this library in the root node's data.
const software = "tbschedule-go"

// rootInfo is the data of the root node.
type rootInfo struct {
	Schema   int    `json:"schema"`
	Software string `json:"software"`
}

// Store is a storekit.Store on ZooKeeper: one client, one session at a time.
// See the package documentation. All methods are safe for concurrent use.
type Store struct {
	cfg   Config
	log   *slog.Logger
	clock schedule.Clock
	// metrics receives requests and session states; nil: none.
	metrics Metrics
	p       paths
	acl     []zk.ACL
	start   time.Time // local reference for monotonic readings

	conn     *zk.Conn
	connPtr  atomic.Pointer[zk.Conn] // for the event callback, set once Connect returns
	stats    counters
	lastRecv atomic.Int64 // monotonic ns (since start) of the sending of the last answered probe (or of the last handshake)
	hs       atomic.Pointer[handshake]

	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	isDown atomic.Bool // closed, readable without the lock
	wg     sync.WaitGroup
	// clientDone is closed when go-zookeeper's client loop has ended (its
	// event channel closed); Close waits for it at most clientGrace.
	clientDone chan struct{}
	// decoded holds the last decoding of each configuration document read
	// (path → decodedDoc; see decodeOnce).
	decoded sync.Map
	decodes atomic.Int64 // documents decoded (not served by decoded)

	sessMu  sync.Mutex // guards the fields below
	cur     *session   // the current (or last) session; nil before the first
	curCh   chan struct{}
	zkState zk.State
	stale   bool // no answer from the server for more than a third of the timeout
	probing bool // a liveness probe is in flight

	probeWake chan struct{} // coalescing: re-evaluate liveness now

	hub *watchHub
	cal calibration
	// watched: the strategy registrations' data as their watches read it
	// (see StrategyRuntimes).
	watched watchedData
	// factoryCache: the factory records read so far (see Factories).
	factoryCache factoryCache
	hosts        *hostProvider
	dials        *dialWatch  // failed connections while Open waits
	opened       atomic.Bool // Open has returned the store: the root is never created again
	conns        connSet     // the client's open connections, closed by Close

	// maxMulti is the size above which a multi is split (maxMultiBytes;
	// tests lower it).
	maxMulti int

	boxMu sync.Mutex      // guards boxes
	boxes map[string]bool // note boxes this store created or saw (paths)
}

var _ storekit.Store = (*Store)(nil)

// Open connects to ZooKeeper, waits for a session (bounded by
// cfg.ConnectTimeout and ctx), authenticates, checks or creates the root and
// the top-level directories, checks that cfg.Auth may write there, and
// starts the background work (watches, liveness probe, cluster-time
// calibration). It fails with an error wrapping schedule.ErrInvalid for a
// bad cfg, schedule.ErrSchema for a root written by something else,
// schedule.ErrPermission naming the user when ZooKeeper refuses the
// credentials, schedule.ErrNotFound for a missing root with cfg.ReadOnly,
// and a connection error naming each address's cause if no server answers:
// at once when every address refuses the connection, else after
// cfg.ConnectTimeout.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := newStore(cfg.withDefaults(), opts)
	if err := s.connect(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	if err := s.open(ctx, wctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.opened.Store(true)
	s.goFunc(s.probeLoop)
	s.goFunc(s.hub.loop)
	s.goFunc(s.calibrationLoop)
	return s, nil
}

func newStore(cfg Config, opts []Option) *Store {
	o := options{logger: slog.Default(), clock: schedule.SystemClock()}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{
		cfg:       cfg,
		log:       o.logger,
		clock:     o.clock,
		metrics:   o.metrics,
		p:         paths{root: cfg.Root},
		acl:       aclFor(cfg.Auth),
		curCh:     make(chan struct{}),
		zkState:   zk.StateDisconnected,
		probeWake: make(chan struct{}, 1),
		maxMulti:  maxMultiBytes,
		boxes:     map[string]bool{},
		hosts:     newHostProvider(),
		dials:     newDialWatch(),
	}
	s.start = s.clock.Now()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hub = newWatchHub(s)
	return s
}

// connect starts the client, which connects in the background.
func (s *Store) connect() error {
	dial := s.cfg.Dialer
	if dial == nil {
		dial = net.DialTimeout
	}
	conn, events, err := zk.Connect(s.cfg.Servers, s.cfg.SessionTimeout,
		zk.WithDialer(s.wrapDialer(dial)),
		zk.WithHostProvider(s.hosts),
		zk.WithEventCallback(s.onEvent),
		zk.WithLogger(zkLogger{s.log}),
		zk.WithLogInfo(false),
	)
	if err != nil {
		s.cancel()
		return fmt.Errorf("zkstore: connect to %v: %w", s.cfg.Servers, err)
	}
	s.conn = conn
	s.connPtr.Store(conn)
	// go-zookeeper also sends every event to this channel (dropping when
	// full); everything is handled in the callback, so drain it. It is
	// closed when the client's loop has ended, which Close waits for (see
	// clientGrace).
	done := make(chan struct{})
	s.clientDone = done
	go func() {
		defer close(done)
		for range events {
		}
	}()
	return nil
}

// clientGrace bounds Close's wait for go-zookeeper's client loop to end.
// The loop can wedge for good while it fails the requests in flight (it
// answers a request twice, and the second answer blocks when the first
// was never read: seen at Close under heavy load, 200 sessions on 2 cores).
// Close then returns after clientGrace, the wedged loop's goroutines left
// behind; the session is closed or expires either way.
var clientGrace = 5 * time.Second

func aclFor(auth *DigestAuth) []zk.ACL {
	if auth == nil {
		return zk.WorldACL(zk.PermAll)
	}
	acl := zk.DigestACL(zk.PermAll, auth.User, auth.Password)
	return append(acl, zk.WorldACL(zk.PermRead)...)
}

// Close ends the session (its ephemeral nodes vanish at once), stops every
// goroutine of the store, closes every Watch channel and returns once all of
// it is done. Calls after Close fail with schedule.ErrClosed; a second Close
// returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.isDown.Store(true)
	s.mu.Unlock()

	s.cancel()
	s.sessMu.Lock()
	if s.cur != nil && s.cur.end(schedule.SessionClosed, schedule.ErrClosed) {
		s.log.Debug("zkstore: session closed", keySession, sessionHex(s.cur.id))
	}
	s.sessMu.Unlock()
	s.conn.Close()
	// The client may be blocked reading a server that accepted the
	// connection but never answers (for minutes): end that read.
	s.conns.closeAll()
	s.wg.Wait()
	s.hub.closeAll()
	s.awaitClient()
	return nil
}

// awaitClient waits, at most clientGrace, for the client's loop to end.
func (s *Store) awaitClient() {
	if s.clientDone == nil {
		return // never connected
	}
	t := time.NewTimer(clientGrace) // real time, like the client's own timers
	defer t.Stop()
	select {
	case <-s.clientDone:
	case <-t.C:
		s.log.Warn("zkstore: the ZooKeeper client's loop did not end after Close; leaving it behind", "waited", clientGrace)
	}
}

func (s *Store) isClosed() bool { return s.isDown.Load() }

// goFunc runs f on a goroutine that Close waits for. It reports false (and
// does not run f) once the store is closed.
func (s *Store) goFunc(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// mono returns the monotonic time since the store started.
func (s *Store) mono() time.Duration { return s.clock.Now().Sub(s.start) }

// sleep waits d or until ctx or the store ends.
func (s *Store) sleep(ctx context.Context, d time.Duration) error {
	t := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return zk.ErrConnectionClosed
	}
}

// sessionHex formats a session id the way ZooKeeper's logs do.
func sessionHex(id int64) string { return fmt.Sprintf("0x%x", id) }

// zkLogger sends go-zookeeper's log lines to slog at debug level; the store
// logs what matters (disconnects, expiry) itself.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug("zkstore: zk client: " + fmt.Sprintf(format, args...))
}
