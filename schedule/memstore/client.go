package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Client is one client of a Server: it implements storekit.Store with one
// session at a time, like one ZooKeeper connection. Create it with
// Server.Connect. It is safe for concurrent use.
type Client struct {
	srv     *Server
	timeout time.Duration
	writer  bool  // holds the server's digest (or the server has none)
	err     error // the problems of its ClientConfig or its server's Config: every operation fails with it

	// Guarded by srv.mu:
	sess       *session      // current session; nil between an expiry and the next session
	sessWait   chan struct{} // closed when the next session is established (sess == nil)
	closed     bool
	disc       *cut // the current cut, nil while connected
	failN      int
	failErr    error
	watches    map[*watch]struct{}
	calibrated time.Time

	done  chan struct{}  // closed by Close
	wg    sync.WaitGroup // the goroutine that ends a cut
	stats counters
}

var _ storekit.Store = (*Client)(nil)

// cut is one period during which the client is cut off from the server.
type cut struct {
	until    time.Time     // when the client reconnects
	expireAt time.Time     // when the server expires the session (if still live)
	kick     chan struct{} // the cut changed: recompute the next deadline
}

type opKind int

const (
	opRead opKind = iota + 1
	opWrite
	opMulti
)

// begin admits one operation: it fails for a closed or cut-off client, a
// client made with a config that is not valid, a done ctx, an injected
// fault, and a write without the server's digest. It counts the operation.
// srv.mu must be held.
func (c *Client) begin(ctx context.Context, op, path string, kind opKind) error {
	if c.closed {
		return fmt.Errorf("memstore: %s %s: %w", op, path, schedule.ErrClosed)
	}
	if c.err != nil {
		return fmt.Errorf("memstore: %s %s: %w", op, path, c.err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s %s: %w", op, path, err)
	}
	if c.disc != nil {
		return fmt.Errorf("memstore: %s %s: %w", op, path, ErrConnectionLoss)
	}
	if c.failN > 0 {
		c.failN--
		return fmt.Errorf("memstore: %s %s: %w", op, path, c.failErr)
	}
	if kind != opRead && !c.writer {
		return fmt.Errorf("memstore: %s %s: %w", op, path, schedule.ErrPermission)
	}
	var n *counters
	for _, n = range []*counters{&c.stats, &c.srv.stats} {
		switch kind {
		case opRead:
			n.reads.Add(1)
		case opWrite:
			n.writes.Add(1)
		case opMulti:
			n.multis.Add(1)
		}
	}
	return nil
}

// checkSession fails with ErrSessionLost unless sess is the client's live
// session. srv.mu must be held.
func (c *Client) checkSession(op, path string, sess storekit.Session) (*session, error) {
	ms, ok := sess.(*session)
	if !ok || ms == nil || ms != c.sess || !ms.live() {
		return nil, fmt.Errorf("memstore: %s %s: %w", op, path, schedule.ErrSessionLost)
	}
	return ms, nil
}

// Session implements storekit.Sessions. Between an expiry during a cut and
// the end of the cut the client has no session, and Session waits.
func (c *Client) Session(ctx context.Context) (storekit.Session, error) {
	s := c.srv
	for {
		s.mu.Lock()
		if c.closed {
			s.mu.Unlock()
			return nil, fmt.Errorf("memstore: session: %w", schedule.ErrClosed)
		}
		if c.err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("memstore: session: %w", c.err)
		}
		if c.sess != nil {
			sess := c.sess
			s.mu.Unlock()
			return sess, nil
		}
		wait := c.sessWait
		s.mu.Unlock()
		select {
		case <-wait:
		case <-c.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("memstore: session: %w", ctx.Err())
		}
	}
}

// Now implements storekit.ClusterClock: the server's clock. It needs no
// round trip, so it works while the client is cut off.
func (c *Client) Now(ctx context.Context) (time.Time, error) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return time.Time{}, fmt.Errorf("memstore: now: %w", schedule.ErrClosed)
	}
	if c.err != nil {
		return time.Time{}, fmt.Errorf("memstore: now: %w", c.err)
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("memstore: now: %w", err)
	}
	return s.clock.Now(), nil
}

