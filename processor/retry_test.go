package processor

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	t0  = time.Unix(1_700_000_000, 0)
	pol = retryPolicy{min: 100 * time.Millisecond, max: 30 * time.Second}
)

const ms = time.Millisecond

func TestNextFailure(t *testing.T) {
	tests := []struct {
		name    string
		prev    failState
		jitter  float64
		want    failState
		comment string
	}{
		{"first, top of range", failState{}, 1, failState{1, t0.Add(100 * ms)}, ""},
		{"first, bottom of range", failState{}, 0, failState{1, t0.Add(50 * ms)}, ""},
		{"second doubles", failState{1, t0}, 1, failState{2, t0.Add(200 * ms)}, ""},
		{"fifth", failState{4, t0}, 0.5, failState{5, t0.Add(1200 * ms)}, "cur 1.6s: 0.8s + 0.4s"},
		{"capped", failState{9, t0}, 1, failState{10, t0.Add(30 * time.Second)}, ""},
		{"capped, low jitter", failState{500, t0}, 0, failState{501, t0.Add(15 * time.Second)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, nextFailure(tt.prev, t0, pol, tt.jitter), tt.comment)
		})
	}
}

// TestNextFailureGrowsAndCaps: whatever the jitter, the n-th delay lies in
// [cur/2, cur] with cur = min(100ms·2^(n-1), 30s), so delays grow and stop
// growing at the cap.
func TestNextFailureGrowsAndCaps(t *testing.T) {
	for _, j := range []float64{0, 0.3, 0.7, 1} {
		st := failState{}
		for n := 1; n <= 40; n++ {
			st = nextFailure(st, t0, pol, j)
			cur := min(pol.min<<min(n-1, 20), pol.max)
			d := st.due.Sub(t0)
			assert.Equal(t, n, st.fails)
			assert.GreaterOrEqual(t, d, cur/2, "n=%d jitter=%v", n, j)
			assert.LessOrEqual(t, d, cur, "n=%d jitter=%v", n, j)
		}
	}
}

func TestHeldBackAndStale(t *testing.T) {
	st := failState{fails: 3, due: t0.Add(time.Second)}
	tests := []struct {
		name         string
		now          time.Time
		held, stale_ bool
	}{
		{"before due", t0, true, false},
		{"just before due", t0.Add(time.Second - 1), true, false},
		{"at due", t0.Add(time.Second), false, false},
		{"after due", t0.Add(2 * time.Second), false, false},
		{"two caps after due", t0.Add(time.Second + 2*pol.max), false, false},
		{"beyond two caps after due", t0.Add(time.Second + 2*pol.max + 1), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.held, heldBack(st, tt.now))
			assert.Equal(t, tt.stale_, stale(st, tt.now, pol))
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
			s, d := fetchPause(tt.streak, tt.ok, tt.untr, pol, tt.jitter)
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
			assert.Equal(t, tt.want, heldPause(tt.wake, t0, tt.noData))
		})
	}
}

func TestLogLimitAllow(t *testing.T) {
	every := time.Minute
	tests := []struct {
		name      string
		l         logLimit
		now       time.Time
		n         int
		want      logLimit
		emit      bool
		wantCount int
	}{
		{"first ever: at once", logLimit{}, t0, 1, logLimit{last: t0}, true, 1},
		{"within the interval: counted", logLimit{last: t0}, t0.Add(time.Second), 3, logLimit{last: t0, quiet: 3}, false, 0},
		{"more within: added", logLimit{last: t0, quiet: 3}, t0.Add(59 * time.Second), 2, logLimit{last: t0, quiet: 5}, false, 0},
		{"interval over: line with the count", logLimit{last: t0, quiet: 5}, t0.Add(time.Minute), 1, logLimit{last: t0.Add(time.Minute)}, true, 6},
		{"long quiet: line at once", logLimit{last: t0}, t0.Add(time.Hour), 2, logLimit{last: t0.Add(time.Hour)}, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, emit, count := tt.l.allow(tt.now, every, tt.n)
			assert.Equal(t, tt.want, next)
			assert.Equal(t, tt.emit, emit)
			assert.Equal(t, tt.wantCount, count)
		})
	}
}

