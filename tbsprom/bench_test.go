package tbsprom_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/engine"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/tbsprom"
)

// BenchmarkProcessorMetrics is the processor's empty-deal benchmark (one op
// is one record of a single deal that does nothing) with the exporter's
// processor receiver off and on, side by side in one run:
//
//	go test -bench ProcessorMetrics -run '^$' -cpu 1,2 -count 5 ./
//
// (in tbsprom/). tasks/cpu-s is the rate per CPU-second of the process, the
// figure that load from other processes barely moves.
func BenchmarkProcessorMetrics(b *testing.B) {
	for _, mode := range []processor.Type{processor.NotSleep, processor.Sleep} {
		for _, threads := range []int{1, 2} {
			for _, on := range []bool{false, true} {
				name := fmt.Sprintf("%s/threads=%d/metrics=%s", mode, threads, map[bool]string{false: "off", true: "on"}[on])
				b.Run(name, func(b *testing.B) { benchEmptyDeal(b, mode, threads, on) })
			}
		}
	}
}

func benchEmptyDeal(b *testing.B, mode processor.Type, threads int, metricsOn bool) {
	var mu sync.Mutex
	remaining := b.N
	sel := func(_ context.Context, req processor.SelectRequest) ([]int, error) {
		mu.Lock()
		defer mu.Unlock()
		n := min(req.FetchNum, remaining)
		out := make([]int, n)
		for i := range out {
			out[i] = remaining
			remaining--
		}
		return out, nil
	}
	d := processor.SingleFunc(sel, func(context.Context, int, string) error { return nil })
	cfg := engine.DefaultConfig()
	cfg.Type, cfg.ThreadNumber, cfg.PauseWhenNoData = mode, threads, true
	done := make(chan struct{})
	cfg.OnPause = func(engine.PauseReason) { close(done) }
	opts := []engine.Option{engine.WithLogger(slog.New(slog.DiscardHandler))}
	if metricsOn {
		opts = append(opts, engine.WithMetrics(tbsprom.New().Processor("bench$BASE")))
	}
	p, err := engine.New(d, cfg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	b.ResetTimer()
	cpu0 := cpuTime()
	p.SetItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	<-done
	cpu := cpuTime() - cpu0
	b.StopTimer()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	if s := p.Stats(); s.Succeeded != int64(b.N) {
		b.Fatalf("succeeded %d of %d", s.Succeeded, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "tasks/cpu-s")
	}
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the CPU time (user + system) of the whole process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReceiverDealt is the cost of one Dealt call of the exporter's
// processor receiver (two counters and the deal-duration histogram), the
// call a processor makes per group of records a goroutine takes (about 28
// per 1,000 records of an empty single deal with the default config).
func BenchmarkReceiverDealt(b *testing.B) {
	m := tbsprom.New().Processor("bench$BASE")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Dealt(17, 0, 300*time.Microsecond)
		}
	})
}
