package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/processor"
)

var modes = []processor.Type{processor.Sleep, processor.NotSleep}

// TestExecutesEveryRecordOnce: a fixed dataset is executed exactly once, in
// both modes, with single and multi deals.
func TestExecutesEveryRecordOnce(t *testing.T) {
	for _, mode := range modes {
		for _, multi := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/multi=%v", mode, multi), func(t *testing.T) {
				const total = 1000
				src := &source{total: total}
				var mu sync.Mutex
				seen := make(map[int]int)
				record := func(ids ...int) {
					mu.Lock()
					defer mu.Unlock()
					for _, id := range ids {
						seen[id]++
					}
				}
				var d processor.Deal
				if multi {
					d = processor.MultiFunc(src.selectTasks, func(_ context.Context, ts []int, _ string) error { record(ts...); return nil })
				} else {
					d = processor.SingleFunc(src.selectTasks, func(_ context.Context, id int, _ string) error { record(id); return nil })
				}
				cfg := testConfig(mode, 4)
				cfg.ExecuteNumber = 7
				cfg.FetchDataNumber = 33
				p, err := New(d, cfg)
				require.NoError(t, err)
				p.SetItems(items("0", "1"))
				start(t, p)
				eventually(t, func() bool { return p.Stats().Succeeded == total }, "all records executed")
				closed(t, p.Release([]string{"0", "1"}), "release")
				mu.Lock()
				defer mu.Unlock()
				require.Len(t, seen, total)
				for id, n := range seen {
					require.Equal(t, 1, n, "record %d", id)
				}
				s := p.Stats()
				assert.EqualValues(t, total, s.Fetched)
				assert.Zero(t, s.Failed)
				assert.Zero(t, s.DuplicatesSuppressed)
				assert.False(t, s.LastFetch.IsZero())
				assert.Positive(t, s.FetchCalls)
			})
		}
	}
}

// TestPanickingDeal: a panic is recovered with its stack, counted as a
// failure, and the goroutine goes on.
func TestPanickingDeal(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			log, buf := newLogger()
			src := &source{total: 100}
			d := processor.SingleFunc(src.selectTasks, func(_ context.Context, id int, _ string) error {
				if id%10 == 3 {
					panic(fmt.Sprintf("boom %d", id))
				}
				return nil
			})
			p, err := New(d, testConfig(mode, 1), WithLogger(log)) // one goroutine: it must survive 10 panics
			require.NoError(t, err)
			p.SetItems(items("0"))
			start(t, p)
			eventually(t, func() bool { s := p.Stats(); return s.Succeeded+s.Failed == 100 }, "all records done")
			s := p.Stats()
			assert.EqualValues(t, 90, s.Succeeded)
			assert.EqualValues(t, 10, s.Failed)
			assert.EqualValues(t, 10, s.Panics)
			out := buf.String()
			assert.Contains(t, out, "deal panicked")
			assert.Contains(t, out, "boom 3")
			assert.Contains(t, out, "processor_test.go") // the stack
		})
	}
}

// TestFailingDeal: errors are counted and logged; the worker goes on.
func TestFailingDeal(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			log, buf := newLogger()
			src := &source{total: 50}
			d := processor.MultiFunc(src.selectTasks, func(_ context.Context, ids []int, _ string) error {
				if ids[0] == 0 {
					return errors.New("db down")
				}
				return nil
			})
			cfg := testConfig(mode, 2)
			cfg.ExecuteNumber = 5
			p, err := New(d, cfg, WithLogger(log))
			require.NoError(t, err)
			p.SetItems(items("0"))
			start(t, p)
			eventually(t, func() bool { s := p.Stats(); return s.Succeeded+s.Failed == 50 }, "all records done")
			s := p.Stats()
			assert.EqualValues(t, 5, s.Failed) // the whole batch of record 0
			assert.EqualValues(t, 45, s.Succeeded)
			assert.Zero(t, s.Panics)
			assert.Contains(t, buf.String(), "db down")
		})
	}
}

