package zkstore

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// session is one ZooKeeper session of a Store (storekit.Session).
type session struct {
	store   *Store
	id      int64
	timeout time.Duration

	over atomic.Bool // the session ended (readable without mu, for Alive)

	mu      sync.Mutex // guards the fields below
	state   schedule.SessionState
	changed chan struct{} // closed at the next state change
	done    chan struct{} // closed when the session ends
	err     error
}

var _ storekit.Session = (*session)(nil)

func newSession(s *Store, id int64, timeout time.Duration) *session {
	return &session{
		store: s, id: id, timeout: timeout,
		state:   schedule.SessionConnected,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
}

func (x *session) ID() int64              { return x.id }
func (x *session) Timeout() time.Duration { return x.timeout }

func (x *session) State() schedule.SessionState {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.state
}

func (x *session) Changed() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.changed
}

func (x *session) Done() <-chan struct{} { return x.done }

// Alive is the lease: the session has not ended, and the last answer from
// ZooKeeper (measured from the time its request was sent) is no older than a
// third of the timeout, on the monotonic clock. It reads the clock itself, so
// a process that was frozen sees its lease lapsed the moment it runs again,
// before the probe loop has judged anything. Two atomic loads and a clock
// read.
func (x *session) Alive() bool {
	if x.over.Load() {
		return false
	}
	s := x.store
	return s.monoNow()-time.Duration(s.lastRecv.Load()) <= x.timeout/3
}

// monoNow is mono with a single read of the monotonic clock when the store
// runs on the system clock (time.Since reads only that one; Now reads the
// wall clock too), for the lease, which is asked before every record.
func (s *Store) monoNow() time.Duration {
	if s.clock == schedule.SystemClock() {
		return time.Since(s.start)
	}
	return s.mono()
}

func (x *session) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *session) ended() bool {
	select {
	case <-x.done:
		return true
	default:
		return false
	}
}

// set moves a live session to Connected or Suspect; it reports whether the
// state changed.
func (x *session) set(st schedule.SessionState) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil || x.state == st {
		return false
	}
	x.state = st
	close(x.changed)
	x.changed = make(chan struct{})
	x.store.sessionChanged(st)
	return true
}

// end ends the session for good (Expired or Closed); it reports whether it
// was live.
func (x *session) end(st schedule.SessionState, err error) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil {
		return false
	}
	x.state, x.err = st, err
	x.over.Store(true)
	close(x.changed)
	x.changed = make(chan struct{})
	close(x.done)
	x.store.sessionChanged(st)
	return true
}

// Session returns the current session, waiting (bounded by ctx) while there
// is none: before the first one and between an expiry and the next.
func (s *Store) Session(ctx context.Context) (storekit.Session, error) {
	x, err := s.liveSession(ctx)
	if err != nil {
		return nil, err
	}
	return x, nil
}

func (s *Store) liveSession(ctx context.Context) (*session, error) {
	for {
		s.sessMu.Lock()
		cur, ch := s.cur, s.curCh
		s.sessMu.Unlock()
		if s.isClosed() {
			return nil, opErr("session", s.cfg.Root, schedule.ErrClosed, nil)
		}
		if cur != nil && !cur.ended() {
			return cur, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.ctx.Done():
			return nil, opErr("session", s.cfg.Root, schedule.ErrClosed, nil)
		}
	}
}

// ownSession checks that sess is this store's current, live session, the
// one the connection is using.
func (s *Store) ownSession(op, path string, sess storekit.Session) (*session, error) {
	if s.isClosed() {
		return nil, opErr(op, path, schedule.ErrClosed, nil)
	}
	x, ok := sess.(*session)
	if !ok || x == nil || x.store != s {
		return nil, opErr(op, path, schedule.ErrSessionLost, errNotOurSession)
	}
	if x.ended() || s.conn.SessionID() != x.id {
		return nil, opErr(op, path, schedule.ErrSessionLost, nil)
	}
	return x, nil
}

type sessionError string

func (e sessionError) Error() string { return string(e) }

const errNotOurSession = sessionError("the session does not belong to this store")

