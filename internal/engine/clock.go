package engine

import "github.com/tbschedule/tbschedule-go/internal/clock"

// systemClock is the default clock of a processor.
func systemClock() clock.Clock { return clock.System() }
