package zktest

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// pkgState is the package's only mutable state: the Shared cluster and the
// set of live child processes, so that Main can stop and reap everything.
var pkgState struct {
	sharedMu  sync.Mutex // guards the shared fields; held while starting it
	shared    *Cluster
	sharedErr error
	sharedDir string // temp dir of a started Shared cluster, removed by Main

	procsMu sync.Mutex // guards procs
	procs   map[*proc]struct{}
}

// proc is one running (or exited) server process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // Wait's result; read only after done is closed
}

// startProc starts java with args in dir, stdout and stderr appended to
// logPath. A goroutine reaps the process; it exits with the process.
func startProc(java string, args []string, dir, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("zktest: open server log: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	fmt.Fprintf(logf, "=== zktest: %s starting %s\n", time.Now().Format(time.TimeOnly), java)

	cmd := exec.Command(java, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("zktest: start %s: %w", java, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}

	pkgState.procsMu.Lock()
	if pkgState.procs == nil {
		pkgState.procs = make(map[*proc]struct{})
	}
	pkgState.procs[p] = struct{}{}
	pkgState.procsMu.Unlock()

	go func() {
		p.err = cmd.Wait()
		pkgState.procsMu.Lock()
		delete(pkgState.procs, p)
		pkgState.procsMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the process has already exited.
func (p *proc) signal(sig os.Signal) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL (and SIGCONT, harmless, in case it was stopped) and
// waits until the process is reaped.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	p.signal(sigCont)
	<-p.done
}

// terminate sends SIGTERM (and SIGCONT so a paused process handles it),
// waits up to timeout, then kills.
func (p *proc) terminate(timeout time.Duration) {
	p.signal(syscall.SIGTERM)
	p.signal(sigCont)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.kill()
	}
}

// reapAll kills every child process still running and returns how many
// there were.
func reapAll() int {
	pkgState.procsMu.Lock()
	procs := make([]*proc, 0, len(pkgState.procs))
	for p := range pkgState.procs {
		procs = append(procs, p)
	}
	pkgState.procsMu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	return len(procs)
}
