package memstore

import (
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// session implements storekit.Session. Its mutable fields are guarded by
// srv.mu.
type session struct {
	srv        *Server
	id         int64
	timeout    time.Duration
	state      schedule.SessionState
	changed    chan struct{} // closed and replaced at each state change
	done       chan struct{} // closed when the session ends
	err        error
	ephemerals map[string]struct{} // paths of the nodes it owns
	// connected mirrors state == SessionConnected, for Alive without the
	// lock.
	connected atomic.Bool
}

var _ storekit.Session = (*session)(nil)

func (s *session) ID() int64              { return s.id }
func (s *session) Timeout() time.Duration { return s.timeout }
func (s *session) Done() <-chan struct{}  { return s.done }

// Alive is the lease of a memstore session: it holds while the session is
// connected; a Disconnect lapses it at once, before any goroutine watching
// the state has run.
func (s *session) Alive() bool { return s.connected.Load() }

func (s *session) State() schedule.SessionState {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.state
}

func (s *session) Changed() <-chan struct{} {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.changed
}

func (s *session) Err() error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.err
}

// live reports whether the session has not ended. srv.mu must be held.
func (s *session) live() bool {
	return s.state == schedule.SessionConnected || s.state == schedule.SessionSuspect
}

// setState moves the session to st; err is the final error for the final
// states. srv.mu must be held.
func (s *session) setState(st schedule.SessionState, err error) {
	if s.state == st || !s.live() {
		return
	}
	s.state = st
	s.connected.Store(st == schedule.SessionConnected)
	close(s.changed)
	s.changed = make(chan struct{})
	if !s.live() {
		s.err = err
		close(s.done)
	}
}
