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
