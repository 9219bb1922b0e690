//go:build !linux

package zktest

import "syscall"

// sysProcAttr returns nil: the parent-death signal is Linux-only, so off
// Linux only cleanups and Main reap servers.
func sysProcAttr() *syscall.SysProcAttr { return nil }
