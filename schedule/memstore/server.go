package memstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Server is the in-memory "ZooKeeper server": it holds the tree, the sessions
// and the watches shared by every Client connected to it. A Server is safe
// for concurrent use; it starts no goroutine of its own.
type Server struct {
	clock schedule.Clock
	auth  *DigestAuth // nil: every node is world-writable
	err   error       // the Config's problems: every client's operations fail with it

	mu          sync.Mutex // guards everything below, every node, session, client and watch
	root        *node
	lastSession int64
	sessions    map[int64]*session
	watches     map[storekit.WatchScope]map[*watch]struct{}
	// itemGen is the generation of each runtime's items: set from gen at
	// every operation that touches them (the items watch's scope), so it
	// changes with every change and never repeats.
	itemGen map[string]uint64
	gen     uint64
	// zxid counts the node writes (creates, sets, deletes) ever made, like
	// ZooKeeper's zxid: it only grows and is never reused, whatever is
	// deleted. New items take it as their epoch floor (see BuildItems).
	zxid int64

	stats counters
}

// New returns an empty server with the top-level directories created, with
// the settings of cfg (Config{}: nodes writable by every client) and the
// dependencies of opts. A cfg that is not valid makes every operation of its
// clients fail (see Config).
func New(cfg Config, opts ...Option) *Server {
	o := options{clock: schedule.SystemClock()}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s := &Server{
		clock:    o.clock,
		auth:     copyAuth(cfg.Auth),
		err:      cfg.validate(),
		root:     &node{},
		sessions: make(map[int64]*session),
		watches:  make(map[storekit.WatchScope]map[*watch]struct{}),
		itemGen:  make(map[string]uint64),
	}
	now := s.clock.Now()
	s.root.ctime, s.root.mtime = now, now
	var tx txn
	for _, dir := range []string{dirTaskTypes, dirStrategies, dirFactories, dirFactoryStates} {
		s.ensure(&tx, dir)
	}
	return s
}

// Connect opens a new client with its own session, with the settings of cfg
// (ClientConfig{}: the default session timeout, no credentials). A cfg that
// is not valid, or a server whose Config is not, makes every operation of
// the client fail (see ClientConfig); such a client still has a session
// (with the default timeout) and must still be closed.
func (s *Server) Connect(cfg ClientConfig) *Client {
	cfg = cfg.withDefaults()
	err := errors.Join(s.err, cfg.validate())
	if err != nil {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	c := &Client{
		srv:     s,
		timeout: cfg.SessionTimeout,
		writer:  s.auth == nil || (cfg.Auth != nil && *cfg.Auth == *s.auth),
		err:     err,
		watches: make(map[*watch]struct{}),
		done:    make(chan struct{}),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.calibrated = s.clock.Now()
	s.newSession(c)
	return c
}

// ExpireSession expires the current session of c at the server, as ZooKeeper
// does for a session it has not heard from within its timeout: the session's
// ephemeral nodes vanish at once (firing watches), the Session value goes
// SessionExpired for good (Done closed, Err schedule.ErrSessionLost), every
// watch of c fires, and c gets a new session — at once if c is connected, at
// the end of the cut if c is disconnected. No-op if c is closed or has no
// session.
func (s *Server) ExpireSession(c *Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.srv != s {
		panic("memstore: ExpireSession of a client of another server")
	}
	if c.closed || c.sess == nil {
		return
	}
	s.expire(c)
	if c.disc == nil {
		s.newSession(c)
	}
}

// ReadRaw returns the node at path (a path of the layout in the package
// documentation), bypassing the stores. ErrNotFound if it does not exist.
func (s *Server) ReadRaw(path string) (Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.lookup(path)
	if n == nil {
		return Node{}, fmt.Errorf("memstore: read %s: %w", path, schedule.ErrNotFound)
	}
	return Node{
		Data: clone(n.data), Version: n.version, Ctime: n.ctime, Mtime: n.mtime,
		EphemeralOwner: n.owner, Children: n.childNames(),
	}, nil
}

// WriteRaw overwrites the data of the node at path as one ordinary write
// (the version grows by one, watches fire), bypassing validation, encoding
// and ACL: the way a test plants corrupt data. ErrNotFound if the node does
// not exist.
func (s *Server) WriteRaw(path string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.lookup(path)
	if n == nil {
		return fmt.Errorf("memstore: write %s: %w", path, schedule.ErrNotFound)
	}
	var tx txn
	s.set(&tx, path, n, data)
	s.fire(&tx)
	return nil
}

// Stats counts operations: calls of the Store methods that reach the server.
type Stats struct {
	// Reads counts read calls (including Watch).
	Reads int64
	// Writes counts single-node writes.
	Writes int64
	// Multis counts atomic multi-node writes (BuildItems, guarded UpdateItem,
	// UpdateStrategyRuntimes, the deletes of subtrees).
	Multis int64
}

// Stats returns the operation counts of every client of the server.
func (s *Server) Stats() Stats { return s.stats.get() }

type counters struct{ reads, writes, multis atomic.Int64 }

func (c *counters) get() Stats {
	return Stats{Reads: c.reads.Load(), Writes: c.writes.Load(), Multis: c.multis.Load()}
}

// newSession gives c a new, connected session. s.mu must be held.
func (s *Server) newSession(c *Client) {
	s.lastSession++
	sess := &session{
		srv:        s,
		id:         s.lastSession,
		timeout:    c.timeout,
		state:      schedule.SessionConnected,
		changed:    make(chan struct{}),
		done:       make(chan struct{}),
		ephemerals: make(map[string]struct{}),
	}
	sess.connected.Store(true)
	s.sessions[sess.id] = sess
	c.sess = sess
	if c.sessWait != nil {
		close(c.sessWait)
		c.sessWait = nil
	}
}

// expire ends c's session at the server (c.sess != nil). s.mu must be held.
func (s *Server) expire(c *Client) {
	sess := c.sess
	s.endSession(sess, schedule.SessionExpired, schedule.ErrSessionLost)
	c.sess = nil
	c.sessWait = make(chan struct{})
	// Events may have been lost: every watch of the client fires.
	for w := range c.watches {
		s.signal(w)
	}
}

// endSession deletes the session's ephemerals and moves it to a final state.
// s.mu must be held.
func (s *Server) endSession(sess *session, st schedule.SessionState, err error) {
	var tx txn
	for path := range sess.ephemerals {
		s.remove(&tx, path)
	}
	delete(s.sessions, sess.id)
	sess.setState(st, err)
	s.fire(&tx)
}