// TestSelectTasksErrorsAndPanics: fetch failures are counted, logged and
// retried with an exponential backoff on the processor's clock (no hot loop):
// after the n-th failure in a row the fetcher holds the fetch turn on one
// timer of 100ms*2^(n-1), jittered ±20%, and fetches again when it fires.
func TestSelectTasksErrorsAndPanics(t *testing.T) {
	log, buf := newLogger()
	clk := newFakeClock()
	var calls atomic.Int64
	d := processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]int, error) {
		if calls.Add(1)%2 == 0 {
			panic("select boom")
		}
		return []int{1}, errors.New("select failed") // records with an error are ignored
	}, func(context.Context, int, string) error {
		t.Error("executed a record returned with an error")
		return nil
	})
	cfg := testConfig(processor.NotSleep, 3)
	cfg.SleepTimeNoData = time.Millisecond // backoff base is still 100ms
	p, err := New(d, cfg, WithLogger(log), WithClock(clk))
	require.NoError(t, err)
	p.SetItems(items("0"))
	r := start(t, p)
	want := 100 * time.Millisecond
	for n := int64(1); n <= 4; n++ {
		eventually(t, func() bool { return calls.Load() == n && clk.Active() == 1 }, "fetch %d, then a backoff timer", n)
		armed := clk.Armed()
		require.Len(t, armed, 1)
		assert.GreaterOrEqual(t, armed[0], want*8/10, "backoff after failure %d", n)
		assert.LessOrEqual(t, armed[0], want*12/10, "backoff after failure %d", n)
		assert.Equal(t, n, calls.Load(), "fetched again before the backoff timer fired")
		clk.Advance(armed[0])
		want *= 2
	}
	eventually(t, func() bool { return calls.Load() == 5 && clk.Active() == 1 }, "fetch 5, then a backoff timer")
	require.NoError(t, r.stop())
	s := p.Stats()
	assert.EqualValues(t, 5, s.FetchCalls)
	assert.Equal(t, s.FetchCalls, s.FetchErrors)
	assert.EqualValues(t, 2, s.Panics)
	assert.Zero(t, s.Fetched)
	assert.Contains(t, buf.String(), "select failed")
	assert.Contains(t, buf.String(), "SelectTasks panicked")
}

// TestKeyPanics: a key function that panics drops that record as failed.
func TestKeyPanics(t *testing.T) {
	src := &source{total: 20}
	var executed atomic.Int64
	d := processor.SingleFunc(src.selectTasks, func(context.Context, int, string) error { executed.Add(1); return nil },
		processor.WithKey(func(id int) int {
			if id == 7 {
				panic("bad key")
			}
			return id
		}))
	log, buf := newLogger()
	p, err := New(d, testConfig(processor.NotSleep, 2), WithLogger(log))
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	eventually(t, func() bool { s := p.Stats(); return s.Succeeded+s.Failed == 20 }, "all records done")
	s := p.Stats()
	assert.EqualValues(t, 19, s.Succeeded)
	assert.EqualValues(t, 1, s.Failed)
	assert.EqualValues(t, 1, s.Panics)
	assert.EqualValues(t, 19, executed.Load())
	assert.Contains(t, buf.String(), "bad key")
}

// TestShutdownWaitsForRunningDeal: Run lets a running deal finish within
// ShutdownTimeout and drops what was queued.
func TestShutdownWaitsForRunningDeal(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{}, 100)
			d := processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]int, error) {
				return []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nil
			}, func(ctx context.Context, _ int, _ string) error {
				started <- struct{}{}
				<-release
				assert.NoError(t, ctx.Err(), "ctx cancelled before the shutdown timeout")
				return nil
			})
			cfg := testConfig(mode, 1)
			p, err := New(d, cfg)
			require.NoError(t, err)
			p.SetItems(items("0"))
			r := start(t, p)
			<-started
			rel := p.Release([]string{"0"})
			errc := make(chan error, 1)
			go func() { errc <- r.stop() }()
			// The queue is dropped at once; the rest of the goroutine's chunk
			// when it comes back from the running record.
			eventually(t, func() bool { return p.Stats().Dropped > 0 }, "queued records dropped")
			assert.False(t, isClosed(rel), "release closed while a record runs")
			close(release)
			require.NoError(t, <-errc)
			closed(t, rel, "release after shutdown")
			s := p.Stats()
			assert.EqualValues(t, 1, s.Succeeded)
			assert.EqualValues(t, 9, s.Dropped)
			assert.False(t, p.Status().Running)
		})
	}
}

// TestShutdownCancelsAfterTimeout: a deal that honours ctx is cancelled at
// ShutdownTimeout (on the processor's clock), not before, and Run returns nil.
func TestShutdownCancelsAfterTimeout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured time.Duration
		waited     time.Duration
	}{
		{"set", 20 * time.Millisecond, 20 * time.Millisecond},
		{"zero is the default", 0, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) { testShutdownCancelsAfterTimeout(t, tc.configured, tc.waited) })
	}
}

