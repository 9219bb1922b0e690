package manager

import (
	"context"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// An operator's run-now request (TaskType.RunNowAt, RunNowBy) opens a
// closed permit window once, as "startrun:" does at start. The manager
// learns of it from the configuration watch (reloadConfig notes it); the
// work host's loop, which owns the window, decides with runNowStep.

// runNowRequest is a run-now request as the task type carries it.
type runNowRequest struct {
	at time.Time
	by string
}

// runNowOutcome is what a run-now request does to a window.
type runNowOutcome int

const (
	runNowIgnored     runNowOutcome = iota // none, or handled already: no event
	runNowOpened                           // the closed window opens now
	runNowAlreadyOpen                      // the window is open: nothing new
	runNowAlways                           // no permit window: always open
	runNowSuperseded                       // the regular start came since the request
)

// runNowStep decides what req does to a window in state st at cluster time
// now, given the time of the last request this manager handled (done). It
// is pure: no clocks. A request is handled once per manager; one made
// before the window's regular start that has come since is outdated (that
// cycle's run happened).
func (w windowPlan) runNowStep(st windowState, req runNowRequest, done, now time.Time) (windowState, runNowOutcome) {
	switch {
	case req.at.IsZero() || !req.at.After(done):
		return st, runNowIgnored
	case w.always():
		return st, runNowAlways
	}
	if next := w.start.Next(req.at, w.loc); !next.IsZero() && !now.Before(next) {
		return st, runNowSuperseded
	}
	if st.Open {
		return st, runNowAlreadyOpen
	}
	return w.opened(now), runNowOpened
}

// runNowMessage describes an outcome for the event and the log.
func runNowMessage(o runNowOutcome, req runNowRequest) string {
	asked := "run-now asked by " + req.by + " at " + req.at.UTC().Format(schedule.TimeFormat)
	switch o {
	case runNowOpened:
		return asked + ": window opened"
	case runNowAlreadyOpen:
		return asked + ": the window is open already, nothing new"
	case runNowAlways:
		return asked + ": the task type has no permit window (always open), nothing new"
	case runNowSuperseded:
		return asked + ": the window's regular start came since, nothing new"
	}
	return asked
}

// noteRunNow records the task type's run-now request for the work host and
// wakes it. Called by reloadConfig.
func (m *Manager) noteRunNow(tt schedule.TaskType) {
	m.mu.Lock()
	changed := !tt.RunNowAt.Equal(m.runNow.at) || tt.RunNowBy != m.runNow.by
	m.runNow = runNowRequest{at: tt.RunNowAt, by: tt.RunNowBy}
	m.mu.Unlock()
	if w := m.work.Load(); changed && w != nil {
		signal(w.runNowC)
	}
}

// applyRunNow is the work host's step for a run-now request: it applies
// runNowStep to the window in state st and returns the new state.
func (w *workHost) applyRunNow(ctx context.Context, st windowState) windowState {
	m := w.m
	m.mu.Lock()
	req := m.runNow
	m.mu.Unlock()
	if req.at.IsZero() || !req.at.After(w.runNowDone) {
		return st
	}
	now, ok := w.clusterNow(ctx)
	if !ok {
		return st
	}
	next, o := m.window.runNowStep(st, req, w.runNowDone, now)
	if o == runNowIgnored {
		return st
	}
	w.runNowDone = req.at
	msg := runNowMessage(o, req)
	if o == runNowAlways || o == runNowSuperseded {
		// Outdated (the request of an earlier cycle, seen at start) or
		// moot: not news.
		m.log.Debug(msg, "server", m.serverID())
		return st
	}
	m.log.Info(msg, "server", m.serverID())
	if o == runNowOpened {
		w.applyWindow(next, false, "opened by run-now")
	}
	m.emit(schedule.Event{Kind: schedule.EventRunNow, Server: m.serverID(), Message: msg})
	return next
}
