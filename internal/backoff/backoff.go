// Package backoff is the jittered exponential backoff shared by the
// manager's, the factory's and the processor's retry loops.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields delays drawn from [cur/2, cur], cur doubling from Min up to
// Max at each Next and starting again at Min after Reset. Not safe for
// concurrent use.
type Backoff struct {
	min, max time.Duration
	n        int // delays given since New or Reset
}

// New returns a Backoff from min to max (min > 0, max >= min).
func New(min, max time.Duration) *Backoff { return &Backoff{min: min, max: max} }

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	if b.n < maxSteps {
		b.n++
	}
	return Delay(b.min, b.max, b.n, rand.Float64())
}

// Reset makes the next delay start from min again.
func (b *Backoff) Reset() { b.n = 0 }

// maxSteps bounds Backoff's count: past 63 doublings every cap is reached.
const maxSteps = 64

// Delay is the n-th delay (n >= 1) of a backoff from lo to hi (0 < lo <= hi):
// cur = lo·2^(n-1), capped at hi, and the delay is cur/2 + jitter·cur/2, i.e.
// in [cur/2, cur] for jitter in [0, 1]. It is pure: the caller draws jitter
// (rand.Float64 in production, fixed values in tests). n < 1 is taken as 1;
// jitter is clamped to [0, 1].
func Delay(lo, hi time.Duration, n int, jitter float64) time.Duration {
	cur := lo
	for i := 1; i < n && cur < hi; i++ {
		if cur > hi/2 {
			cur = hi
			break
		}
		cur *= 2
	}
	cur = max(lo, min(cur, hi))
	jitter = min(max(jitter, 0), 1)
	half := cur / 2
	return half + time.Duration(jitter*float64(cur-half))
}
