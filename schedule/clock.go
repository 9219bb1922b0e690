package schedule

import "github.com/tbschedule/tbschedule-go/internal/clock"

// Clock is the source of local time: every timer, ticker and timestamp of the
// library goes through one (managers, factories, the store, processors), so
// tests can drive time with a fake. Cluster time is a different thing: see
// storekit.ClusterClock. Its methods: Now() time.Time, NewTimer(d) Timer and
// NewTicker(d) Ticker (d > 0).
type Clock = clock.Clock

// Timer is the part of *time.Timer the library uses: C() <-chan time.Time,
// Stop() bool and Reset(d) bool, with time.Timer's meaning.
type Timer = clock.Timer

// Ticker is the part of *time.Ticker the library uses: C() <-chan time.Time,
// Stop() and Reset(d), with time.Ticker's meaning.
type Ticker = clock.Ticker

// SystemClock returns the Clock of the operating system.
func SystemClock() Clock { return clock.System() }