func testShutdownCancelsAfterTimeout(t *testing.T, configured, waited time.Duration) {
	clk := newFakeClock()
	started := make(chan struct{}, 1)
	var cancelled atomic.Bool
	d := processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(ctx context.Context, _ int, _ string) error {
			started <- struct{}{}
			<-ctx.Done()
			cancelled.Store(true)
			return ctx.Err()
		})
	cfg := testConfig(processor.Sleep, 1)
	cfg.ShutdownTimeout = configured
	p, err := New(d, cfg, WithClock(clk))
	require.NoError(t, err)
	p.SetItems(items("0"))
	r := start(t, p)
	<-started
	r.cancel()
	eventually(t, func() bool { return clk.Active() == 1 }, "the shutdown waits on a timer")
	assert.Equal(t, []time.Duration{waited}, clk.Armed(), "it waits ShutdownTimeout")
	assert.False(t, cancelled.Load(), "the deal's ctx was cancelled before ShutdownTimeout")
	clk.Advance(waited)
	require.NoError(t, r.stop())
	assert.True(t, cancelled.Load())
	assert.EqualValues(t, 1, p.Stats().Failed)
}

// TestShutdownReportsStuckDeal: a deal that ignores ctx makes Run return
// ErrStuck naming it after ShutdownTimeout+CancelGrace; the goroutine exits
// when the deal returns, and a new Run waits for it.
func TestShutdownReportsStuckDeal(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var ctxErr atomic.Value
	d := processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(ctx context.Context, _ int, _ string) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-release // ignores ctx
			if ctx.Err() != nil {
				ctxErr.Store(ctx.Err())
			}
			return nil
		})
	cfg := testConfig(processor.NotSleep, 2)
	cfg.ShutdownTimeout = 30 * time.Millisecond
	cfg.CancelGrace = 20 * time.Millisecond
	clk := newFakeClock()
	p, err := New(d, cfg, WithClock(clk))
	require.NoError(t, err)
	p.SetItems(items("7"))
	r := start(t, p)
	<-started
	r.cancel()
	// ShutdownTimeout on the clock, then the contexts are cancelled and
	// CancelGrace more before Run gives up.
	eventually(t, func() bool { return clk.Active() == 1 }, "the shutdown waits on a timer")
	assert.Equal(t, []time.Duration{30 * time.Millisecond}, clk.Armed(), "it waits ShutdownTimeout")
	clk.Advance(30 * time.Millisecond)
	eventually(t, func() bool { return clk.Active() == 1 }, "then on another timer")
	assert.Equal(t, []time.Duration{20 * time.Millisecond}, clk.Armed(), "it waits CancelGrace")
	// The other goroutine (between two fetches) ends once Run is
	// cancelled, in no time on the fake clock but not at once: the grace
	// ends only when the stuck deal's is the one left, or the count below
	// may include a goroutine that was on its way out.
	eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.live == 1
	}, "only the stuck deal's goroutine left")
	clk.Advance(20 * time.Millisecond)
	err = r.stop()
	require.ErrorIs(t, err, ErrStuck)
	assert.Contains(t, err.Error(), "still running 50ms after Run was cancelled")
	assert.Contains(t, err.Error(), "1 goroutine(s)")
	assert.Contains(t, err.Error(), "in Execute for items [7]")
	st := p.Status()
	assert.False(t, st.Running)
	assert.Equal(t, 1, st.Stragglers)
	assert.False(t, isClosed(p.Exited()), "Exited closed while a deal runs")

	// A new Run waits for the straggler; cancelled meanwhile, it says so.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = p.Run(ctx)
	require.ErrorIs(t, err, ErrStuck)
	assert.Contains(t, err.Error(), "previous Run")

	// Once released, the goroutine exits (goleak checks at the end), and the
	// next Run starts normally.
	close(release)
	closed(t, p.Exited(), "exited")
	assert.Zero(t, p.Status().Stragglers)
	assert.Equal(t, context.Canceled, ctxErr.Load())
	p.SetItems(nil)
	r2 := start(t, p)
	require.NoError(t, r2.stop())
}

func TestRunTwice(t *testing.T) {
	p, err := New(processor.SingleFunc((&source{}).selectTasks, func(context.Context, int, string) error { return nil }), testConfig(processor.Sleep, 1))
	require.NoError(t, err)
	r := start(t, p)
	eventually(t, func() bool { return p.Status().Running }, "running")
	assert.ErrorIs(t, p.Run(context.Background()), errRunning)
	require.NoError(t, r.stop())
}

