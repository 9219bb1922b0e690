//go:build linux

package itest

import (
	"syscall"
	"unsafe"
)

// monoNow reads CLOCK_MONOTONIC: one clock for every process of the host,
// so that the start and stop times that worker processes record compare
// with each other and with the test's.
func monoNow() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(errno)
	}
	return ts.Nano()
}
