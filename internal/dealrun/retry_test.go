package dealrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var (
	t0  = time.Unix(1_700_000_000, 0)
	pol = RetryPolicy{Min: 100 * time.Millisecond, Max: 30 * time.Second}
)

const ms = time.Millisecond

func TestNextFailure(t *testing.T) {
	tests := []struct {
		name    string
		prev    FailState
		jitter  float64
		want    FailState
		comment string
	}{
		{"first, top of range", FailState{}, 1, FailState{1, t0.Add(100 * ms)}, ""},
		{"first, bottom of range", FailState{}, 0, FailState{1, t0.Add(50 * ms)}, ""},
		{"second doubles", FailState{1, t0}, 1, FailState{2, t0.Add(200 * ms)}, ""},
		{"fifth", FailState{4, t0}, 0.5, FailState{5, t0.Add(1200 * ms)}, "cur 1.6s: 0.8s + 0.4s"},
		{"capped", FailState{9, t0}, 1, FailState{10, t0.Add(30 * time.Second)}, ""},
		{"capped, low jitter", FailState{500, t0}, 0, FailState{501, t0.Add(15 * time.Second)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, NextFailure(tt.prev, t0, pol, tt.jitter), tt.comment)
		})
	}
}

// TestNextFailureGrowsAndCaps: whatever the jitter, the n-th delay lies in
// [cur/2, cur] with cur = min(100ms·2^(n-1), 30s), so delays grow and stop
// growing at the cap.
func TestNextFailureGrowsAndCaps(t *testing.T) {
	for _, j := range []float64{0, 0.3, 0.7, 1} {
		st := FailState{}
		for n := 1; n <= 40; n++ {
			st = NextFailure(st, t0, pol, j)
			cur := min(pol.Min<<min(n-1, 20), pol.Max)
			d := st.Due.Sub(t0)
			assert.Equal(t, n, st.Fails)
			assert.GreaterOrEqual(t, d, cur/2, "n=%d jitter=%v", n, j)
			assert.LessOrEqual(t, d, cur, "n=%d jitter=%v", n, j)
		}
	}
}

func TestHeldBackAndStale(t *testing.T) {
	st := FailState{Fails: 3, Due: t0.Add(time.Second)}
	tests := []struct {
		name         string
		now          time.Time
		held, stale_ bool
	}{
		{"before due", t0, true, false},
		{"just before due", t0.Add(time.Second - 1), true, false},
		{"at due", t0.Add(time.Second), false, false},
		{"after due", t0.Add(2 * time.Second), false, false},
		{"two caps after due", t0.Add(time.Second + 2*pol.Max), false, false},
		{"beyond two caps after due", t0.Add(time.Second + 2*pol.Max + 1), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.held, HeldBack(st, tt.now))
			assert.Equal(t, tt.stale_, Stale(st, tt.now, pol))
		})
	}
}

func TestFetchPause(t *testing.T) {
	tests := []struct {
		name             string
		streak, ok, untr int
		jitter           float64
		wantStreak       int
		wantPause        time.Duration
	}{
		{"nothing ran", 0, 0, 0, 1, 0, 0},
		{"nothing ran keeps the streak", 3, 0, 0, 1, 3, 0},
		{"success", 0, 5, 0, 1, 0, 0},
		{"success ends a streak", 4, 1, 7, 1, 0, 0},
		{"first untracked failure", 0, 0, 1, 1, 1, 100 * ms},
		{"second in a row", 1, 0, 3, 1, 2, 200 * ms},
		{"jitter", 1, 0, 3, 0, 2, 100 * ms},
		{"capped", 20, 0, 1, 1, 21, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := FetchPause(tt.streak, tt.ok, tt.untr, pol, tt.jitter)
			assert.Equal(t, tt.wantStreak, s)
			assert.Equal(t, tt.wantPause, d)
		})
	}
}

func TestHeldPause(t *testing.T) {
	tests := []struct {
		name   string
		wake   time.Time
		noData time.Duration
		want   time.Duration
	}{
		{"until the first is due", t0.Add(300 * ms), time.Second, 300 * ms},
		{"no longer than SleepTimeNoData", t0.Add(20 * time.Second), 500 * ms, 500 * ms},
		{"SleepTimeNoData zero: until due", t0.Add(20 * time.Second), 0, 20 * time.Second},
		{"already due", t0.Add(-time.Second), time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, HeldPause(tt.wake, t0, tt.noData))
		})
	}
}

func TestLogLimitAllow(t *testing.T) {
	every := time.Minute
	tests := []struct {
		name      string
		l         LogLimit
		now       time.Time
		n         int
		want      LogLimit
		emit      bool
		wantCount int
	}{
		{"first ever: at once", LogLimit{}, t0, 1, LogLimit{last: t0}, true, 1},
		{"within the interval: counted", LogLimit{last: t0}, t0.Add(time.Second), 3, LogLimit{last: t0, quiet: 3}, false, 0},
		{"more within: added", LogLimit{last: t0, quiet: 3}, t0.Add(59 * time.Second), 2, LogLimit{last: t0, quiet: 5}, false, 0},
		{"interval over: line with the count", LogLimit{last: t0, quiet: 5}, t0.Add(time.Minute), 1, LogLimit{last: t0.Add(time.Minute)}, true, 6},
		{"long quiet: line at once", LogLimit{last: t0}, t0.Add(time.Hour), 2, LogLimit{last: t0.Add(time.Hour)}, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, emit, count := tt.l.Allow(tt.now, every, tt.n)
			assert.Equal(t, tt.want, next)
			assert.Equal(t, tt.emit, emit)
			assert.Equal(t, tt.wantCount, count)
		})
	}
}

// TestLogLimitBound: whatever the failure rate, Allow writes at most one
// line per interval (plus the first), and the counts of the lines plus the
// failures still unreported add up to every failure.
func TestLogLimitBound(t *testing.T) {
	var l LogLimit
	lines, reported, total := 0, 0, 0
	now := t0
	for i := range 100_000 {
		now = now.Add(time.Duration(i%7) * ms)
		var emit bool
		var c int
		l, emit, c = l.Allow(now, time.Minute, 1)
		total++
		if emit {
			lines++
			reported += c
		}
	}
	span := now.Sub(t0)
	assert.LessOrEqual(t, lines, int(span/time.Minute)+1)
	assert.Equal(t, total, reported+l.quiet)
}