// TestFence: Fence cancels running deals' contexts at once, drops the queue,
// stops fetching, and its channel closes when the deals returned; Unfence
// resumes with a fresh context.
func TestFence(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			var fenced, blocking atomic.Bool
			blocking.Store(true)
			var calls atomic.Int64
			started := make(chan struct{}, 10)
			proceed := make(chan struct{})
			var next atomic.Int64
			d := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
				calls.Add(1)
				if fenced.Load() {
					t.Error("fetch while fenced")
				}
				base := int(next.Add(10))
				return []int{base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7, base + 8, base + 9}, nil
			}, func(ctx context.Context, id int, _ string) error {
				select {
				case started <- struct{}{}:
				default:
				}
				if !blocking.Load() {
					return nil
				}
				// Until the fence, a deal runs until it is cancelled: a
				// deal that returned on a 1 ms timer had often returned
				// before Fence under load, and the fence channel closed
				// with no deal running.
				<-ctx.Done()
				<-proceed // returns only when the test says so, to test Fence's channel
				return ctx.Err()
			})
			p, err := New(d, testConfig(mode, 2))
			require.NoError(t, err)
			p.SetItems(items("0"))
			r := start(t, p)
			<-started
			fenced.Store(true)
			ch := p.Fence()
			eventually(t, func() bool { return p.Stats().Fenced > 0 }, "queue dropped")
			assert.False(t, isClosed(ch), "fence channel closed while deals run")
			assert.True(t, p.Status().Fenced)
			close(proceed)
			closed(t, ch, "fence")
			failed := p.Stats().Failed
			assert.Positive(t, failed, "cancelled deals report ctx errors")
			assert.Zero(t, p.Status().Queued)
			assert.Zero(t, p.Status().Unfinished)
			// A fetch from Fence to Unfence fails the test in SelectTasks.

			fenced.Store(false)
			blocking.Store(false)
			p.Unfence()
			before := p.Stats().Succeeded
			eventually(t, func() bool { return p.Stats().Succeeded > before+20 }, "resumes after Unfence")
			assert.Equal(t, failed, p.Stats().Failed, "fresh contexts after Unfence")
			// Counted once stopped: running, a deal may end between the
			// two reads.
			require.NoError(t, r.stop())
			s := p.Stats()
			assert.Equal(t, s.Fetched, s.Succeeded+s.Failed+s.Fenced+s.Dropped+s.DuplicatesSuppressed+int64(p.Status().Unfinished))
		})
	}
}

// TestFenceDuringFetch: a SelectTasks in progress at Fence gets a cancelled
// ctx and its records are dropped.
func TestFenceDuringFetch(t *testing.T) {
	inSelect := make(chan struct{})
	var once sync.Once
	d := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
		first := false
		once.Do(func() { first = true })
		if !first {
			return nil, nil
		}
		close(inSelect)
		<-ctx.Done()
		return []int{1, 2, 3}, nil // returns records anyway
	}, func(context.Context, int, string) error { t.Error("executed a fenced record"); return nil })
	p, err := New(d, testConfig(processor.Sleep, 2))
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	<-inSelect
	closed(t, p.Fence(), "fence")
	s := p.Stats()
	assert.EqualValues(t, 3, s.Fenced)
	assert.EqualValues(t, 3, s.Fetched)
	assert.Zero(t, s.Succeeded)
}

// TestRelease: Release waits for the records of fetches that included the
// released items, executes what was queued for them, and does not wait for
// other items' fetches.
func TestRelease(t *testing.T) {
	gates := map[string]chan struct{}{"A": make(chan struct{}), "B": make(chan struct{})}
	started := make(chan string, 10)
	var mu sync.Mutex
	var selected [][]string
	var executed []string
	given := map[string]bool{}
	d := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		var out []string
		for _, it := range req.Items {
			ids = append(ids, it.ID)
			for i := range 3 {
				rec := it.ID + strconv.Itoa(i)
				if !given[rec] {
					given[rec] = true
					out = append(out, rec)
				}
			}
		}
		selected = append(selected, ids)
		return out, nil
	}, func(ctx context.Context, rec string, _ string) error {
		if rec[1] == '0' {
			started <- rec
			<-gates[rec[:1]]
		}
		mu.Lock()
		executed = append(executed, rec)
		mu.Unlock()
		return nil
	})
	cfg := testConfig(processor.NotSleep, 4)
	p, err := New(d, cfg)
	require.NoError(t, err)
	p.SetItems(items("A"))
	start(t, p)
	require.Equal(t, "A0", <-started)
	relA := p.Release([]string{"A"})
	assert.Empty(t, p.Status().Items)
	p.SetItems(items("B"))
	require.Equal(t, "B0", <-started)
	relB := p.Release([]string{"B"})
	relNone := p.Release([]string{"C"})
	closed(t, relNone, "release of an item never fetched")

	close(gates["B"])
	closed(t, relB, "release B")
	assert.False(t, isClosed(relA), "release A closed while A0 runs")
	close(gates["A"])
	closed(t, relA, "release A")
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(executed)
	assert.Equal(t, []string{"A0", "A1", "A2", "B0", "B1", "B2"}, executed, "queued records executed before release")
	for _, s := range selected {
		assert.Len(t, s, 1, "no fetch mixed released and new items: %v", selected)
	}
}

