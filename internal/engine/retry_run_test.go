package engine

import (
	"context"
	"errors"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/internal/dealrun"
	"github.com/tbschedule/tbschedule-go/processor"
)

// table is a store of pending records: SelectTasks returns the lowest ids not
// yet done, as a query on a real table would, so a record that keeps failing
// comes back in every fetch.
type table struct {
	mu      sync.Mutex
	pending []int // sorted
}

func (tb *table) add(lo, hi int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for id := lo; id < hi; id++ {
		tb.pending = append(tb.pending, id)
	}
	slices.Sort(tb.pending)
}

func (tb *table) selectTasks(_ context.Context, req processor.SelectRequest) ([]int, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.pending[:min(req.FetchNum, len(tb.pending))]), nil
}

func (tb *table) done(id int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if i, ok := slices.BinarySearch(tb.pending, id); ok {
		tb.pending = slices.Delete(tb.pending, i, i+1)
	}
}

func (tb *table) len() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return len(tb.pending)
}

// AdvanceToNext moves the fake clock to the earliest armed timer and fires it.
func (c *fakeClock) AdvanceToNext() {
	c.mu.Lock()
	var next time.Time
	for _, t := range c.timers {
		if t.active && (next.IsZero() || t.at.Before(next)) {
			next = t.at
		}
	}
	d := next.Sub(c.now)
	c.mu.Unlock()
	if !next.IsZero() {
		c.Advance(d)
	}
}

// quiet waits until the processor sleeps with its fetch turn, one timer armed
// and nothing queued or executing: only the clock can wake it.
func quiet(t *testing.T, clk *fakeClock, p *Processor) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		s := p.Status()
		if clk.Active() == 1 && s.Fetching && s.Queued == 0 && s.Executing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processor not quiet: timers %d, status %+v", clk.Active(), s)
		}
		runtime.Gosched()
	}
}

var errPoison = errors.New("poison")

// poisonRun is a processor over a table whose record 0 fails while failing
// is set; attempts are the fake times record 0 was handed to the deal.
type poisonRun struct {
	clk      *fakeClock
	tb       *table
	p        *Processor
	m        *recMetrics
	log      *logBuf
	failing  atomic.Bool
	mu       sync.Mutex
	attempts []time.Time
}

func newPoisonRun(t *testing.T, mode processor.Type, opts ...Option) *poisonRun {
	r := &poisonRun{clk: newFakeClock(), tb: &table{}, m: &recMetrics{}}
	r.failing.Store(true)
	r.tb.add(0, 201) // the poison and 200 others
	deal := processor.SingleFunc(r.tb.selectTasks, func(_ context.Context, id int, _ string) error {
		if id == 0 {
			r.mu.Lock()
			r.attempts = append(r.attempts, r.clk.Now())
			r.mu.Unlock()
			if r.failing.Load() {
				return errPoison
			}
		}
		r.tb.done(id)
		return nil
	})
	cfg := testConfig(mode, 3)
	cfg.SleepTimeNoData = time.Second
	cfg.RetryMin, cfg.RetryMax = 100*time.Millisecond, 3200*time.Millisecond
	log, buf := newLogger()
	r.log = buf
	p, err := New(deal, cfg, append([]Option{WithClock(r.clk), WithLogger(log), WithMetrics(r.m)}, opts...)...)
	require.NoError(t, err)
	r.p = p
	return r
}

func (r *poisonRun) tries() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts)
}

// TestPoisonRecordBacksOff is the regression test of a record whose deal
// always fails: it used to be handed to the deal again at every fetch
// (thousands of WARN lines in seconds). Now (a) it is retried after jittered
// delays that double per failure up to RetryMax while the other records flow
// at full rate, (b) its repeated failures are logged at most once per
// dealrun.FailLogEvery with their count, (c) Metrics.Retrying counts them, and (d) it
// is never dropped: it succeeds once the deal stops failing.
func TestPoisonRecordBacksOff(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) { testPoisonRecordBacksOff(t, mode) })
	}
}

