//go:build !unix

package zktest

import "syscall"

// Pause and Resume need job-control signals, which only Unix has; there,
// os.Process.Signal reports an error for these values.
const (
	sigStop = syscall.Signal(0x13)
	sigCont = syscall.Signal(0x12)
)
