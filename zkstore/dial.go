package zkstore

import (
	"context"
	"sort"
	"strings"
	"sync"
)

// Failed connections while Open waits for the first session.
//
// go-zookeeper retries its servers forever and tells nobody why a connection
// failed. The store's dialer reports every attempt here; when every address
// has refused (or otherwise failed) a connection and none has been accepted,
// nothing is listening and waiting longer is pointless: Open fails at once,
// naming each address's cause, instead of after ConnectTimeout. Once a
// connection has been accepted (a server listens but may still be electing a
// leader) Open waits out ConnectTimeout as before; after Open, failed
// connections are the client's ordinary reconnects and are not watched.
type dialWatch struct {
	mu       sync.Mutex
	failed   map[string]error // address → its last failure
	accepted bool             // some address accepted a connection
	done     bool             // Open has stopped watching
	gaveUp   chan struct{}    // closed when every address has failed
}

func newDialWatch() *dialWatch {
	return &dialWatch{failed: map[string]error{}, gaveUp: make(chan struct{})}
}

// dialed records the outcome of one connection attempt to address; total is
// the number of addresses the client tries.
func (w *dialWatch) dialed(address string, err error, total int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if err == nil {
		w.accepted = true
		return
	}
	w.failed[address] = err
	if unreachable(len(w.failed), total, w.accepted) {
		w.done = true
		close(w.gaveUp)
	}
}

// unreachable decides that no ZooKeeper listens: every one of total
// addresses failed a connection and none accepted one.
func unreachable(failed, total int, accepted bool) bool {
	return !accepted && total > 0 && failed >= total
}

// stop ends the watch (Open has its session, or has failed).
func (w *dialWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// err returns the failures recorded so far, nil if none.
func (w *dialWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.failed) == 0 {
		return nil
	}
	e := &dialError{}
	for _, a := range sortedKeys(w.failed) {
		e.errs = append(e.errs, w.failed[a])
	}
	return e
}

func sortedKeys(m map[string]error) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dialError is the failed connections of Open, by address. Each net error
// names its address ("dial tcp 127.0.0.1:2181: connect: connection
// refused") and stays reachable with errors.Is (syscall.ECONNREFUSED...).
type dialError struct{ errs []error }

func (e *dialError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e *dialError) Unwrap() []error { return e.errs }

// firstSession waits for the first session, like liveSession, but gives up
// as soon as every address has failed a connection.
func (s *Store) firstSession(ctx context.Context) (*session, error) {
	for {
		s.sessMu.Lock()
		cur, ch := s.cur, s.curCh
		s.sessMu.Unlock()
		if cur != nil && !cur.ended() {
			return cur, nil
		}
		// An ended context wins over the dials giving up: select picks
		// at random among the ready cases, and an Open cancelled before it
		// began reported the refused dials half the time.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case <-ch:
		case <-s.dials.gaveUp:
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, &unreachableError{cause: s.dials.err()}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// unreachableError: no address accepted a connection.
type unreachableError struct{ cause error }

func (e *unreachableError) Error() string {
	return "no server accepted a connection: " + e.cause.Error()
}

func (e *unreachableError) Unwrap() error { return e.cause }

// connSet is the connections the client has open. Close closes them: the
// client's own Close does not, and a read from a server that accepted the
// connection but never answers blocks for many session timeouts.
type connSet struct {
	mu     sync.Mutex // guards the fields below
	conns  map[*watchedConn]struct{}
	closed bool
}

// add tracks c (and closes it at once if the set is closed).
func (cs *connSet) add(c *watchedConn) *watchedConn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		_ = c.Conn.Close()
		return c
	}
	if cs.conns == nil {
		cs.conns = map[*watchedConn]struct{}{}
	}
	cs.conns[c] = struct{}{}
	return c
}

func (cs *connSet) remove(c *watchedConn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.conns, c)
}

func (cs *connSet) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for c := range cs.conns {
		_ = c.Conn.Close()
	}
	cs.conns = nil
}

// Close closes the connection and forgets it.
func (c *watchedConn) Close() error {
	c.s.conns.remove(c)
	return c.Conn.Close()
}