func testPoisonRecordBacksOff(t *testing.T, mode processor.Type) {
	r := newPoisonRun(t, mode)
	r.p.SetItems(items("0"))
	start(t, r.p)
	t0 := r.clk.Now()

	// (a) The 200 others are done without the clock moving: nothing waits
	// for the poison's backoff. The poison was tried once.
	eventually(t, func() bool { return r.p.Stats().Succeeded == 200 }, "the other records")
	require.Equal(t, 1, len(r.tries()), "tries of the failing record with no time passing")
	quiet(t, r.clk, r.p)
	assert.Equal(t, 1, r.p.Status().FailingKeys)

	// Let 130 s pass, timer by timer; at 20 s, 100 new records arrive.
	added := false
	for r.clk.Now().Sub(t0) < 130*time.Second {
		r.clk.AdvanceToNext()
		if !added && r.clk.Now().Sub(t0) >= 20*time.Second {
			added = true
			before := len(r.tries())
			r.tb.add(1000, 1100)
			addedAt := r.clk.Now()
			r.clk.AdvanceToNext() // the idle fetcher's next look (≤ SleepTimeNoData)
			quiet(t, r.clk, r.p)
			assert.EqualValues(t, 300, r.p.Stats().Succeeded, "new records wait for the poison")
			assert.LessOrEqual(t, r.clk.Now().Sub(addedAt), time.Second)
			assert.LessOrEqual(t, len(r.tries()), before+1)
		}
		quiet(t, r.clk, r.p)
	}
	tries := r.tries()
	checkBackoff(t, tries, 100*time.Millisecond, 3200*time.Millisecond)
	t.Logf("%d tries in %s of fake time; rate-limited lines: %v", len(tries), r.clk.Now().Sub(t0), moreFailures(r.log.String()))

	// (b) One line for the first failure, then rate-limited lines whose
	// counts are the repeats since the previous line.
	out := r.log.String()
	assert.Equal(t, 1, strings.Count(out, `msg="processor: deal failed"`), "first failure")
	assert.Contains(t, out, "keys=[0]")
	assert.Equal(t, expectedRepeatLines(tries[1:], dealrun.FailLogEvery), moreFailures(out))

	// (c) The metric counts every failure; the poison's key is remembered.
	assert.EqualValues(t, len(tries), r.m.retrying.Load())
	assert.EqualValues(t, 1, r.m.failingKeys.Load())
	assert.Positive(t, r.p.Stats().Deferred)
	assert.EqualValues(t, len(tries), r.p.Stats().Failed)

	// (d) Nothing is lost: once the deal stops failing, the record is retried
	// within its backoff and succeeds, and its key is forgotten.
	r.failing.Store(false)
	for r.tb.len() > 0 {
		r.clk.AdvanceToNext()
		quiet(t, r.clk, r.p)
	}
	last := r.tries()
	require.Len(t, last, len(tries)+1)
	assert.LessOrEqual(t, last[len(last)-1].Sub(tries[len(tries)-1]), 3200*time.Millisecond)
	assert.EqualValues(t, 301, r.p.Stats().Succeeded)
	assert.Zero(t, r.p.Status().FailingKeys)
}

// checkBackoff: the gap after the n-th failure lies in [cur/2, cur], cur =
// min(lo·2^(n-1), hi); the gaps at the cap are not all equal (jitter).
func checkBackoff(t *testing.T, tries []time.Time, lo, hi time.Duration) {
	t.Helper()
	require.Greater(t, len(tries), 12, "too few retries to see the cap")
	var capped []time.Duration
	for i := 1; i < len(tries); i++ {
		gap := tries[i].Sub(tries[i-1])
		cur := min(lo<<min(i-1, 30), hi)
		assert.GreaterOrEqual(t, gap, cur/2, "gap after failure %d", i)
		assert.LessOrEqual(t, gap, cur, "gap after failure %d", i)
		if cur == hi {
			capped = append(capped, gap)
		}
	}
	require.GreaterOrEqual(t, len(capped), 3)
	slices.Sort(capped)
	assert.Greater(t, len(slices.Compact(capped)), 1, "capped delays without jitter: %v", capped)
}

