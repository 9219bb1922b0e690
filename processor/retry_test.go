package processor

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/internal/dealrun"
)

var (
	t0  = time.Unix(1_700_000_000, 0)
	pol = dealrun.RetryPolicy{Min: 100 * time.Millisecond, Max: 30 * time.Second}
)

const ms = time.Millisecond

// keyedRunner returns the runner of a NOTSLEEP deal of ints, with the
// default retry policy, for tests of Admit and Settle (called with no
// engine, so no lock is needed).
func keyedRunner(t *testing.T) *runnerK[int, int] {
	t.Helper()
	d := SingleFunc(func(context.Context, SelectRequest) ([]int, error) { return nil, nil },
		func(context.Context, int, string) error { return nil })
	env := &dealrun.Env{OwnSign: "BASE", ExecNum: 1, Dedupe: true, Gen: new(atomic.Uint64), Log: slog.New(slog.DiscardHandler)}
	env.Retry.Pol = pol
	r, ok := d.(*deal).info.NewRunner(env).(*runnerK[int, int])
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
	s := r.Settle(b, 0, 4, []dealrun.Failure{{Lo: 1, Hi: 3, Err: boom, Keys: b.keys[1:3]}}, t0)
	assert.Equal(t, 2, s.Keyed)
	assert.Zero(t, s.Untracked)
	require.Len(t, s.Notes, 1)
	assert.True(t, s.Notes[0].First)
	assert.Equal(t, []int{2, 3}, s.Notes[0].Keys)
	assert.EqualValues(t, 2, r.env.Retry.Keys.Load())
	due := r.fails[2].Due
	if r.fails[3].Due.Before(due) {
		due = r.fails[3].Due
	}
	assert.Equal(t, 1, r.fails[2].Fails)

	r.Forget(b, 0, 4) // not in flight any more
	a := r.Admit(testBatch(1, 2, 3, 5), t0.Add(10*ms))
	assert.Equal(t, dealrun.Admitted{Kept: 2, Held: 2, Wake: due}, a)
	r.Forget(testBatch(1, 5), 0, 2)

	a = r.Admit(testBatch(2, 3), t0.Add(time.Second))
	assert.Equal(t, 2, a.Kept, "due: handed out again")
	s = r.Settle(testBatch(2, 3), 0, 2, []dealrun.Failure{{Lo: 1, Hi: 2, Err: boom, Keys: []int{3}}}, t0.Add(time.Second))
	assert.Equal(t, 1, s.Keyed)
	_, still := r.fails[2]
	assert.False(t, still, "a success forgets the key")
	assert.Equal(t, 2, r.fails[3].Fails)
	require.Len(t, s.Notes, 1)
	assert.False(t, s.Notes[0].First, "a repeat goes through the rate limit")
	assert.Equal(t, 1, s.Notes[0].Count)
	assert.EqualValues(t, 1, r.env.Retry.Keys.Load())
}

// TestFailingKeysBounded: the table of failing keys stops at
// dealrun.MaxFailingKeys; a new key beyond it backs off per fetch (untracked), and
// once RetryMax has passed, keys whose backoff ended long ago make room.
func TestFailingKeysBounded(t *testing.T) {
	r := keyedRunner(t)
	r.fails = make(map[int]dealrun.FailState)
	for k := range dealrun.MaxFailingKeys {
		r.fails[k] = dealrun.FailState{Fails: 1, Due: t0}
	}
	boom := errors.New("boom")
	fail := func(k int, now time.Time) dealrun.Settled {
		return r.Settle(testBatch(k), 0, 1, []dealrun.Failure{{Lo: 0, Hi: 1, Err: boom, Keys: []int{k}}}, now)
	}
	s := fail(-1, t0.Add(time.Second))
	assert.Equal(t, dealrun.Settled{Untracked: 1, Notes: s.Notes}, s, "no stale key yet")
	assert.Len(t, r.fails, dealrun.MaxFailingKeys)

	later := t0.Add(2*pol.Max + time.Minute)
	r.fails[0] = dealrun.FailState{Fails: 1, Due: later} // still backing off: kept
	s = fail(-2, later)
	assert.Equal(t, 1, s.Keyed, "stale keys forgotten")
	assert.Len(t, r.fails, 2)
	assert.Contains(t, r.fails, 0)
	assert.Contains(t, r.fails, -2)
}

var _ Metrics = NopMetrics{} // NopMetrics implements every method
