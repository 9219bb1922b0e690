package main

import "syscall"

// workerAttr makes the kernel kill a worker when tbsbench dies.
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