// expectedRepeatLines is the rate limit written out: the first repeat is
// logged at once, then the first repeat at least every after the previous
// line, each line counting the repeats since the previous one.
func expectedRepeatLines(repeats []time.Time, every time.Duration) []int {
	var counts []int
	var last time.Time
	n := 0
	for i, at := range repeats {
		n++
		if i == 0 || at.Sub(last) >= every {
			counts = append(counts, n)
			last, n = at, 0
		}
	}
	return counts
}

var moreRe = regexp.MustCompile(`msg="processor: deal keeps failing".* moreFailures=(\d+)`)

// moreFailures returns the counts of the rate-limited lines in out.
func moreFailures(out string) []int {
	var counts []int
	for _, m := range moreRe.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		counts = append(counts, n)
	}
	return counts
}

// row is a record without a key: SLEEP runs it, and a failing one backs off
// per fetch.
type row struct{ ID int }

// TestPoisonRecordWithoutKeyBacksOffPerFetch: a SLEEP deal of records
// without a key cannot hold one record back. The poison is tried once per
// fetch while other records come with it (they flow at full rate); when a
// fetch brings only failing records, the next fetch waits, doubling from
// RetryMin to RetryMax. Failures are logged through the rate limit and
// counted; the record succeeds once the deal stops failing.
func TestPoisonRecordWithoutKeyBacksOffPerFetch(t *testing.T) {
	clk, tb, m := newFakeClock(), &table{}, &recMetrics{}
	tb.add(0, 201)
	var failing atomic.Bool
	failing.Store(true)
	var mu sync.Mutex
	var tries []time.Time
	deal := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]row, error) {
		ids, _ := tb.selectTasks(ctx, req)
		rows := make([]row, len(ids))
		for i, id := range ids {
			rows[i] = row{id}
		}
		return rows, nil
	}, func(_ context.Context, r row, _ string) error {
		if r.ID == 0 {
			mu.Lock()
			tries = append(tries, clk.Now())
			mu.Unlock()
			if failing.Load() {
				return errPoison
			}
		}
		tb.done(r.ID)
		return nil
	})
	cfg := testConfig(processor.Sleep, 3)
	cfg.SleepTimeNoData = time.Second
	cfg.RetryMin, cfg.RetryMax = 100*time.Millisecond, 3200*time.Millisecond
	log, buf := newLogger()
	p, err := New(deal, cfg, WithClock(clk), WithLogger(log), WithMetrics(m))
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	got := func() []time.Time { mu.Lock(); defer mu.Unlock(); return slices.Clone(tries) }

	eventually(t, func() bool { return p.Stats().Succeeded == 200 }, "the other records")
	quiet(t, clk, p)
	atStart := len(got()) // one per fetch of 10 that carried others, plus the first alone
	require.LessOrEqual(t, atStart, 200/9+2)
	t0 := clk.Now()
	for clk.Now().Sub(t0) < 130*time.Second {
		clk.AdvanceToNext()
		quiet(t, clk, p)
	}
	all := got()
	checkBackoff(t, all[atStart-1:], 100*time.Millisecond, 3200*time.Millisecond)
	assert.Equal(t, expectedRepeatLines(all, dealrun.FailLogEvery), moreFailures(buf.String()))
	assert.EqualValues(t, len(all), m.retrying.Load())
	assert.Zero(t, m.failingKeys.Load())

	failing.Store(false)
	for tb.len() > 0 {
		clk.AdvanceToNext()
		quiet(t, clk, p)
	}
	assert.Len(t, got(), len(all)+1)
	assert.EqualValues(t, 201, p.Stats().Succeeded)
}
