//go:build !linux

package itest

import "time"

// monoNow falls back to the wall clock, shared by every process of the host
// (a step of the clock during a test would spoil its comparisons).
func monoNow() int64 { return time.Now().UnixNano() }