// handshake is what the server answered to a connect request.
type handshake struct {
	sessionID int64
	timeout   time.Duration
	sent      time.Duration // monotonic time of the dial, before the connect request was sent
}

// onEvent receives every event of the client (go-zookeeper calls it on its
// own goroutines; it must not block or call the client).
func (s *Store) onEvent(ev zk.Event) {
	if ev.Type == zk.EventSession {
		s.sessionEvent(ev.State)
	}
	s.cacheEvent(ev) // before any later answer is handed out (see watchedData)
	s.hub.enqueue(ev)
}

func (s *Store) sessionEvent(st zk.State) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.isClosed() {
		return
	}
	s.zkState = st
	switch st {
	case zk.StateHasSession:
		id, timeout, sent := s.sessionInfo()
		// The lease starts when the connect request was sent, not when its
		// answer is read: an answer read late (the process was frozen with
		// it in the socket buffer) must not extend it past what the server
		// promised. Unknown: no lease until a probe is answered.
		s.lastRecv.Store(int64(max(sent, 0)))
		s.stale = false
		select {
		case s.probeWake <- struct{}{}:
		default:
		}
		if s.cur == nil || s.cur.id != id || s.cur.ended() {
			if s.cur != nil && s.cur.end(schedule.SessionExpired, schedule.ErrSessionLost) {
				s.log.Error("zkstore: session lost", keySession, sessionHex(s.cur.id))
			}
			s.cur = newSession(s, id, timeout)
			s.sessionChanged(schedule.SessionConnected)
			close(s.curCh)
			s.curCh = make(chan struct{})
			s.log.Debug("zkstore: session established", keySession, sessionHex(id), "timeout", timeout)
			return
		}
		if s.cur.set(schedule.SessionConnected) {
			s.log.Info("zkstore: reconnected", keySession, sessionHex(id))
		}
	case zk.StateDisconnected, zk.StateConnecting:
		if s.cur != nil && s.cur.set(schedule.SessionSuspect) {
			s.log.Warn("zkstore: disconnected; session suspect", keySession, sessionHex(s.cur.id))
		}
	case zk.StateExpired:
		s.hosts.reset()
		if s.cur != nil && s.cur.end(schedule.SessionExpired, schedule.ErrSessionLost) {
			s.log.Error("zkstore: session expired", keySession, sessionHex(s.cur.id))
		}
	case zk.StateAuthFailed:
		s.log.Error("zkstore: authentication failed")
	}
}

// sessionInfo returns the id and negotiated timeout of the session just
// established, and when its connect request was sent (monotonic, -1 if
// unknown). It is called from the HasSession callback, on the goroutine that
// read the handshake.
func (s *Store) sessionInfo() (int64, time.Duration, time.Duration) {
	if hs := s.hs.Load(); hs != nil && hs.sessionID != 0 {
		if c := s.connPtr.Load(); c == nil || c.SessionID() == hs.sessionID {
			return hs.sessionID, hs.timeout, hs.sent
		}
	}
	var id int64
	if c := s.connPtr.Load(); c != nil {
		id = c.SessionID()
	}
	return id, s.cfg.SessionTimeout, -1
}

// hasSession reports whether the client is connected with a session.
func (s *Store) hasSession() bool {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	return s.zkState == zk.StateHasSession
}

// sessionTimeout returns the negotiated timeout of the current session, or
// the configured one before the first session.
func (s *Store) sessionTimeout() time.Duration {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.cur != nil && s.cur.timeout > 0 {
		return s.cur.timeout
	}
	return s.cfg.SessionTimeout
}

