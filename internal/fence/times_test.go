package fence_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/internal/fence"
)

func TestTimes(t *testing.T) {
	tests := []struct {
		name                  string
		timeout, after        time.Duration
		wantFence, wantTakeov time.Duration
	}{
		{"default: a third", 3 * time.Second, 0, time.Second, 2100 * time.Millisecond},
		{"capped at half", 3 * time.Second, 5 * time.Second, 1500 * time.Millisecond, 2600 * time.Millisecond},
		{"set below the cap", 6 * time.Second, time.Second, time.Second, 3100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, tk := fence.Times(tc.timeout, tc.after)
			assert.Equal(t, tc.wantFence, f)
			assert.Equal(t, tc.wantTakeov, tk)
			assert.Equal(t, f, fence.PolicyOf(tc.timeout, tc.after, fence.Fault{}).After, "the guard's delay is Times' fence")
		})
	}
}

func TestLockDelay(t *testing.T) {
	assert.Equal(t, 2100*time.Millisecond, fence.LockDelay(3*time.Second, 0, 0), "default: Times' takeover")
	assert.Equal(t, 2600*time.Millisecond, fence.LockDelay(3*time.Second, 5*time.Second, 0), "follows the fence delay")
	assert.Equal(t, 700*time.Millisecond, fence.LockDelay(3*time.Second, 0, 700*time.Millisecond))
	assert.Zero(t, fence.LockDelay(3*time.Second, 0, -1), "negative: none")

	for _, tc := range []struct {
		d    time.Duration
		rec  int64
		back time.Duration
	}{
		{0, -1, 0}, {-time.Second, -1, 0},
		{time.Microsecond, 1, time.Millisecond}, // never rounded down to "absent" or "none"
		{2100 * time.Millisecond, 2100, 2100 * time.Millisecond},
	} {
		rec := fence.EncodeLockDelay(tc.d)
		assert.Equal(t, tc.rec, rec, "%v", tc.d)
		back, known := fence.DecodeLockDelay(rec)
		assert.True(t, known, "%v", tc.d)
		assert.Equal(t, tc.back, back, "%v", tc.d)
	}
	_, known := fence.DecodeLockDelay(0)
	assert.False(t, known, "a record without a lock delay")
}