// TestSetItemsConcurrently: SetItems races with fetches; each fetch uses one
// of the item sets given.
func TestSetItemsConcurrently(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			sets := [][]processor.TaskItem{items("0"), items("0", "1"), items("2", "3"), nil, items("1")}
			var next atomic.Int64
			d := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
				assert.NotEmpty(t, req.Items)
				assert.Equal(t, req.Items, processor.ItemsFromContext(ctx))
				ok := slices.ContainsFunc(sets, func(s []processor.TaskItem) bool { return slices.Equal(s, req.Items) })
				assert.True(t, ok, "fetch with items %v", req.Items)
				n := next.Add(5)
				return []int{int(n), int(n) + 1, int(n) + 2, int(n) + 3, int(n) + 4}, nil
			}, func(ctx context.Context, _ int, _ string) error { return nil })
			p, err := New(d, testConfig(mode, 3))
			require.NoError(t, err)
			start(t, p)
			var wg sync.WaitGroup
			for g := range 3 {
				wg.Go(func() {
					for i := range 300 {
						p.SetItems(sets[(i+g)%len(sets)])
					}
				})
			}
			wg.Wait()
			p.SetItems(items("0"))
			eventually(t, func() bool { return p.Stats().Succeeded > 50 }, "processing")
		})
	}
}

// TestNoItemsNoFetch: without items the processor idles and never calls
// SelectTasks.
func TestNoItemsNoFetch(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			src := &source{total: 10}
			sel := func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
				if len(req.Items) == 0 {
					t.Error("SelectTasks called without items")
				}
				return src.selectTasks(ctx, req)
			}
			p, err := New(processor.SingleFunc(sel, func(context.Context, int, string) error { return nil }), testConfig(mode, 3))
			require.NoError(t, err)
			start(t, p)
			eventually(t, func() bool { return p.Status().Running }, "running")
			assert.Zero(t, src.Calls())
			p.SetItems(items("0"))
			eventually(t, func() bool { return p.Stats().Succeeded == 10 }, "fetches once items are set")
		})
	}
}

// TestSleepsInterruptible: long SleepTimeNoData and SleepTimeInterval end at
// once when Run's context is cancelled.
func TestSleepsInterruptible(t *testing.T) {
	for _, which := range []string{"nodata", "interval"} {
		for _, mode := range modes {
			t.Run(which+"/"+string(mode), func(t *testing.T) {
				src := &source{total: 0}
				cfg := testConfig(mode, 2)
				cfg.SleepTimeNoData = time.Hour
				if which == "interval" {
					cfg.SleepTimeInterval = time.Hour
				}
				// The fake clock never moves: Run returns only if
				// the cancel ends the sleep.
				clk := newFakeClock()
				p, err := New(processor.SingleFunc(src.selectTasks, func(context.Context, int, string) error { return nil }), cfg, WithClock(clk))
				require.NoError(t, err)
				p.SetItems(items("0"))
				r := start(t, p)
				if which == "nodata" {
					eventually(t, func() bool { return src.Calls() == 1 }, "first fetch")
				}
				eventually(t, func() bool { return p.Status().Fetching && clk.Active() == 1 }, "sleeping with the fetch turn")
				assert.Equal(t, []time.Duration{time.Hour}, clk.Armed())
				require.NoError(t, r.stop())
			})
		}
	}
}

