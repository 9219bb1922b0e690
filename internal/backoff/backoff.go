// Package backoff is the jittered exponential backoff shared by the
// manager's and the factory's retry loops.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields delays drawn from [cur/2, cur], cur doubling from Min up to
// Max at each Next and starting again at Min after Reset. Not safe for
// concurrent use.
type Backoff struct {
	min, max, cur time.Duration
}

// New returns a Backoff from min to max (min > 0, max >= min).
func New(min, max time.Duration) *Backoff { return &Backoff{min: min, max: max} }

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// Reset makes the next delay start from min again.
func (b *Backoff) Reset() { b.cur = 0 }
