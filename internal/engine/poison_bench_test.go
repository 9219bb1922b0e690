package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
)

// BenchmarkPoisonRecord: a stream of records, one arriving every 10 ms (one
// op = one of them, executed with a 1 ms deal), and one record whose deal
// always fails (1 ms, then an error) and is never marked done, so that every
// SelectTasks returns it. DefaultConfig (5 goroutines), real clock. Reports,
// for the whole run: how often the poison was handed to the deal, the log
// lines of level Warn and above, and the rate of the stream (100/s when
// nothing holds it up). About 10 s:
//
//	go test -bench PoisonRecord -benchtime 1000x -run '^$' ./internal/engine/
func BenchmarkPoisonRecord(b *testing.B) {
	for _, mode := range []processor.Type{processor.Sleep, processor.NotSleep} {
		b.Run(string(mode), func(b *testing.B) { benchPoison(b, mode) })
	}
}

// lineCounter counts log lines.
type lineCounter struct{ n atomic.Int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

// stream is the records of BenchmarkPoisonRecord: 0 is the poison, record i
// arrives i*10ms after the first SelectTasks.
type stream struct {
	mu    sync.Mutex
	t0    time.Time
	n     int
	done  []bool
	left  int
	empty chan struct{} // closed when all n are done
}

func (s *stream) selectTasks(_ context.Context, req processor.SelectRequest) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t0.IsZero() {
		s.t0 = time.Now()
	}
	arrived := min(s.n, int(time.Since(s.t0)/(10*time.Millisecond)))
	out := []int{0}
	for id := 1; id <= arrived && len(out) < req.FetchNum; id++ {
		if !s.done[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *stream) finish(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done[id] {
		s.done[id] = true
		if s.left--; s.left == 0 {
			close(s.empty)
		}
	}
}

func benchPoison(b *testing.B, mode processor.Type) {
	s := &stream{n: b.N, done: make([]bool, b.N+1), left: b.N, empty: make(chan struct{})}
	var tries atomic.Int64
	deal := processor.SingleFunc(s.selectTasks, func(_ context.Context, id int, _ string) error {
		time.Sleep(time.Millisecond) // a deal's work (the benchmark's unit), not synchronisation
		if id == 0 {
			tries.Add(1)
			return errors.New("poison")
		}
		s.finish(id)
		return nil
	})
	cfg := DefaultConfig()
	cfg.Type = mode
	lines := &lineCounter{}
	log := slog.New(slog.NewTextHandler(lines, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := New(deal, cfg, WithLogger(log))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	b.ResetTimer()
	p.SetItems([]processor.TaskItem{{ID: "0", Epoch: 1}})
	<-s.empty
	b.StopTimer()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(secs, "s")
	b.ReportMetric(float64(tries.Load()), "poison-tries")
	b.ReportMetric(float64(lines.n.Load()), "warn-lines")
	b.ReportMetric(float64(b.N)/secs, "records/s")
	b.ReportMetric(0, "ns/op")
}