// ClockInfo implements storekit.ClusterClock: no offset, no round trip,
// calibrated when the client connected.
func (c *Client) ClockInfo() storekit.ClockInfo {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	return storekit.ClockInfo{At: c.calibrated}
}

// Close implements storekit.Store: the session ends (its ephemerals vanish
// at once), every watch channel closes, and later calls fail with
// schedule.ErrClosed. Closing again is a no-op.
func (c *Client) Close() error {
	s := c.srv
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.sess != nil {
		s.endSession(c.sess, schedule.SessionClosed, schedule.ErrClosed)
	}
	for w := range c.watches {
		w.stop()
		s.closeWatch(w)
	}
	close(c.done)
	s.mu.Unlock()
	c.wg.Wait()
	return nil
}

// Stats returns the operation counts of this client.
func (c *Client) Stats() Stats { return c.stats.get() }

// FailNext makes the next n operations of this client fail with err (nil:
// ErrConnectionLoss), before they reach the server: nothing is written.
// Session, Now, ClockInfo and Close are not operations.
func (c *Client) FailNext(n int, err error) {
	if err == nil {
		err = ErrConnectionLoss
	}
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	c.failN, c.failErr = n, err
}

// Disconnect cuts the client off from the server for d, as a network
// partition would. During the cut the session is SessionSuspect and every
// operation fails with ErrConnectionLoss; watch events are held. If d is
// shorter than the session timeout, the same session is SessionConnected
// again after d and the held events are delivered. Otherwise the server
// expires the session when the timeout has elapsed (its ephemerals vanish,
// the Session goes SessionExpired), and the client gets a new session when
// the cut ends. Times are measured on the server's Clock, so a fake clock
// drives them. Disconnecting a cut-off client moves the end of the cut to
// d from now.
func (c *Client) Disconnect(d time.Duration) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return
	}
	now := s.clock.Now()
	if c.disc != nil {
		c.disc.until = now.Add(d)
		select {
		case c.disc.kick <- struct{}{}:
		default:
		}
		return
	}
	k := &cut{until: now.Add(d), expireAt: now.Add(c.timeout), kick: make(chan struct{}, 1)}
	c.disc = k
	if c.sess != nil {
		c.sess.setState(schedule.SessionSuspect, nil)
	}
	c.wg.Add(1)
	go c.runCut(k)
}

// Reconnect ends the current cut now (see Disconnect); no-op if the client
// is connected.
func (c *Client) Reconnect() {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed || c.disc == nil {
		return
	}
	c.reconnect()
}

// runCut waits for the deadlines of a cut: the session's expiry at the
// server and the end of the cut.
func (c *Client) runCut(k *cut) {
	defer c.wg.Done()
	s := c.srv
	for {
		s.mu.Lock()
		if c.closed || c.disc != k {
			s.mu.Unlock()
			return
		}
		now := s.clock.Now()
		if c.sess != nil && !now.Before(k.expireAt) {
			s.expire(c)
		}
		if !now.Before(k.until) {
			c.reconnect()
			s.mu.Unlock()
			return
		}
		next := k.until
		if c.sess != nil && k.expireAt.Before(next) {
			next = k.expireAt
		}
		s.mu.Unlock()

		t := s.clock.NewTimer(next.Sub(now))
		select {
		case <-t.C():
		case <-k.kick:
		case <-c.done:
		}
		t.Stop()
	}
}

// reconnect ends the cut: the session is connected again, or a new one is
// made if it expired meanwhile; held watch events are delivered. srv.mu must
// be held.
func (c *Client) reconnect() {
	s := c.srv
	select { // wake the cut's goroutine, so that it exits now
	case c.disc.kick <- struct{}{}:
	default:
	}
	c.disc = nil
	if c.sess == nil {
		s.newSession(c)
	} else {
		c.sess.setState(schedule.SessionConnected, nil)
	}
	for w := range c.watches {
		if w.pending {
			s.signal(w)
		}
	}
}
