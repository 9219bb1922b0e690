package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTimes returns the CPU time (user + system) used so far by this process
// and by the processes under it (ZooKeeper); ok is false when /proc cannot
// be read.
func cpuTimes() (self, children time.Duration, ok bool) {
	pid := os.Getpid()
	self, ok = procCPU(pid)
	if !ok {
		return 0, 0, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, false
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(p); len(f) > 1 {
			if pp, err := strconv.Atoi(f[1]); err == nil {
				parent[p] = pp
			}
		}
	}
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				d, _ := procCPU(p)
				children += d
				break
			}
		}
	}
	return self, children, true
}

// procStat returns the fields of /proc/pid/stat after the command name
// (state first), or nil.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
}

// procCPU returns utime + stime of pid.
func procCPU(pid int) (time.Duration, bool) {
	f := procStat(pid)
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * clockTick, true
}
