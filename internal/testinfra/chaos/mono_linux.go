//go:build linux

package chaos

import (
	"syscall"
	"unsafe"
)

// Mono reads CLOCK_MONOTONIC in nanoseconds: one clock for every process of
// the host (it also runs while a process is stopped), so the times that
// worker processes log compare with each other and with the driver's.
func Mono() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(errno)
	}
	return ts.Nano()
}

// Supported reports whether the chaos suite can run here (Linux: a shared
// monotonic clock, flock and job-control signals).
const Supported = true
