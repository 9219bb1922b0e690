package zktest

import "syscall"

// sysProcAttr makes the kernel SIGKILL a server when the test binary dies,
// even when it dies without running cleanups (a panic, os.Exit, SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
