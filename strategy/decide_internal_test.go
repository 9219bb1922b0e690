package strategy

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
)

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestNextWake(t *testing.T) {
	var none time.Time
	tests := []struct {
		name   string
		seen   time.Time
		timers []time.Time
		want   time.Time
	}{
		{"nothing pending", at(0), []time.Time{none, none}, none},
		{"earliest future timer", at(0), []time.Time{at(3 * time.Second), at(time.Second), at(2 * time.Second)}, at(time.Second)},
		{"zero timers are not pending", at(0), []time.Time{none, at(5 * time.Second), none}, at(5 * time.Second)},
		{"due after the last round but before now: at once", at(0), []time.Time{at(time.Second)}, at(time.Second)},
		{"due at the last round's start: it had its round", at(time.Second), []time.Time{at(time.Second)}, none},
		// The spin once reported: every refresh fails (a corrupt strategy
		// node), a failed start's retry is past. The failed round started
		// after the retry was due, so only the refresh's own backoff
		// counts.
		{"corrupt strategy: a past retry does not wake again", at(10 * time.Second),
			[]time.Time{none, at(12 * time.Second), at(2 * time.Second), at(3 * time.Second), none}, at(12 * time.Second)},
		{"corrupt strategy: a later retry still wakes first", at(10 * time.Second),
			[]time.Time{none, at(12 * time.Second), at(11 * time.Second)}, at(11 * time.Second)},
		{"conflict retry", at(0), []time.Time{at(20 * time.Millisecond), none}, at(20 * time.Millisecond)},
		{"ghost end", at(0), []time.Time{none, none, none, none, at(4 * time.Second)}, at(4 * time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nextWake(tc.seen, tc.timers...)
			assert.Equal(t, tc.want, got)
			assert.True(t, got.IsZero() || got.After(tc.seen), "a wake-up is never at or before the last round")
		})
	}
}

func TestStartRetryMayStart(t *testing.T) {
	failed := startRetry{lastErr: errors.New("x"), failKey: "k", retryAt: at(time.Second)}
	tests := []struct {
		name string
		r    startRetry
		now  time.Time
		key  string
		want bool
	}{
		{"no failure", startRetry{}, at(0), "k", true},
		{"before the retry", failed, at(999 * time.Millisecond), "k", false},
		{"at the retry", failed, at(time.Second), "k", true},
		{"after the retry", failed, at(2 * time.Second), "k", true},
		{"another configuration at once", failed, at(0), "k2", true},
		{"failure without a configuration blocks only that", startRetry{lastErr: errors.New("x"), retryAt: at(time.Second)}, at(0), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.r.mayStart(tc.now, tc.key))
		})
	}
}

func TestStartRetryFailed(t *testing.T) {
	err := errors.New("boom")
	r := startRetry{lastErr: errors.New("old"), failKey: "old", healthyAt: at(time.Second)}
	got := r.failed(err, "k", at(5*time.Second), 300*time.Millisecond)
	assert.Equal(t, startRetry{lastErr: err, failKey: "k", retryAt: at(5300 * time.Millisecond)}, got,
		"the retry after the delay; a probation under way ends")
}

func TestStartRetryProbation(t *testing.T) {
	err := errors.New("x")
	failing := startRetry{lastErr: err, failKey: "k", retryAt: at(time.Second)}
	onProbation := failing
	onProbation.healthyAt = at(3 * time.Second)
	const hold = time.Second
	tests := []struct {
		name       string
		r          startRetry
		req, units int
		now        time.Time
		want       startRetry
		reset      bool
	}{
		{"nothing failed", startRetry{}, 2, 0, at(0), startRetry{}, false},
		{"units missing: no probation", onProbation, 2, 1, at(5 * time.Second), failing, false},
		{"every unit runs: probation starts", failing, 2, 2, at(2 * time.Second), onProbation, false},
		{"during the probation", onProbation, 2, 2, at(2999 * time.Millisecond), onProbation, false},
		{"probation over: forgotten, backoff reset", onProbation, 2, 2, at(3 * time.Second), startRetry{}, true},
		{"nothing wanted, nothing runs: forgotten", failing, 0, 0, at(0), startRetry{}, true},
		{"nothing wanted, units stopping: probation", failing, 0, 1, at(0), startRetry{lastErr: err, failKey: "k", retryAt: at(time.Second), healthyAt: at(hold)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reset := tc.r.probation(tc.req, tc.units, tc.now, hold)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.reset, reset)
		})
	}
}

