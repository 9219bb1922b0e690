package strategy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestLiveReasons(t *testing.T) {
	const bound = 70 * time.Second
	tests := []struct {
		name  string
		phase loopPhase
		woke  time.Time
		now   time.Time
		want  []string
	}{
		{"running, woke just now", phaseRunning, at(0), at(time.Second), nil},
		{"running, at the bound", phaseRunning, at(0), at(bound), nil},
		{"running, past the bound: stuck", phaseRunning, at(0), at(bound + time.Millisecond),
			[]string{"main loop stuck: last woke 1m10.001s ago (bound 1m10s)"}},
		{"waiting for a session is not bounded", phaseSession, at(0), at(time.Hour), nil},
		{"a graceful stop is alive", phaseStopping, at(0), at(time.Hour), nil},
		{"Run not called", phaseIdle, time.Time{}, at(0), []string{"factory not started"}},
		{"Run returned", phaseStopped, at(0), at(time.Second), []string{"factory stopped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := liveReasons(healthInput{phase: tt.phase, woke: tt.woke, bound: bound}, tt.now)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadyReasons(t *testing.T) {
	ready := Status{Factory: "f1", Session: schedule.SessionConnected, Strategies: []StrategyStatus{{
		Name: "s", Managers: []schedule.Status{{Server: "m1", Session: schedule.SessionConnected},
			{Server: "m2", Session: schedule.SessionClosed}}, // starting or stopping: not a fault
	}}}
	with := func(f func(*Status)) Status {
		st := ready
		st.Strategies = []StrategyStatus{ready.Strategies[0]}
		st.Strategies[0].Managers = append([]schedule.Status(nil), ready.Strategies[0].Managers...)
		f(&st)
		return st
	}
	tests := []struct {
		name  string
		phase loopPhase
		st    Status
		want  []string
	}{
		{"ready", phaseRunning, ready, nil},
		{"suspect session", phaseRunning, with(func(s *Status) { s.Session = schedule.SessionSuspect }),
			[]string{"session suspect"}},
		{"expired, not registered yet", phaseSession, with(func(s *Status) { s.Session, s.Factory = schedule.SessionExpired, "" }),
			[]string{"session expired", "factory not registered"}},
		{"stopped by the operator", phaseRunning, with(func(s *Status) { s.Stopped, s.StoppedBy, s.StopReason = true, "ops", "disk" }),
			[]string{`machine stopped by the operator (by "ops": "disk")`}},
		{"a thread group held", phaseRunning, with(func(s *Status) { s.Strategies[0].Managers[0].Session = schedule.SessionSuspect }),
			[]string{"strategy s thread group m1: session suspect"}},
		{"stopping", phaseStopping, ready, []string{"factory stopping"}},
		{"not started", phaseIdle, Status{Session: schedule.SessionClosed},
			[]string{"factory not started", "session closed", "factory not registered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readyReasons(healthInput{st: tt.st, phase: tt.phase}))
		})
	}
}

// A factory whose Run was never called: the handler's protocol (methods,
// paths, headers, codes, body) without a store.
func TestHealthHandlerProtocol(t *testing.T) {
	f := &Factory{cfg: DefaultConfig(), clock: schedule.SystemClock()}
	h := f.Health()
	serve := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	for _, path := range []string{"/healthz", "/readyz", "/probe/readyz"} {
		rec := serve(http.MethodGet, path)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, path)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), path)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), path)
		var body healthBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), path)
		assert.Equal(t, "fail", body.Status, path)
		assert.Contains(t, body.Reasons, "factory not started", path)
		assert.Equal(t, "not started", body.Loop, path)
	}
	head := serve(http.MethodHead, "/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, head.Code)
	assert.Empty(t, head.Body.String())
	post := serve(http.MethodPost, "/healthz")
	assert.Equal(t, http.StatusMethodNotAllowed, post.Code)
	assert.Equal(t, "GET, HEAD", post.Header().Get("Allow"))
	assert.Equal(t, http.StatusNotFound, serve(http.MethodGet, "/metrics").Code)
}
