package manager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func mustPlan(t *testing.T, start, end, zone string) windowPlan {
	t.Helper()
	tt := schedule.DefaultTaskType("w")
	tt.PermitRunStartTime, tt.PermitRunEndTime, tt.TimeZone = start, end, zone
	w, err := newWindowPlan(tt)
	require.NoError(t, err)
	return w
}

func TestWindowInitial(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		name, start, end, zone string
		now                    string
		open                   bool
		nextStart, nextEnd     string // "" = zero
	}{
		{name: "no start: always open", now: "2026-11-21T10:00:00Z", open: true},
		{name: "inside a daily window", start: "0 0 9 * * ?", end: "0 0 17 * * ?", now: "2026-11-21T10:00:00Z",
			open: true, nextStart: "2026-11-22T09:00:00Z", nextEnd: "2026-11-21T17:00:00Z"},
		{name: "before the window", start: "0 0 9 * * ?", end: "0 0 17 * * ?", now: "2026-11-21T08:00:00Z",
			open: false, nextStart: "2026-11-21T09:00:00Z", nextEnd: "2026-11-21T17:00:00Z"},
		{name: "after the window", start: "0 0 9 * * ?", end: "0 0 17 * * ?", now: "2026-11-21T18:00:00Z",
			open: false, nextStart: "2026-11-22T09:00:00Z", nextEnd: "2026-11-22T17:00:00Z"},
		{name: "window across midnight", start: "0 0 22 * * ?", end: "0 0 6 * * ?", now: "2026-11-21T23:00:00Z",
			open: true, nextStart: "2026-11-22T22:00:00Z", nextEnd: "2026-11-22T06:00:00Z"},
		{name: "startrun: opens at once", start: "startrun:0 0 9 * * ?", end: "0 0 17 * * ?", now: "2026-11-21T18:00:00Z",
			open: true, nextStart: "2026-11-22T09:00:00Z", nextEnd: "2026-11-22T17:00:00Z"},
		{name: "pause when no data, before start", start: "0 0 9 * * ?", end: "-1", now: "2026-11-21T08:00:00Z",
			open: false, nextStart: "2026-11-21T09:00:00Z"},
		{name: "pause when no data, startrun", start: "startrun:0 0 9 * * ?", end: "", now: "2026-11-21T08:00:00Z",
			open: true, nextStart: "2026-11-21T09:00:00Z"},
		{name: "time zone: 9-17 in Shanghai is 1-9 UTC", start: "0 0 9 * * ?", end: "0 0 17 * * ?", zone: "Asia/Shanghai",
			now: "2026-11-21T02:00:00Z", open: true, nextStart: "2026-11-22T01:00:00Z", nextEnd: "2026-11-21T09:00:00Z"},
		{name: "quartz weekday: Monday only (2)", start: "0 0 9 ? * 2", end: "0 0 10 ? * 2", now: "2026-11-21T09:30:00Z",
			open: false, nextStart: "2026-11-23T09:00:00Z", nextEnd: "2026-11-23T10:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := mustPlan(t, tc.start, tc.end, tc.zone)
			st := w.initial(at(tc.now))
			assert.Equal(t, tc.open, st.Open, "open")
			if tc.nextStart == "" {
				assert.True(t, st.NextStart.IsZero(), "next start %v", st.NextStart)
			} else {
				assert.True(t, at(tc.nextStart).Equal(st.NextStart), "next start %v, want %s", st.NextStart, tc.nextStart)
			}
			if tc.nextEnd == "" {
				assert.True(t, st.NextEnd.IsZero(), "next end %v", st.NextEnd)
			} else {
				assert.True(t, at(tc.nextEnd).Equal(st.NextEnd), "next end %v, want %s", st.NextEnd, tc.nextEnd)
			}
		})
	}
}

func TestWindowTransitions(t *testing.T) {
	w := mustPlan(t, "0 0 9 * * ?", "0 0 17 * * ?", "")
	open := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	st := w.opened(open)
	assert.True(t, st.Open)
	assert.Equal(t, time.Date(2026, 11, 21, 17, 0, 0, 0, time.UTC), st.NextEnd)
	assert.Equal(t, time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), st.NextStart)
	st = w.closed(st.NextEnd)
	assert.False(t, st.Open)
	assert.Equal(t, time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), st.NextStart)
	assert.Equal(t, time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC), st.NextEnd)
	s, e := w.describe(st)
	assert.Equal(t, "2026-11-22T09:00:00.000Z", s)
	assert.Equal(t, "2026-11-22T17:00:00.000Z", e)

	nd := mustPlan(t, "0 0 9 * * ?", "-1", "")
	_, e = nd.describe(nd.opened(open))
	assert.Equal(t, "when no data", e)
}

func TestWindowBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name, start, end, zone, want string
		cron                         *schedule.CronError // the cron error wrapped, nil for none
	}{
		{"L in start", "0 0 9 L * ?", "", "", `permitRunStartTime: schedule: cron "0 0 9 L * ?": day-of-month: `,
			&schedule.CronError{Spec: "0 0 9 L * ?", Field: "day-of-month"}},
		{"startrun alone", "startrun:", "", "", `permitRunStartTime: schedule: cron "startrun:": a cron must follow`,
			&schedule.CronError{Spec: "startrun:"}},
		{"hash in end", "0 0 9 * * ?", "0 0 17 ? * 2#1", "", `permitRunEndTime: schedule: cron "0 0 17 ? * 2#1": day-of-week: `,
			&schedule.CronError{Spec: "0 0 17 ? * 2#1", Field: "day-of-week"}},
		{"bad zone", "0 0 9 * * ?", "", "Mars/Olympus", "timeZone", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := schedule.DefaultTaskType("w")
			tt.PermitRunStartTime, tt.PermitRunEndTime, tt.TimeZone = tc.start, tc.end, tc.zone
			_, err := newWindowPlan(tt)
			require.Error(t, err)
			assert.ErrorIs(t, err, schedule.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
			if tc.cron != nil {
				var ce *schedule.CronError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.cron.Spec, ce.Spec)
				assert.Equal(t, tc.cron.Field, ce.Field)
				assert.NotEmpty(t, ce.Problem)
			}
		})
	}
}