func TestStaleUnits(t *testing.T) {
	units := []unitView{{key: "a"}, {key: "b"}, {key: "a", stopping: true}, {key: "b", stopping: true}}
	tests := []struct {
		name                string
		wanted, gone, keyOK bool
		key                 string
		want                []int
	}{
		{"all of the current configuration", true, false, true, "a", []int{1}},
		{"not wanted (paused, deleted, not admitted, machine stopped)", false, false, true, "a", []int{0, 1}},
		{"task type deleted", true, true, false, "", []int{0, 1}},
		{"configuration unknown (prepare failed): keep them", true, false, false, "", nil},
		{"every unit of another configuration", true, false, true, "c", []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, staleUnits(units, tc.wanted, tc.gone, tc.keyOK, tc.key))
		})
	}
}

func TestResize(t *testing.T) {
	u := func(stopping ...bool) []unitView {
		var out []unitView
		for _, s := range stopping {
			out = append(out, unitView{key: "k", stopping: s})
		}
		return out
	}
	tests := []struct {
		name  string
		units []unitView
		req   int
		stop  []int
		start int
	}{
		{"none, none wanted", nil, 0, nil, 0},
		{"start up to req", u(false), 3, nil, 2},
		{"negative req is none", u(false, false), -1, []int{1, 0}, 0},
		{"stop the newest first", u(false, false, false), 1, []int{2, 1}, 0},
		{"stopping units count against starts", u(true, false), 2, nil, 0},
		{"stopping units are not stopped again", u(false, true, false), 1, []int{2}, 0},
		{"a replacement waits for the unit it replaces", u(true), 1, nil, 0},
		{"as asked", u(false, false), 2, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stop, start := resize(tc.units, tc.req)
			assert.Equal(t, tc.stop, stop)
			assert.Equal(t, tc.start, start)
		})
	}
}

// Whatever the units: after resize at most req units run without being
// asked to stop; the units plus the starts make at least req; only units
// not stopping yet are stopped, the newest first.
func TestResizeProperties(t *testing.T) {
	for n := range 6 {
		for mask := range 1 << n {
			units := make([]unitView, n)
			for i := range units {
				units[i].stopping = mask&(1<<i) != 0
			}
			for req := -1; req <= 6; req++ {
				stop, start := resize(units, req)
				desc := fmt.Sprintf("units %v, req %d → stop %v, start %d", units, req, stop, start)
				active := 0
				for _, u := range units {
					if !u.stopping {
						active++
					}
				}
				for k, i := range stop {
					assert.False(t, units[i].stopping, "stops a stopping unit: "+desc)
					if k > 0 {
						assert.Less(t, i, stop[k-1], "newest first: "+desc)
					}
				}
				assert.Equal(t, min(active, max(req, 0)), active-len(stop), "runs what is asked: "+desc)
				assert.Equal(t, max(req, len(units)), len(units)+start, "units plus starts: "+desc)
				assert.True(t, start == 0 || len(stop) == 0, "never both: "+desc)
			}
		}
	}
}

func TestAfterSession(t *testing.T) {
	lost := fmt.Errorf("register: %w", schedule.ErrSessionLost)
	closed := fmt.Errorf("session: %w", schedule.ErrClosed)
	tests := []struct {
		name         string
		err          error
		done, served bool
		want         sessionStep
	}{
		{"ctx done", nil, true, false, stepStop},
		{"ctx done wins over a loss", lost, true, true, stepStop},
		{"store closed", closed, false, true, stepStop},
		{"session lost after the factory registered under it: a new one at once", lost, false, true, stepNow},
		// A store that hands out a session on which every call fails with
		// ErrSessionLost must not be asked again at once, forever.
		{"session lost before the factory could register: backoff", lost, false, false, stepBackoff},
		{"other error: backoff", errors.New("connection loss"), false, false, stepBackoff},
		{"other error after serving: backoff", errors.New("connection loss"), false, true, stepBackoff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, afterSession(tc.err, tc.done, tc.served))
		})
	}
}
