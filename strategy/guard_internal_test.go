package strategy

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// guardSession is a storekit.Session whose state the test sets.
type guardSession struct {
	mu      sync.Mutex // guards st, changed
	st      schedule.SessionState
	changed chan struct{}
}

func newGuardSession() *guardSession {
	return &guardSession{st: schedule.SessionConnected, changed: make(chan struct{})}
}

func (s *guardSession) ID() int64              { return 7 }
func (s *guardSession) Timeout() time.Duration { return 3 * time.Second }
func (s *guardSession) Done() <-chan struct{}  { return nil }
func (s *guardSession) Err() error             { return nil }
func (s *guardSession) Alive() bool            { return s.State() == schedule.SessionConnected }
func (s *guardSession) State() schedule.SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}
func (s *guardSession) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}
func (s *guardSession) set(st schedule.SessionState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
	close(s.changed)
	s.changed = make(chan struct{})
}

// Under a new session, Bean copies start only after a successful refresh
// has proved the session alive, as a manager fetches only then (the
// factory's own copy of the guard let copies start as soon as the session
// read connected). After a blip (suspect, then connected) they may start
// again at once: the store reports connected only when the server has
// answered on the session recently.
func TestCopyGuardHoldsUntilConfirmed(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	f := &Factory{log: slog.New(slog.NewTextHandler(io.Discard, nil)), clock: clk}
	sess := newGuardSession()
	g := newCopyGuard(f, sess)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.run(ctx) }()
	defer func() { cancel(); <-done; g.release() }()
	<-g.changed // the guard's first look: connected

	_, ok := g.context()
	assert.False(t, ok, "a copy may start under a new session before any refresh confirmed it")
	g.lift()
	_, ok = g.context()
	require.True(t, ok, "confirmed: copies may start")

	sess.set(schedule.SessionSuspect)
	<-g.changed
	_, ok = g.context()
	require.False(t, ok, "suspect: no copy starts")
	sess.set(schedule.SessionConnected)
	<-g.changed
	_, ok = g.context()
	assert.True(t, ok, "connected again after a blip: copies may start")
}
