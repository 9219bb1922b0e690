package strategy_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// A run-now request restarts no manager (it is not a configuration change
// for the factory), and applying the task type's document again keeps it.
func TestRunNowRestartsNothing(t *testing.T) {
	e := newEnv(t)
	tt := taskType("rn", 2)
	tt.PermitRunStartTime = "0 0 0 1 1 ?"
	e.applyTaskType(tt)
	e.applyStrategy(scheduleStrategy("rn-s", "rn", 1, 1))
	p := e.start("a")
	var before schedule.ServerID
	waitFor(t, 10*time.Second, func() (bool, string) {
		s, _ := p.f.Status().Strategy("rn-s")
		if len(s.Managers) == 1 && len(s.Managers[0].Owned) == 2 {
			before = s.Managers[0].Server
		}
		return before != "", "the manager owns the items"
	})
	written, err := e.admin.RunNow(e.ctx, "rn-s", "")
	require.NoError(t, err)
	assert.Equal(t, "test", written.RunNowBy, "the admin's operator by default")
	waitFor(t, 10*time.Second, func() (bool, string) {
		return hasEvent(p.f.Status().Events, schedule.EventRunNow, "rn-s"), "the manager handled the request"
	})
	changed, err := e.admin.ApplyTaskType(e.ctx, tt)
	require.NoError(t, err)
	assert.False(t, changed, "the document without a request is the stored task type")
	got, _, err := e.obs.TaskType(e.ctx, "rn")
	require.NoError(t, err)
	assert.True(t, got.RunNowAt.Equal(written.RunNowAt), "apply kept the request")
	// Two rounds of the factory's loop after the request (each round reads
	// the task type): the same manager runs, nothing was restarted.
	wakes := 0
	last := lastWake(t, p.f)
	waitFor(t, 10*time.Second, func() (bool, string) {
		if w := lastWake(t, p.f); w.After(last) {
			wakes, last = wakes+1, w
		}
		return wakes >= 2, "two rounds of the factory's loop"
	})
	s, _ := p.f.Status().Strategy("rn-s")
	require.Len(t, s.Managers, 1)
	assert.Equal(t, before, s.Managers[0].Server, "the manager was restarted")
	assert.False(t, hasEvent(p.f.Status().Events, schedule.EventStartFailed, "rn-s"))
}

// lastWake is the factory's main loop's last wake, from /healthz.
func lastWake(t *testing.T, f *strategy.Factory) time.Time {
	rec := httptest.NewRecorder()
	f.Health().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var body struct {
		LastWake time.Time `json:"lastWake"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	return body.LastWake
}
