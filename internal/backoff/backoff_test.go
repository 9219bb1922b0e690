package backoff

import (
	"testing"
	"time"
)

func TestNextDoublesWithinJitterAndCaps(t *testing.T) {
	b := New(100*time.Millisecond, time.Second)
	for range 50 {
		b.Reset()
		want := []time.Duration{100, 200, 400, 800, 1000, 1000}
		for i, w := range want {
			w *= time.Millisecond
			d := b.Next()
			if d < w/2 || d > w {
				t.Fatalf("delay %d = %v, want within [%v, %v]", i, d, w/2, w)
			}
		}
	}
}

func TestResetStartsAgain(t *testing.T) {
	b := New(10*time.Millisecond, time.Second)
	for range 5 {
		b.Next()
	}
	b.Reset()
	if d := b.Next(); d > 10*time.Millisecond {
		t.Fatalf("after Reset: %v, want ≤ 10ms", d)
	}
}

func TestDelay(t *testing.T) {
	const ms = time.Millisecond
	cases := []struct {
		name   string
		lo, hi time.Duration
		n      int
		jitter float64
		want   time.Duration
	}{
		{"first, no jitter", 100 * ms, 30 * time.Second, 1, 0, 50 * ms},
		{"first, full jitter", 100 * ms, 30 * time.Second, 1, 1, 100 * ms},
		{"first, half jitter", 100 * ms, 30 * time.Second, 1, 0.5, 75 * ms},
		{"second doubles", 100 * ms, 30 * time.Second, 2, 1, 200 * ms},
		{"ninth", 100 * ms, 30 * time.Second, 9, 1, 25600 * ms},
		{"tenth capped", 100 * ms, 30 * time.Second, 10, 1, 30 * time.Second},
		{"capped, no jitter", 100 * ms, 30 * time.Second, 10, 0, 15 * time.Second},
		{"huge n capped", 100 * ms, 30 * time.Second, 1 << 40, 1, 30 * time.Second},
		{"n below 1 is 1", 100 * ms, 30 * time.Second, 0, 1, 100 * ms},
		{"jitter clamped high", 100 * ms, time.Second, 1, 7, 100 * ms},
		{"jitter clamped low", 100 * ms, time.Second, 1, -3, 50 * ms},
		{"lo equals hi", time.Second, time.Second, 5, 1, time.Second},
		{"cap near max int64 does not overflow", time.Second, time.Duration(1<<63 - 1), 200, 1, time.Duration(1<<63 - 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Delay(c.lo, c.hi, c.n, c.jitter); got != c.want {
				t.Fatalf("Delay(%v, %v, %d, %v) = %v, want %v", c.lo, c.hi, c.n, c.jitter, got, c.want)
			}
		})
	}
}

// TestDelayGrowsAndStaysInRange: for every n and jitter the delay lies in
// [cur/2, cur] and never decreases with n at a fixed jitter.
func TestDelayGrowsAndStaysInRange(t *testing.T) {
	lo, hi := 100*time.Millisecond, 30*time.Second
	for _, j := range []float64{0, 0.25, 0.5, 0.99, 1} {
		prev := time.Duration(0)
		for n := 1; n < 80; n++ {
			d := Delay(lo, hi, n, j)
			if d < lo/2 || d > hi {
				t.Fatalf("Delay(n=%d, jitter=%v) = %v, outside [%v, %v]", n, j, d, lo/2, hi)
			}
			if d < prev {
				t.Fatalf("Delay(n=%d, jitter=%v) = %v < previous %v", n, j, d, prev)
			}
			prev = d
		}
	}
}