// TestSleepTimeNoDataUsesClock: after an empty fetch the processor waits for
// SleepTimeNoData on its Clock before fetching again.
func TestSleepTimeNoDataUsesClock(t *testing.T) {
	clk := newFakeClock()
	src := &source{total: 0}
	cfg := testConfig(processor.Sleep, 2)
	cfg.SleepTimeNoData = time.Minute
	cfg.ShutdownTimeout = -1 // none: cancel at once
	p, err := New(processor.SingleFunc(src.selectTasks, func(context.Context, int, string) error { return nil }), cfg, WithClock(clk))
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	eventually(t, func() bool { return src.Calls() == 1 && clk.Active() == 1 }, "first fetch, then a timer")
	assert.Equal(t, []time.Duration{time.Minute}, clk.Armed(), "the fetcher waits SleepTimeNoData")
	clk.Advance(59 * time.Second)
	assert.Equal(t, []time.Duration{time.Second}, clk.Armed(), "the timer has not fired after 59s")
	assert.Equal(t, 1, src.Calls())
	clk.Advance(time.Second)
	eventually(t, func() bool { return p.Stats().FetchCalls == 2 }, "second fetch after a minute")
	assert.Equal(t, clk.Now(), p.Stats().LastFetch)
}

// TestFetchDataCountEachSchedule: the cap counts SelectTasks calls of the
// whole processor (not per goroutine), and resets with each Run.
func TestFetchDataCountEachSchedule(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			src := &source{total: 1 << 30}
			var pauses []PauseReason
			var mu sync.Mutex
			cfg := testConfig(mode, 4)
			cfg.FetchDataCountEachSchedule = 3
			var p *Processor
			cfg.OnPause = func(r PauseReason) {
				mu.Lock()
				pauses = append(pauses, r)
				mu.Unlock()
				assert.Zero(t, p.Status().Unfinished, "paused before drained")
			}
			p, err := New(processor.SingleFunc(src.selectTasks, func(context.Context, int, string) error { return nil }), cfg)
			require.NoError(t, err)
			p.SetItems(items("0"))
			r := start(t, p)
			eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(pauses) == 1 }, "paused")
			require.NoError(t, r.stop())
			assert.Equal(t, 3, src.Calls(), "fetches of the Run, counted after it returned")
			assert.EqualValues(t, 30, p.Stats().Succeeded)
			assert.Equal(t, []PauseReason{PauseFetchLimit}, pauses)
			assert.Equal(t, PauseFetchLimit, p.Status().Paused)

			r = start(t, p)
			eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(pauses) == 2 }, "paused again")
			require.NoError(t, r.stop())
			assert.Equal(t, 6, src.Calls())
		})
	}
}

// TestPauseWhenNoData: an empty fetch stops fetching and reports the pause
// once, when everything fetched is finished.
func TestPauseWhenNoData(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			src := &source{total: 25}
			var pauses atomic.Int64
			cfg := testConfig(mode, 3)
			cfg.PauseWhenNoData = true
			cfg.SleepTimeNoData = time.Hour // not used when pausing
			var noData atomic.Int64
			cfg.OnNoData = func() { noData.Add(1) }
			var p *Processor
			cfg.OnPause = func(r PauseReason) {
				assert.Equal(t, PauseNoData, r)
				assert.Zero(t, p.Status().Unfinished, "paused before drained")
				pauses.Add(1)
			}
			sel := func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
				if pauses.Load() > 0 {
					t.Error("fetch after the pause")
				}
				return src.selectTasks(ctx, req)
			}
			p, err := New(processor.SingleFunc(sel, func(context.Context, int, string) error { return nil }), cfg)
			require.NoError(t, err)
			p.SetItems(items("0"))
			r := start(t, p)
			eventually(t, func() bool { return pauses.Load() == 1 }, "paused")
			assert.EqualValues(t, 25, p.Stats().Succeeded)
			require.NoError(t, r.stop())
			assert.Equal(t, 4, src.Calls(), "fetches of the Run: 10, 10, 5, then the empty one")
			assert.EqualValues(t, 1, pauses.Load())
			assert.EqualValues(t, 1, noData.Load())
		})
	}
}

