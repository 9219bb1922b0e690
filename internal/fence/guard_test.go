package fence_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
)

// session is a fence.Session whose condition the test sets.
type session struct {
	mu      sync.Mutex // guards c, changed
	c       fence.Condition
	changed chan struct{}
}

func newSession() *session { return &session{c: fence.Connected, changed: make(chan struct{})} }

func (s *session) Condition() fence.Condition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *session) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *session) set(c fence.Condition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c = c
	close(s.changed)
	s.changed = make(chan struct{})
}

// work records what the guard applies.
type work struct {
	mu    sync.Mutex // guards calls
	calls []string
}

func (w *work) Hold(on bool, c fence.Condition)  { w.add(fmt.Sprintf("hold %v (%v)", on, c)) }
func (w *work) Fence(on bool, c fence.Condition) { w.add(fmt.Sprintf("fence %v (%v)", on, c)) }
func (w *work) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, s)
}
func (w *work) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

type clock struct{ c *fakeclock.Clock }

func (c clock) Now() time.Time                       { return c.c.Now() }
func (c clock) NewTimer(d time.Duration) fence.Timer { return c.c.NewTimer(d) }

// harness runs a guard on a fake clock; each step waits for the guard's
// look (Changed) before the test goes on.
type harness struct {
	clk  *fakeclock.Clock
	sess *session
	work *work
	g    *fence.Guard
	done chan struct{}
}

func start(t *testing.T, p fence.Policy, st fence.State) *harness {
	h := &harness{clk: fakeclock.New(t0), sess: newSession(), work: &work{}, done: make(chan struct{})}
	h.g = fence.NewGuard(h.sess, h.work, clock{h.clk}, p, st)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(h.done); h.g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-h.done })
	<-h.g.Changed() // the first look
	return h
}

func (h *harness) set(c fence.Condition) { h.sess.set(c); <-h.g.Changed() }

// A flap (suspect, connected a moment, suspect again for good, as in a
// partition whose expiry the client cannot learn) is fenced After the
// second suspicion, not later and not sooner.
func TestGuardFencesAfterAFlap(t *testing.T) {
	h := start(t, fence.Policy{After: time.Second}, fence.State{Confirmed: true})
	h.set(fence.Suspect)
	require.True(t, h.g.State().Held, "held at once")
	h.clk.Advance(300 * time.Millisecond)
	h.set(fence.Connected)
	assert.Zero(t, h.clk.Waiters(), "connected: the fence timer stopped")
	h.clk.Advance(300 * time.Millisecond)
	h.set(fence.Suspect)
	h.clk.Advance(time.Second - time.Nanosecond)
	assert.False(t, h.g.State().Fenced, "fenced before After from the second suspicion")
	h.clk.Advance(time.Nanosecond)
	<-h.g.Changed() // the timer's look
	assert.True(t, h.g.State().Fenced, "suspect for After since the flap, yet not fenced")
	assert.Equal(t, []string{"hold true (suspect)", "hold false (connected)", "hold true (suspect)", "fence true (suspect)"}, h.work.log())
}

// Under a new session the work stays held until the owner confirms the
// session, connected or not; a confirmation while suspect does nothing.
// Once confirmed, the session connected again lifts hold and fence.
func TestGuardLiftsOnConnectedOnceConfirmed(t *testing.T) {
	h := start(t, fence.Policy{After: time.Second}, fence.Start(true))
	h.set(fence.Connected)
	require.Equal(t, fence.Start(true), h.g.State(), "connected alone lifted a new session's fence")
	h.g.Confirm()
	require.Equal(t, fence.State{Confirmed: true}, h.g.State())
	h.set(fence.Suspect)
	h.clk.Advance(time.Second)
	<-h.g.Changed()
	h.g.Confirm()
	require.True(t, h.g.State().Fenced, "a confirmation while suspect lifted the fence")
	h.set(fence.Connected)
	assert.Equal(t, fence.State{Confirmed: true}, h.g.State(), "connected again did not lift")
	assert.Equal(t, []string{"fence false (connected)", "hold false (connected)", "hold true (suspect)", "fence true (suspect)",
		"fence false (connected)", "hold false (connected)"}, h.work.log())
}

// A lost session fences at once and ends the guard's goroutine.
func TestGuardLost(t *testing.T) {
	h := start(t, fence.Policy{After: time.Second}, fence.State{})
	h.sess.set(fence.Lost)
	<-h.done
	assert.Equal(t, fence.State{Held: true, Fenced: true, Lost: true}, h.g.State())
	assert.Equal(t, []string{"hold true (lost)", "fence true (lost)"}, h.work.log())
	h.g.Confirm()
	assert.True(t, h.g.State().Fenced, "a lost fence was lifted")
}

// Lose: the owner found the session lost before the guard saw it.
func TestGuardLose(t *testing.T) {
	h := start(t, fence.Policy{After: time.Second}, fence.State{})
	h.g.Lose()
	assert.Equal(t, fence.State{Held: true, Fenced: true, Lost: true}, h.g.State())
}

// The fault is an option of each guard, not of the process: one guard
// with self-fencing off leaves another's fencing alone.
func TestGuardFaultIsPerGuard(t *testing.T) {
	broken := start(t, fence.PolicyOf(3*time.Second, 0, fence.NoSelfFencing()), fence.State{})
	sound := start(t, fence.PolicyOf(3*time.Second, 0, fence.Fault{}), fence.State{})
	broken.set(fence.Suspect)
	sound.set(fence.Suspect)
	assert.Zero(t, broken.clk.Waiters(), "self-fencing off: no fence armed")
	broken.clk.Advance(time.Minute)
	sound.clk.Advance(time.Second)
	<-sound.g.Changed()
	assert.Equal(t, fence.State{}, broken.g.State(), "self-fencing off, yet the work was held or fenced")
	assert.Equal(t, fence.State{Held: true, Fenced: true}, sound.g.State(), "the other guard did not fence")
}