// TestLogLimitBound: whatever the failure rate, allow writes at most one
// line per interval (plus the first), and the counts of the lines plus the
// failures still unreported add up to every failure.
func TestLogLimitBound(t *testing.T) {
	var l logLimit
	lines, reported, total := 0, 0, 0
	now := t0
	for i := range 100_000 {
		now = now.Add(time.Duration(i%7) * ms)
		var emit bool
		var c int
		l, emit, c = l.allow(now, time.Minute, 1)
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

// keyedRunner returns the runner of a NOTSLEEP processor of ints, for tests
// of admit and settle (called with no Run, so no lock is needed).
func keyedRunner(t *testing.T) *runnerK[int, int] {
	t.Helper()
	p, err := New(SingleFunc(func(context.Context, SelectRequest) ([]int, error) { return nil, nil },
		func(context.Context, int, string) error { return nil }), testConfig(NotSleep, 1))
	require.NoError(t, err)
	r, ok := p.run.(*runnerK[int, int])
	require.True(t, ok)
	return r
}

func testBatch(ids ...int) *batch[int, int] {
	return &batch[int, int]{recs: slices.Clone(ids), keys: slices.Clone(ids)}
}

// TestSettleAndAdmit: a failed call backs off every key of its records (a
// multi deal's batch fails as one), admit holds those keys back until due and
// lets the others through, and a success forgets its key.
func TestSettleAndAdmit(t *testing.T) {
	r := keyedRunner(t)
	b := testBatch(1, 2, 3, 4)
	boom := errors.New("boom")
	s := r.settle(b, 0, 4, []failure{{lo: 1, hi: 3, err: boom, keys: b.keys[1:3]}}, t0)
	assert.Equal(t, 2, s.keyed)
	assert.Zero(t, s.untracked)
	require.Len(t, s.notes, 1)
	assert.True(t, s.notes[0].first)
	assert.Equal(t, []int{2, 3}, s.notes[0].keys)
	assert.EqualValues(t, 2, r.env.retry.keys.Load())
	due := r.fails[2].due
	if r.fails[3].due.Before(due) {
		due = r.fails[3].due
	}
	assert.Equal(t, 1, r.fails[2].fails)

	r.forget(b, 0, 4) // not in flight any more
	a := r.admit(testBatch(1, 2, 3, 5), t0.Add(10*ms))
	assert.Equal(t, admitted{kept: 2, held: 2, wake: due}, a)
	r.forget(testBatch(1, 5), 0, 2)

	a = r.admit(testBatch(2, 3), t0.Add(time.Second))
	assert.Equal(t, 2, a.kept, "due: handed out again")
	s = r.settle(testBatch(2, 3), 0, 2, []failure{{lo: 1, hi: 2, err: boom, keys: []int{3}}}, t0.Add(time.Second))
	assert.Equal(t, 1, s.keyed)
	_, still := r.fails[2]
	assert.False(t, still, "a success forgets the key")
	assert.Equal(t, 2, r.fails[3].fails)
	require.Len(t, s.notes, 1)
	assert.False(t, s.notes[0].first, "a repeat goes through the rate limit")
	assert.Equal(t, 1, s.notes[0].count)
	assert.EqualValues(t, 1, r.env.retry.keys.Load())
}

// TestFailingKeysBounded: the table of failing keys stops at
// maxFailingKeys; a new key beyond it backs off per fetch (untracked), and
// once RetryMax has passed, keys whose backoff ended long ago make room.
func TestFailingKeysBounded(t *testing.T) {
	r := keyedRunner(t)
	r.fails = make(map[int]failState)
	for k := range maxFailingKeys {
		r.fails[k] = failState{fails: 1, due: t0}
	}
	boom := errors.New("boom")
	fail := func(k int, now time.Time) settled {
		return r.settle(testBatch(k), 0, 1, []failure{{lo: 0, hi: 1, err: boom, keys: []int{k}}}, now)
	}
	s := fail(-1, t0.Add(time.Second))
	assert.Equal(t, settled{untracked: 1, notes: s.notes}, s, "no stale key yet")
	assert.Len(t, r.fails, maxFailingKeys)

	later := t0.Add(2*pol.max + time.Minute)
	r.fails[0] = failState{fails: 1, due: later} // still backing off: kept
	s = fail(-2, later)
	assert.Equal(t, 1, s.keyed, "stale keys forgotten")
	assert.Len(t, r.fails, 2)
	assert.Contains(t, r.fails, 0)
	assert.Contains(t, r.fails, -2)
}

var _ Metrics = NopMetrics{} // NopMetrics implements every method
