package manager

import (
	"context"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// TestRound runs single rounds of a manager's session loop (reconcile) on a
// session and a server registered by the test, for tests of what one round
// does.
type TestRound struct {
	m *Manager
	s *session
	w *workHost
}

// NewTestRound returns the rounds of m as server me, registered under sess.
func NewTestRound(m *Manager, sess storekit.Session, me schedule.ServerID) *TestRound {
	s := &session{sess: sess, me: me, releasing: map[schedule.ItemID]time.Time{}, owned: map[schedule.ItemID]schedule.Item{},
		gone: map[schedule.ServerID]time.Time{}, delays: map[schedule.ServerID]time.Duration{}, hosts: map[schedule.ServerID]string{}, recheck: true}
	m.mu.Lock()
	m.session = s
	m.mu.Unlock()
	return &TestRound{m: m, s: s, w: newWorkHost(m)}
}

// Released makes ids releases under way whose batch boundary has passed,
// as when an earlier round started them and the processor let them go.
func (r *TestRound) Released(ids ...schedule.ItemID) {
	for _, id := range ids {
		r.s.releasing[id] = r.m.clock.Now()
	}
	r.m.mu.Lock()
	r.m.finished = append(r.m.finished, ids...)
	r.m.mu.Unlock()
}

// Reconcile runs one round; again: it asked for another one soon.
func (r *TestRound) Reconcile(ctx context.Context) (again bool, err error) {
	k, err := r.m.reconcile(ctx, r.s, r.w)
	return k != retryNone, err
}

// WatchServers arms the servers' watch of the session loop, which a round
// may look at (serversMoved).
func (r *TestRound) WatchServers(ctx context.Context) error {
	ch, err := r.m.store.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: r.m.runtime})
	r.s.serversCh = ch
	return err
}
