package zktest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// waitStopped waits until every thread of process pid is stopped (state T
// in /proc), so that a paused server can no longer answer anything.
func waitStopped(pid int, deadline time.Time) error {
	for !allStopped(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d not stopped after SIGSTOP", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func allStopped(pid int) bool {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue // the thread exited
		}
		// "tid (comm) S ...": the state follows the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) {
			return false
		}
		if st := stat[i+2]; st != 'T' && st != 't' {
			return false
		}
	}
	return true
}