// TestNotSleepSuppressesInFlight: SelectTasks keeps returning the records in
// flight; they are not handed out again, counted, and the fetcher waits for a
// record to finish instead of looping.
func TestNotSleepSuppressesInFlight(t *testing.T) {
	gate := make(chan struct{})
	var executing sync.Map
	var doneMu sync.Mutex
	done := map[int]bool{}
	var calls atomic.Int64
	var opened atomic.Bool
	d := processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]int, error) {
		if n := calls.Add(1); n > 2 && !opened.Load() {
			t.Errorf("fetch %d while every record is in flight: a fetch loop", n)
		}
		doneMu.Lock()
		defer doneMu.Unlock()
		var out []int
		for i := range 4 {
			if !done[i] {
				out = append(out, i, i) // and twice in the same fetch
			}
		}
		return out, nil
	}, func(ctx context.Context, id int, _ string) error {
		if _, loaded := executing.LoadOrStore(id, true); loaded {
			t.Errorf("record %d executed twice at once", id)
		}
		<-gate
		doneMu.Lock()
		done[id] = true
		doneMu.Unlock()
		executing.Delete(id)
		return nil
	})
	cfg := testConfig(processor.NotSleep, 8)
	cfg.SleepTimeNoData = time.Hour
	cfg.PauseWhenNoData = true
	p, err := New(d, cfg)
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	eventually(t, func() bool { return p.Status().Executing == 4 }, "4 records executing")
	assert.LessOrEqual(t, calls.Load(), int64(2), "no fetch loop while everything is in flight")
	opened.Store(true)
	close(gate)
	// Execute marks a record done before it returns, so the pause can come
	// before the last executions are counted: wait for both.
	eventually(t, func() bool { return p.Status().Paused == PauseNoData && p.Status().Executing == 0 }, "drained")
	s := p.Stats()
	assert.EqualValues(t, 4, s.Succeeded)
	assert.Equal(t, s.Fetched-4, s.DuplicatesSuppressed)
}

// TestSleepNoFetchDuringExecution: in SLEEP, SelectTasks never runs while a
// goroutine of the group executes.
func TestSleepNoFetchDuringExecution(t *testing.T) {
	var executing atomic.Int64
	src := &source{total: 400}
	d := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
		if n := executing.Load(); n != 0 {
			t.Errorf("fetch while %d execute", n)
		}
		return src.selectTasks(ctx, req)
	}, func(_ context.Context, id int, _ string) error {
		executing.Add(1)
		defer executing.Add(-1)
		if id%7 == 0 {
			// Some deals take a while (work, not synchronisation), so a
			// fetch that does not wait for them would overlap them.
			time.Sleep(200 * time.Microsecond)
		}
		return nil
	})
	p, err := New(d, testConfig(processor.Sleep, 6))
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	eventually(t, func() bool { return p.Stats().Succeeded == 400 }, "all done")
}

// TestItemsFromContext: deals see the items and epochs of their fetch.
func TestItemsFromContext(t *testing.T) {
	want := []processor.TaskItem{{ID: "3", Parameter: "TYPE=A", Epoch: 42}}
	var got atomic.Value
	d := processor.SingleFunc(func(ctx context.Context, req processor.SelectRequest) ([]int, error) {
		assert.Equal(t, want, req.Items)
		assert.Equal(t, want, processor.ItemsFromContext(ctx))
		assert.Equal(t, "param", req.TaskParameter)
		assert.Equal(t, "DEV", req.OwnSign)
		assert.Equal(t, 10, req.TaskItemNum)
		assert.Equal(t, 10, req.FetchNum)
		req.Items[0].Epoch = 0 // a careless deal cannot corrupt the processor
		return []int{1}, nil
	}, func(ctx context.Context, _ int, ownSign string) error {
		assert.Equal(t, "DEV", ownSign)
		got.Store(processor.ItemsFromContext(ctx))
		return nil
	})
	cfg := testConfig(processor.Sleep, 1)
	cfg.TaskParameter, cfg.OwnSign, cfg.TaskItemNum = "param", "DEV", 10
	cfg.PauseWhenNoData = true
	p, err := New(d, cfg)
	require.NoError(t, err)
	p.SetItems(want)
	start(t, p)
	eventually(t, func() bool { return got.Load() != nil }, "executed")
	assert.Equal(t, want, got.Load())
	assert.Equal(t, want, p.Status().Items)
	assert.Nil(t, processor.ItemsFromContext(context.Background()))
}

