package manager

import (
	"slices"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Status returns a snapshot of the manager's state.
func (m *Manager) Status() schedule.Status {
	m.mu.Lock()
	st := m.status
	st.Owned = slices.Clone(st.Owned)
	st.Releasing = slices.Clone(st.Releasing)
	if m.lastError != nil {
		st.LastError = m.lastError.Error()
	}
	m.mu.Unlock()
	if w := m.work.Load(); w != nil {
		ws := w.windowState()
		st.Window = schedule.WindowStatus{State: ws.name(), NextStart: schedule.Time{Time: ws.state.NextStart}, NextEnd: schedule.Time{Time: ws.state.NextEnd}}
		st.Stats = w.stats()
	}
	return st
}

func (m *Manager) updateStatus(f func(*schedule.Status)) {
	m.mu.Lock()
	f(&m.status)
	m.mu.Unlock()
}