// probeLoop is the liveness probe. go-zookeeper notices a silent server only
// after two thirds of the session timeout (its read deadline); owners must
// stop acting on their grants earlier. So every sixth of the timeout the
// store sends a cheap request (exists on the root), and as soon as no probe
// sent in the last third of the timeout has been answered, the session is
// Suspect even though the connection looks up. It is Connected again as soon
// as a probe is answered on the same session.
func (s *Store) probeLoop() {
	timer := s.clock.NewTimer(0)
	defer timer.Stop()
	var nextProbe time.Duration
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C():
		case <-s.probeWake:
		}
		timeout := s.sessionTimeout()
		period, threshold := timeout/6, timeout/3
		now := s.mono()
		if now >= nextProbe {
			nextProbe = now + period
			s.sessMu.Lock()
			send := !s.probing && s.zkState == zk.StateHasSession
			if send {
				s.probing = true
			}
			s.sessMu.Unlock()
			if send && !s.goFunc(s.probe) {
				return
			}
		}
		stale := s.checkLiveness(timeout)
		// Wake for the next probe, or when the silence would reach the
		// threshold, whichever comes first.
		wake := nextProbe
		if !stale {
			if at := time.Duration(s.lastRecv.Load()) + threshold + time.Millisecond; at < wake {
				wake = at
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		timer.Reset(max(wake-s.mono(), time.Millisecond))
	}
}

func (s *Store) probe() {
	// The lease is measured from the time the probe was SENT: an answer
	// proves the server heard from this session at or after sent, so the
	// session cannot expire before sent + timeout. Unrequested bytes (watch
	// notifications caused by other clients) prove nothing about that and
	// do not count.
	sent := s.mono()
	_, err := call(s, context.Background(), kindProbe, func(c *zk.Conn) (bool, error) {
		ok, _, err := c.Exists(s.cfg.Root)
		return ok, err
	})
	if err == nil {
		for {
			last := s.lastRecv.Load()
			if int64(sent) <= last || s.lastRecv.CompareAndSwap(last, int64(sent)) {
				break
			}
		}
	}
	s.sessMu.Lock()
	s.probing = false
	s.sessMu.Unlock()
	select {
	case s.probeWake <- struct{}{}:
	default:
	}
}

// checkLiveness marks the current session Suspect when the server has been
// silent for more than a third of the timeout, and Connected again when it
// answers (on the same session).
func (s *Store) checkLiveness(timeout time.Duration) (stale bool) {
	silent := s.mono() - time.Duration(s.lastRecv.Load())
	stale = silent > timeout/3
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.isClosed() || stale == s.stale {
		return stale
	}
	s.stale = stale
	if s.cur == nil || s.zkState != zk.StateHasSession {
		return stale
	}
	if stale {
		if s.cur.set(schedule.SessionSuspect) {
			s.log.Warn("zkstore: no answer from ZooKeeper; session suspect", keySession, sessionHex(s.cur.id), "silent", silent)
		}
	} else if s.cur.set(schedule.SessionConnected) {
		s.log.Info("zkstore: ZooKeeper answers again", keySession, sessionHex(s.cur.id))
	}
	return stale
}

// wrapDialer wraps every connection to read the server's answer to the
// connect request (session id and negotiated timeout, which go-zookeeper
// does not expose), and reports every attempt to the dial watch (dial.go).
func (s *Store) wrapDialer(dial zk.Dialer) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		at := s.mono()
		c, err := dial(network, address, timeout)
		s.dials.dialed(address, err, s.hosts.Len())
		if err != nil {
			return nil, err
		}
		return s.conns.add(&watchedConn{Conn: c, s: s, dialed: at}), nil
	}
}

// watchedConn is a net.Conn that parses the connect response for its Store.
type watchedConn struct {
	net.Conn
	s *Store
	// Only the client's reading goroutine (the handshake, then the receive
	// loop, never both at once) calls Read.
	head   []byte // the first bytes read, until the connect response is parsed
	done   bool
	dialed time.Duration // monotonic time before the dial
}

// connectRespLen is the length of the part of a connect response we parse:
// length (4), protocol version (4), timeout (4), session id (8).
const connectRespLen = 20

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		if !c.done {
			c.head = append(c.head, b[:n]...)
			if len(c.head) >= connectRespLen {
				c.done = true
				timeoutMs := int32(binary.BigEndian.Uint32(c.head[8:12]))
				id := int64(binary.BigEndian.Uint64(c.head[12:20]))
				c.s.hs.Store(&handshake{sessionID: id, timeout: time.Duration(timeoutMs) * time.Millisecond, sent: c.dialed})
				c.head = nil
			}
		}
	}
	return n, err
}