// TestMultiBatches: batches hold at most ExecuteNumber records of one fetch.
func TestMultiBatches(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			src := &source{total: 1000}
			var mu sync.Mutex
			sizes := map[int]int{}
			d := processor.MultiFunc(src.selectTasks, func(_ context.Context, ids []int, _ string) error {
				mu.Lock()
				defer mu.Unlock()
				sizes[len(ids)]++
				if ids[0]/37 != ids[len(ids)-1]/37 {
					t.Errorf("batch %v spans fetches", ids)
				}
				for i := 1; i < len(ids); i++ {
					if ids[i] != ids[i-1]+1 {
						t.Errorf("batch %v not contiguous", ids)
					}
				}
				return nil
			})
			cfg := testConfig(mode, 3)
			cfg.FetchDataNumber = 37
			cfg.ExecuteNumber = 5
			p, err := New(d, cfg)
			require.NoError(t, err)
			p.SetItems(items("0"))
			start(t, p)
			eventually(t, func() bool { return p.Stats().Succeeded == 1000 }, "all done")
			mu.Lock()
			defer mu.Unlock()
			for size := range sizes {
				assert.LessOrEqual(t, size, 5)
				assert.Positive(t, size)
			}
			assert.Positive(t, sizes[5])
		})
	}
}

// recMetrics records Metrics events.
type recMetrics struct {
	fetched, dealt, dropped, retrying, failingKeys atomic.Int64
}

func (m *recMetrics) Fetched(n, _ int, _ time.Duration, _ error) { m.fetched.Add(int64(n)) }
func (m *recMetrics) Dealt(ok, failed int, _ time.Duration)      { m.dealt.Add(int64(ok + failed)) }
func (m *recMetrics) Dropped(n int, _ processor.DropReason)      { m.dropped.Add(int64(n)) }
func (m *recMetrics) Retrying(n, keys int) {
	m.retrying.Add(int64(n))
	m.failingKeys.Store(int64(keys))
}

type panicMetrics struct{}

func (panicMetrics) Fetched(int, int, time.Duration, error) { panic("metrics") }
func (panicMetrics) Dealt(int, int, time.Duration)          { panic("metrics") }
func (panicMetrics) Dropped(int, processor.DropReason)      { panic("metrics") }
func (panicMetrics) Retrying(int, int)                      { panic("metrics") }

func TestMetrics(t *testing.T) {
	m := &recMetrics{}
	src := &source{total: 100}
	p, err := New(processor.SingleFunc(src.selectTasks, func(context.Context, int, string) error { return nil }), testConfig(processor.NotSleep, 2), WithMetrics(m))
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	eventually(t, func() bool { return m.dealt.Load() == 100 }, "dealt")
	assert.EqualValues(t, 100, m.fetched.Load())

	t.Run("panicking metrics", func(t *testing.T) {
		log, buf := newLogger()
		src := &source{total: 10}
		p, err := New(processor.SingleFunc(src.selectTasks, func(context.Context, int, string) error { return nil }), testConfig(processor.Sleep, 1),
			WithMetrics(panicMetrics{}), WithLogger(log))
		require.NoError(t, err)
		p.SetItems(items("0"))
		start(t, p)
		eventually(t, func() bool { return p.Stats().Succeeded == 10 }, "dealt")
		assert.Contains(t, buf.String(), "hook panicked")
	})
}

// TestOnNoData: without PauseWhenNoData, every empty fetch calls OnNoData and
// fetching goes on after SleepTimeNoData; a panicking hook is survived.
func TestOnNoData(t *testing.T) {
	src := &source{total: 3}
	var calls atomic.Int64
	cfg := testConfig(processor.NotSleep, 2)
	cfg.SleepTimeNoData = time.Millisecond
	cfg.OnNoData = func() {
		if calls.Add(1) == 1 {
			panic("hook")
		}
	}
	log, buf := newLogger()
	p, err := New(processor.SingleFunc(src.selectTasks, func(context.Context, int, string) error { return nil }), cfg, WithLogger(log))
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	eventually(t, func() bool { return calls.Load() >= 3 }, "no data, repeatedly")
	assert.EqualValues(t, 3, p.Stats().Succeeded)
	assert.Empty(t, p.Status().Paused)
	assert.Contains(t, buf.String(), "OnNoData")
}

func TestSetTaskItemNum(t *testing.T) {
	var got atomic.Int64
	d := processor.SingleFunc(func(_ context.Context, req processor.SelectRequest) ([]int, error) {
		got.Store(int64(req.TaskItemNum))
		return nil, nil
	}, func(context.Context, int, string) error { return nil })
	cfg := testConfig(processor.Sleep, 1)
	cfg.TaskItemNum = 4
	cfg.SleepTimeNoData = time.Millisecond
	p, err := New(d, cfg)
	require.NoError(t, err)
	p.SetItems(items("0"))
	start(t, p)
	eventually(t, func() bool { return got.Load() == 4 }, "initial")
	p.SetTaskItemNum(12)
	eventually(t, func() bool { return got.Load() == 12 }, "changed")
}
