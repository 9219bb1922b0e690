package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long the scenarios get to wind down after the deadline
// or a signal cancelled them, before ZooKeeper and the workers are killed
// under them and tbsbench exits anyway.
const stopGrace = 5 * time.Second

// report is the Report under construction, shared by the scenarios' run and
// the supervisor that may have to write it while they still run.
type report struct {
	mu  sync.Mutex // guards rep
	rep Report
}

func newReport(quick bool) *report {
	return &report{rep: Report{Started: time.Now().UTC(), Quick: quick, Machine: Machine{
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, LoadAvg: loadavg(),
	}}}
}

func (r *report) machine() Machine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rep.Machine
}

func (r *report) add(sec Section) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Sections = append(r.rep.Sections, sec)
}

// finish prints the closing line and writes what the report holds as JSON.
func (r *report) finish(jsonPath string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Machine.LoadAfter = loadavg()
	r.rep.Machine.Seconds = time.Since(r.rep.Started).Seconds()
	fmt.Printf("\nload average after: %s; %.0f s in all; %d sections\n", r.rep.Machine.LoadAfter, r.rep.Machine.Seconds, len(r.rep.Sections))
	if jsonPath == "" {
		return nil
	}
	data, err := json.MarshalIndent(r.rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("figures written to", jsonPath)
	return nil
}

// children are the processes tbsbench started: ZooKeeper and the takeover
// scenario's workers, so that an abandoned run can kill them.
type children struct {
	mu      sync.Mutex // guards the fields below
	zk      func()
	workers map[*exec.Cmd]bool
}

func (c *children) setZK(stop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var once sync.Once
	c.zk = func() { once.Do(stop) }
}

// stopZK kills ZooKeeper, once, whoever asks first.
func (c *children) stopZK() {
	c.mu.Lock()
	stop := c.zk
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (c *children) addWorker(cmd *exec.Cmd) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.workers == nil {
		c.workers = map[*exec.Cmd]bool{}
	}
	c.workers[cmd] = true
}

func (c *children) removeWorker(cmd *exec.Cmd) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.workers, cmd)
}

// killAll kills every worker still running, then ZooKeeper.
func (c *children) killAll() {
	c.mu.Lock()
	for cmd := range c.workers {
		_ = cmd.Process.Kill()
	}
	c.mu.Unlock()
	c.stopZK()
}

// supervise runs the scenarios until they end, the deadline passes or
// SIGTERM/SIGINT arrives, and returns the exit status. On the deadline or a
// signal it cancels every scenario and gives them stopGrace (a second
// signal cuts it short) to wind down; then it kills the children and
// writes what it has. Anything but a complete, error-free run exits 1.
func supervise(b *bench, want []string, jsonPath string, deadline time.Duration) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	rep := newReport(b.quick)
	done := make(chan error, 1)
	go func() { done <- run(ctx, b, want, rep) }()

	var err error
	select {
	case err = <-done:
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "tbsbench: %v: cancelling every scenario\n", sig)
		cancel()
		err = abandon(b, done, sigs, fmt.Errorf("stopped by %v", sig))
	case <-ctx.Done():
		fmt.Fprintf(os.Stderr, "tbsbench: -deadline %v passed: cancelling every scenario\n", deadline)
		err = abandon(b, done, sigs, fmt.Errorf("-deadline %v passed", deadline))
	}
	err = errors.Join(err, rep.finish(jsonPath))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tbsbench:", err)
		return 1
	}
	return 0
}

// abandon waits up to stopGrace for the cancelled run to end, then kills
// the children under it. It returns why the run was cut short, with what
// the run returned if it did.
func abandon(b *bench, done <-chan error, sigs <-chan os.Signal, why error) error {
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return errors.Join(why, err)
	case <-t.C:
		why = fmt.Errorf("%w; the scenarios did not end within %v: ZooKeeper and the workers killed", why, stopGrace)
	case sig := <-sigs:
		why = fmt.Errorf("%w; %v again: ZooKeeper and the workers killed", why, sig)
	}
	b.children.killAll()
	return why
}
