package manager

import (
	"fmt"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/quartz"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// windowPlan is a task type's permit window: when its processor may run,
// evaluated on cluster time in the task type's zone. It is pure: no clocks.
type windowPlan struct {
	start     *quartz.Cron // nil: always permitted
	runNow    bool         // "startrun:": also open at once
	end       *quartz.Cron // nil with start != nil: pause when no data
	noDataEnd bool         // end is "" or "-1"
	loc       *time.Location
}

// windowState is where a window stands at some instant.
type windowState struct {
	Open bool
	// NextStart / NextEnd are the next transitions after the instant (zero
	// when there is none: no start cron, or an end that waits for no data).
	NextStart time.Time
	NextEnd   time.Time
}

func newWindowPlan(t schedule.TaskType) (windowPlan, error) {
	loc := time.UTC
	if t.TimeZone != "" {
		l, err := time.LoadLocation(t.TimeZone)
		if err != nil {
			return windowPlan{}, fmt.Errorf("%w: timeZone %q: %v", schedule.ErrInvalid, t.TimeZone, err)
		}
		loc = l
	}
	w := windowPlan{loc: loc}
	if t.PermitRunStartTime == "" {
		return w, nil
	}
	start, runNow, err := parseWindowStart(t.PermitRunStartTime)
	if err != nil {
		return windowPlan{}, fmt.Errorf("permitRunStartTime: %w", err)
	}
	w.start, w.runNow = start, runNow
	if quartz.NoDataEnd(t.PermitRunEndTime) {
		w.noDataEnd = true
		return w, nil
	}
	end, err := parseCron(t.PermitRunEndTime)
	if err != nil {
		return windowPlan{}, fmt.Errorf("permitRunEndTime: %w", err)
	}
	w.end = end
	return w, nil
}

// always reports whether the window never closes on its own.
func (w windowPlan) always() bool { return w.start == nil }

// initial returns the state at the manager's start: TBSchedule's rule is that
// the window is open now if "startrun:" says so, or if an end comes before
// the next start (we are inside a window that started earlier).
func (w windowPlan) initial(now time.Time) windowState {
	if w.start == nil {
		return windowState{Open: true}
	}
	nextStart := w.start.Next(now, w.loc)
	st := windowState{NextStart: nextStart, Open: w.runNow}
	if w.end != nil {
		nextEnd := w.end.Next(now, w.loc)
		if !nextEnd.IsZero() && (nextStart.IsZero() || nextEnd.Before(nextStart)) {
			st.Open = true
		}
		st.NextEnd = nextEnd
		if !st.Open && !nextStart.IsZero() {
			st.NextEnd = w.end.Next(nextStart, w.loc)
		}
	}
	return st
}

// opened returns the state right after the window opened at instant at.
func (w windowPlan) opened(at time.Time) windowState {
	st := windowState{Open: true}
	if w.start != nil {
		st.NextStart = w.start.Next(at, w.loc)
	}
	if w.end != nil {
		st.NextEnd = w.end.Next(at, w.loc)
	}
	return st
}

// closed returns the state right after the window closed at instant at.
func (w windowPlan) closed(at time.Time) windowState {
	st := windowState{}
	if w.start != nil {
		st.NextStart = w.start.Next(at, w.loc)
		if w.end != nil && !st.NextStart.IsZero() {
			st.NextEnd = w.end.Next(st.NextStart, w.loc)
		}
	}
	return st
}

// describe renders the next transitions the way operators read them in the
// server record (nextRunStartTime / nextRunEndTime).
func (w windowPlan) describe(st windowState) (start, end string) {
	switch {
	case w.start == nil:
		return "", ""
	case st.NextStart.IsZero():
		start = "never"
	default:
		start = st.NextStart.In(w.loc).Format(schedule.TimeFormat)
	}
	switch {
	case w.noDataEnd:
		end = "when no data"
	case st.NextEnd.IsZero():
		end = "never"
	default:
		end = st.NextEnd.In(w.loc).Format(schedule.TimeFormat)
	}
	return start, end
}
