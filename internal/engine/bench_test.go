package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
)

// Benchmarks: b.N records go through a processor; one op is one record.
// Each run reports tasks/s (wall clock), allocs/task (exact, fractional), and
// for empty deals tasks/cpu-s (per CPU-second of the process: the per-core
// rate); for deals that sleep, the percentage of the ideal rate
// (threads*batch / deal time), against the nominal and the measured deal time.
//
//	go test -bench . -benchmem -run '^$' -cpu 1,2 ./internal/engine/

type benchCase struct {
	mode    processor.Type
	multi   bool
	threads int
	execNum int
	deal    time.Duration // 0: empty deal
	lease   bool          // WithLease, as the manager passes it
}

func (c benchCase) name() string {
	kind := "single"
	if c.multi {
		kind = fmt.Sprintf("multi%d", c.execNum)
	}
	deal := "empty"
	if c.deal > 0 {
		deal = c.deal.String()
	}
	name := fmt.Sprintf("%s/%s/deal=%s/threads=%d", c.mode, kind, deal, c.threads)
	if c.lease {
		name += "/lease"
	}
	return name
}

func BenchmarkProcessor(b *testing.B) {
	cases := []benchCase{
		{mode: processor.NotSleep, threads: 1},
		{mode: processor.NotSleep, threads: 2},
		{mode: processor.NotSleep, threads: 4},
		{mode: processor.Sleep, threads: 1},
		{mode: processor.Sleep, threads: 2},
		{mode: processor.Sleep, threads: 4},
		{mode: processor.NotSleep, multi: true, execNum: 10, threads: 2},
		{mode: processor.Sleep, multi: true, execNum: 10, threads: 2},
		{mode: processor.NotSleep, threads: 10, deal: time.Millisecond},
		{mode: processor.Sleep, threads: 10, deal: time.Millisecond},
		{mode: processor.NotSleep, multi: true, execNum: 10, threads: 10, deal: time.Millisecond},
		{mode: processor.Sleep, multi: true, execNum: 10, threads: 10, deal: time.Millisecond},
	}
	for _, c := range cases {
		b.Run(c.name(), func(b *testing.B) { benchProcessor(b, c) })
	}
}

// BenchmarkProcessorLease is the empty-deal part of BenchmarkProcessor with
// the lease asked before every fetch and every record, through the same
// path as in production: the work host's atomic pointer to the session, then
// the session's Alive (an atomic flag, a clock read, an atomic load).
func BenchmarkProcessorLease(b *testing.B) {
	cases := []benchCase{
		{mode: processor.NotSleep, threads: 1, lease: true},
		{mode: processor.NotSleep, threads: 2, lease: true},
		{mode: processor.NotSleep, threads: 4, lease: true},
		{mode: processor.Sleep, threads: 1, lease: true},
		{mode: processor.Sleep, threads: 2, lease: true},
		{mode: processor.Sleep, threads: 4, lease: true},
		{mode: processor.NotSleep, multi: true, execNum: 10, threads: 2, lease: true},
		{mode: processor.Sleep, multi: true, execNum: 10, threads: 2, lease: true},
	}
	for _, c := range cases {
		b.Run(c.name(), func(b *testing.B) { benchProcessor(b, c) })
	}
}

// benchSession has the lease of a ZooKeeper session on the system clock:
// not ended, and the last answer younger than the threshold on the
// monotonic clock (one read of it).
type benchSession struct {
	over      atomic.Bool
	lastRecv  atomic.Int64
	start     time.Time
	threshold time.Duration
}

func (s *benchSession) Alive() bool {
	if s.over.Load() {
		return false
	}
	return time.Since(s.start)-time.Duration(s.lastRecv.Load()) <= s.threshold
}

type aliver interface{ Alive() bool }

// benchLease returns the lease as the work host builds it.
func benchLease() func() bool {
	var cur atomic.Pointer[struct{ s aliver }]
	cur.Store(&struct{ s aliver }{&benchSession{start: time.Now(), threshold: time.Hour}})
	return func() bool {
		l := cur.Load()
		return l != nil && l.s.Alive()
	}
}

func benchProcessor(b *testing.B, c benchCase) {
	var mu sync.Mutex
	remaining := b.N
	sel := func(_ context.Context, req processor.SelectRequest) ([]int, error) {
		mu.Lock()
		defer mu.Unlock()
		n := min(req.FetchNum, remaining)
		if n == 0 {
			return nil, nil
		}
		out := make([]int, n)
		for i := range out {
			out[i] = remaining
			remaining--
		}
		return out, nil
	}
	// The sleeping deals are the work being measured (a deal of c.deal),
	// not synchronisation.
	var d processor.Deal
	switch {
	case c.multi && c.deal > 0:
		d = processor.MultiFunc(sel, func(context.Context, []int, string) error { time.Sleep(c.deal); return nil })
	case c.multi:
		d = processor.MultiFunc(sel, func(context.Context, []int, string) error { return nil })
	case c.deal > 0:
		d = processor.SingleFunc(sel, func(context.Context, int, string) error { time.Sleep(c.deal); return nil })
	default:
		d = processor.SingleFunc(sel, func(context.Context, int, string) error { return nil })
	}
	cfg := DefaultConfig()
	cfg.Type = c.mode
	cfg.ThreadNumber = c.threads
	cfg.ExecuteNumber = max(c.execNum, 1)
	cfg.PauseWhenNoData = true // the end of the data ends the run
	done := make(chan struct{})
	cfg.OnPause = func(PauseReason) { close(done) }
	opts := []Option{WithLogger(slog.New(slog.DiscardHandler))}
	if c.lease {
		opts = append(opts, WithLease(benchLease()))
	}
	p, err := New(d, cfg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	cpu0 := cpuTime()
	p.SetItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	<-done
	cpu := cpuTime() - cpu0
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	if s := p.Stats(); s.Succeeded != int64(b.N) {
		b.Fatalf("succeeded %d of %d", s.Succeeded, b.N)
	}
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "tasks/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N), "allocs/task")
	if cpu > 0 && c.deal == 0 {
		// Tasks per second of CPU time used by the whole process (all
		// goroutines, GC included): the per-core rate, robust to load from
		// other processes.
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "tasks/cpu-s")
	}
	b.ReportMetric(0, "ns/op") // tasks/s says it better
	if c.deal > 0 {
		ideal := float64(c.threads*cfg.ExecuteNumber) / c.deal.Seconds()
		b.ReportMetric(100*rate/ideal, "%ideal")
		// The same against the deal's measured duration (a sleep
		// overshoots): what the processor itself loses.
		calls := float64(b.N) / float64(cfg.ExecuteNumber)
		mean := p.Stats().DealTime.Seconds() / calls
		b.ReportMetric(100*rate/(float64(c.threads*cfg.ExecuteNumber)/mean), "%ideal(measured-deal)")
	}
}

// BenchmarkSleepCeiling measures what 10 goroutines that only sleep 1ms in a
// loop achieve: the ceiling of the 1ms-deal benchmarks on this machine
// (a sleep overshoots 1ms).
func BenchmarkSleepCeiling(b *testing.B) {
	const threads = 10
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for range threads {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				time.Sleep(time.Millisecond) // the 1ms of work measured, not synchronisation
			}
		})
	}
	wg.Wait()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "tasks/s")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(100*rate/(threads/0.001), "%ideal")
}
