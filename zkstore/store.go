package zkstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
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

// Store is a schedule.Store on ZooKeeper: one client, one session at a time.
// See the package documentation. All methods are safe for concurrent use.
type Store struct {
	cfg   Config
	log   *slog.Logger
	clock schedule.Clock
	p     paths
	acl   []zk.ACL
	start time.Time // local reference for monotonic readings

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

	sessMu  sync.Mutex // guards the fields below
	cur     *session   // the current (or last) session; nil before the first
	curCh   chan struct{}
	zkState zk.State
	stale   bool // no answer from the server for more than a third of the timeout
	probing bool // a liveness probe is in flight

	probeWake chan struct{} // coalescing: re-evaluate liveness now

	hub   *watchHub
	cal   calibration
	hosts *hostProvider

	// maxMulti is the size above which a multi is split (maxMultiBytes;
	// tests lower it).
	maxMulti int
}

var _ schedule.Store = (*Store)(nil)

// Open connects to ZooKeeper, waits for a session (bounded by
// cfg.ConnectTimeout and ctx), authenticates, checks or creates the root and
// the top-level directories, and starts the background work (watches,
// liveness probe, cluster-time calibration). It fails with an error wrapping
// schedule.ErrInvalid for a bad cfg, schedule.ErrSchema for a root written
// by something else, and a connection error if no server answers in time.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := options{logger: slog.Default(), clock: schedule.SystemClock()}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{
		cfg:       cfg,
		log:       o.logger,
		clock:     o.clock,
		p:         paths{root: cfg.Root},
		acl:       aclFor(cfg.Auth),
		curCh:     make(chan struct{}),
		zkState:   zk.StateDisconnected,
		probeWake: make(chan struct{}, 1),
		maxMulti:  maxMultiBytes,
		hosts:     newHostProvider(),
	}
	s.start = s.clock.Now()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hub = newWatchHub(s)

	dial := cfg.Dialer
	if dial == nil {
		dial = net.DialTimeout
	}
	conn, events, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithDialer(s.wrapDialer(dial)),
		zk.WithHostProvider(s.hosts),
		zk.WithEventCallback(s.onEvent),
		zk.WithLogger(zkLogger{s.log}),
		zk.WithLogInfo(false),
	)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("zkstore: connect to %v: %w", cfg.Servers, err)
	}
	s.conn = conn
	s.connPtr.Store(conn)
	// go-zookeeper also sends every event to this channel (dropping when
	// full); everything is handled in the callback, so drain it. It is
	// closed when the client's loop has ended, which Close waits for.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for range events {
		}
	}()

	wctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	sess, err := s.Session(wctx)
	if err != nil {
		_ = s.Close()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no session within ConnectTimeout (%v): %w", cfg.ConnectTimeout, err)
		}
		return nil, fmt.Errorf("zkstore: open: cannot reach ZooKeeper at %s: %w", strings.Join(cfg.Servers, ","), err)
	}
	s.log.Debug("zkstore: connected", keySession, sessionHex(sess.ID()), "timeout", sess.Timeout())

	if cfg.Auth != nil {
		auth := []byte(cfg.Auth.User + ":" + cfg.Auth.Password)
		err := s.retry(wctx, "addAuth", cfg.Root, func() error {
			_, err := call(s, wctx, kindAuth, func(c *zk.Conn) (struct{}, error) {
				return struct{}{}, c.AddAuth("digest", auth)
			})
			return err
		}, nil)
		if err != nil {
			_ = s.Close()
			return nil, s.wrapErr("addAuth", "digest "+cfg.Auth.User, err)
		}
	}
	if err := s.initRoot(wctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.goFunc(s.probeLoop)
	s.goFunc(s.hub.loop)
	s.goFunc(s.calibrationLoop)
	return s, nil
}

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
	s.wg.Wait()
	s.hub.closeAll()
	return nil
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

