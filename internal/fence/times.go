package fence

import "time"

// takeoverMargin is added to the takeover delay for the return of cancelled
// work and the skew between two processes' timers.
const takeoverMargin = 100 * time.Millisecond

// Times returns, for a session of the given timeout and a configured fence
// delay (0 means the default), the two delays of self-fencing:
//
//   - fence: how long running work may go on once the session is suspect
//     (by default a third of the timeout; capped at half of it);
//   - takeover: the longest work may go on after the last request the
//     server answered was sent — a store reports a silent session suspect
//     within a third of the timeout, the fence comes fence later, plus a
//     margin of 100ms for cancelled work to return.
//
// takeover is the default lock delay: a leader grants the items (or counts
// the Bean copies) of a server or factory whose node vanished only that
// long after it saw it vanish, because a session closed early by someone
// else (not expired by silence) can end while its client is cut off and
// still working.
func Times(sessionTimeout, fenceAfter time.Duration) (fence, takeover time.Duration) {
	fence = fenceAfter
	if fence == 0 {
		fence = sessionTimeout / 3
	}
	if limit := sessionTimeout / 2; limit > 0 && fence > limit {
		fence = limit
	}
	return fence, sessionTimeout/3 + fence + takeoverMargin
}

// LockDelay returns the lock delay of a server or factory with the given
// session timeout, fence delay and lock delay settings (0 meaning the
// defaults), as it publishes it: Times' takeover for 0, none for a negative
// setting, else the setting.
func LockDelay(sessionTimeout, fenceAfter, configured time.Duration) time.Duration {
	switch {
	case configured < 0:
		return 0
	case configured > 0:
		return configured
	}
	_, takeover := Times(sessionTimeout, fenceAfter)
	return takeover
}

// EncodeLockDelay is the form of a lock delay in a record: milliseconds,
// and -1 for none, since 0 is what a record without one holds.
func EncodeLockDelay(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return max(d.Milliseconds(), 1)
}

// DecodeLockDelay reads a record's lock delay; known is false for a record
// without one (the reader then applies its own).
func DecodeLockDelay(v int64) (d time.Duration, known bool) {
	switch {
	case v < 0:
		return 0, true
	case v == 0:
		return 0, false
	}
	return time.Duration(v) * time.Millisecond, true
}
