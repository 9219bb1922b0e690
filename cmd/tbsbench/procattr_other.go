//go:build !linux

package main

import "syscall"

// workerAttr: no parent-death signal outside Linux; workers are killed on exit.
func workerAttr() *syscall.SysProcAttr { return nil }
