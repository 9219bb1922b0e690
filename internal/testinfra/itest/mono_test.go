package itest

import "github.com/tbschedule/tbschedule-go/internal/testinfra/chaos"

// monoNow reads CLOCK_MONOTONIC (on Linux): one clock for every process of
// the host, so that the times worker processes record compare with each
// other and with the test's.
func monoNow() int64 { return chaos.Mono() }
