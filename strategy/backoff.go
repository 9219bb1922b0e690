package strategy

import (
	"math/rand/v2"
	"time"
)

// backoff is jittered exponential backoff: each delay is drawn from
// [cur/2, cur], cur doubling from min up to max.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func (b *backoff) reset() { b.cur = 0 }