// initRoot checks the root's schema (creating the root and its missing
// ancestors if needed) and creates the top-level directories.
func (s *Store) initRoot(ctx context.Context) error {
	// Every step is idempotent: after a lost connection, start over.
	return s.retry(ctx, "open", s.p.rootPath(), func() error { return s.initRootOnce(ctx) }, nil)
}

func (s *Store) initRootOnce(ctx context.Context) error {
	root := s.p.rootPath()
	want, _ := json.Marshal(rootInfo{Schema: rootSchema, Software: software})
	for attempt := 0; ; attempt++ {
		data, stat, err := s.get(ctx, root)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			if err := s.ensurePath(ctx, parentOf(root)); err != nil {
				return err
			}
			if err := s.createNode(ctx, root, want, 0); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return s.wrapErr("create", root, err)
			}
			s.log.Debug("zkstore: created root", keyPath, root)
			continue
		case err != nil:
			return s.wrapErr("get", root, err)
		}
		if len(data) == 0 {
			// An empty root (created by an operator) is adopted.
			_, err := s.setData(ctx, root, want, stat.Version)
			if errors.Is(err, zk.ErrBadVersion) && attempt < 3 {
				continue
			}
			if err != nil {
				return s.wrapErr("adopt root", root, err)
			}
			s.log.Debug("zkstore: adopted empty root", keyPath, root)
			continue
		}
		if err := checkRoot(root, data); err != nil {
			return err
		}
		break
	}
	children, err := s.children(ctx, root)
	if err != nil {
		return s.wrapErr("children", root, err)
	}
	have := make(map[string]bool, len(children))
	for _, c := range children {
		have[c] = true
	}
	for _, d := range topLevel() {
		if have[d] {
			continue
		}
		path := root + "/" + d
		err := s.createNode(ctx, path, nil, 0)
		switch {
		case err == nil, errors.Is(err, zk.ErrNodeExists):
		case errors.Is(err, zk.ErrNoAuth):
			// A read-only client: the directories are created by a writer.
			s.log.Debug("zkstore: cannot create directory without credentials", keyPath, path)
		default:
			return s.wrapErr("create", path, err)
		}
	}
	return nil
}

// checkRoot refuses root data that this package did not write.
func checkRoot(root string, data []byte) error {
	text := strings.TrimSpace(string(data))
	shown := text
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	if strings.HasPrefix(text, "tbschedule-") || strings.HasPrefix(text, "taobao-pamirs-schedule") {
		return opErr("open", root, schedule.ErrSchema,
			fmt.Errorf("the root holds TBSchedule (Java) version %q; tbschedule-go does not share a tree with it: use another root", shown))
	}
	var info rootInfo
	if err := json.Unmarshal(data, &info); err != nil || info.Software != software {
		return opErr("open", root, schedule.ErrSchema,
			fmt.Errorf("the root holds foreign data %q, not {\"schema\":%d,\"software\":%q}: use another root", shown, rootSchema, software))
	}
	if info.Schema != rootSchema {
		return opErr("open", root, schedule.ErrSchema,
			fmt.Errorf("the root was written with schema %d; this version of tbschedule-go reads schema %d only", info.Schema, rootSchema))
	}
	return nil
}

// ensurePath creates path and its missing ancestors as persistent nodes with
// no data and the store's ACL. "/" always exists.
func (s *Store) ensurePath(ctx context.Context, path string) error {
	if path == "/" || path == "" {
		return nil
	}
	create := func() error {
		return s.retry(ctx, "create", path, func() error {
			err := s.createNode(ctx, path, nil, 0)
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		}, nil)
	}
	err := create()
	if errors.Is(err, zk.ErrNoNode) {
		if err := s.ensurePath(ctx, parentOf(path)); err != nil {
			return err
		}
		err = create()
	}
	return s.wrapErr("create", path, err)
}

// sessionHex formats a session id the way ZooKeeper's logs do.
func sessionHex(id int64) string { return fmt.Sprintf("0x%x", id) }

// zkLogger sends go-zookeeper's log lines to slog at debug level; the store
// logs what matters (disconnects, expiry) itself.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug("zkstore: zk client: " + fmt.Sprintf(format, args...))
}
