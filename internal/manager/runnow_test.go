package manager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestRunNowStep(t *testing.T) {
	day := func(h, m int) time.Time { return time.Date(2026, 12, 4, h, m, 0, 0, time.UTC) }
	plan := func(start, end string) windowPlan {
		tt := schedule.DefaultTaskType("w")
		tt.PermitRunStartTime, tt.PermitRunEndTime = start, end
		w, err := newWindowPlan(tt)
		require.NoError(t, err)
		return w
	}
	nightly := plan("0 0 2 * * ?", "0 0 3 * * ?") // 02:00-03:00
	noData := plan("0 0 2 * * ?", "")             // 02:00 until no data
	closedAt := func(w windowPlan, now time.Time) windowState { return w.closed(now) }
	req := runNowRequest{at: day(12, 0), by: "ops"}
	for _, tc := range []struct {
		name  string
		w     windowPlan
		st    windowState
		req   runNowRequest
		done  time.Time
		now   time.Time
		want  runNowOutcome
		open  bool
		until time.Time // NextEnd when opened
	}{
		{"no request", nightly, closedAt(nightly, day(11, 0)), runNowRequest{}, time.Time{}, day(12, 0), runNowIgnored, false, time.Time{}},
		{"handled already", nightly, closedAt(nightly, day(11, 0)), req, req.at, day(12, 0), runNowIgnored, false, time.Time{}},
		{"an older request than the one handled", nightly, closedAt(nightly, day(11, 0)), req, req.at.Add(time.Minute), day(12, 0), runNowIgnored, false, time.Time{}},
		{"closed: opens until the end cron", nightly, closedAt(nightly, day(11, 0)), req, time.Time{}, day(12, 0), runNowOpened, true, day(3, 0).Add(24 * time.Hour)},
		{"closed, ends when no data", noData, closedAt(noData, day(11, 0)), req, time.Time{}, day(12, 0), runNowOpened, true, time.Time{}},
		{"a newer request after one handled", nightly, closedAt(nightly, day(11, 0)), req, day(11, 0), day(12, 0), runNowOpened, true, day(3, 0).Add(24 * time.Hour)},
		{"open already: nothing new", nightly, nightly.opened(day(2, 0)), runNowRequest{at: day(2, 30), by: "ops"}, time.Time{}, day(2, 30), runNowAlreadyOpen, true, day(3, 0)},
		{"the regular start came since: outdated", nightly, closedAt(nightly, day(3, 0)), runNowRequest{at: day(1, 0), by: "ops"}, time.Time{}, day(12, 0), runNowSuperseded, false, time.Time{}},
		{"no window: always open", plan("", ""), windowState{Open: true}, req, time.Time{}, day(12, 0), runNowAlways, true, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, got := tc.w.runNowStep(tc.st, tc.req, tc.done, tc.now)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.open, st.Open, "open")
			if got == runNowOpened {
				assert.Equal(t, tc.until, st.NextEnd, "the run ends at the window's next end")
				assert.Equal(t, day(2, 0).Add(24*time.Hour), st.NextStart, "the regular start stays")
			} else {
				assert.Equal(t, tc.st, st, "unchanged")
			}
		})
	}
}

func TestRunNowMessage(t *testing.T) {
	req := runNowRequest{at: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), by: "ops"}
	assert.Equal(t, "run-now asked by ops at 2026-12-04T12:00:00.000Z: window opened", runNowMessage(runNowOpened, req))
	assert.Contains(t, runNowMessage(runNowAlreadyOpen, req), "open already, nothing new")
}
