//go:build unix

package doccheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// Timing of the walk-through: generous, because the first "go run" of each
// program compiles it on a machine that may be busy.
const (
	commandTimeout = 5 * time.Minute // one command that ends by itself
	shareTimeout   = 5 * time.Minute // both services up and sharing the items
	exitTimeout    = time.Minute     // a service after Ctrl-C
	pollEvery      = 250 * time.Millisecond
)

// The README's "Run it on ZooKeeper" runs as written: scripts/zookeeper
// starts a server, examples/service runs in two processes, tbsctl status
// shows both holding items, Ctrl-C stops each service cleanly, and
// scripts/zookeeper stops the server. Only the folder and the address are
// the test's own, as a reader puts in theirs.
func TestReadmeRunItOnZooKeeper(t *testing.T) {
	zktest.Require(t)
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	steps, err := readmeSteps(string(readme))
	require.NoError(t, err)
	folder := steps[0].args[2]
	dir := filepath.Join(t.TempDir(), "zk")

	// Whatever happens below, ZooKeeper stops (registered before the
	// services' cleanups, so it runs after them).
	daemon, err := zktest.NewDaemon(dir)
	require.NoError(t, err)
	t.Cleanup(func() {
		if pid, err := daemon.Stop(); err != nil || pid != 0 {
			t.Logf("cleanup stopped ZooKeeper (pid %d): %v", pid, err)
		}
	})

	out := runStep(t, root, localize(steps[0].args, folder, dir, ""))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	addr := lines[len(lines)-1]
	require.Regexp(t, `^`+loopbackAddr.String()+`$`, addr, "scripts/zookeeper start: the last line of stdout is not the address")

	var services []*service
	for i, s := range steps[1:3] {
		services = append(services, startService(t, root, localize(s.args, folder, dir, addr), filepath.Join(dir, fmt.Sprintf("service%d.log", i+1))))
	}
	status := localize(steps[3].args, folder, dir, addr)
	owners := waitHeld(t, root, status, services)
	text := runStep(t, root, status)
	t.Logf("%s\n%s", strings.Join(status, " "), text)
	for _, o := range owners {
		assert.Contains(t, text, o, "tbsctl status (text) does not show server %s, which holds items", o)
	}

	// Ctrl-C in each terminal: the items move to the service left.
	services[0].interrupt(t)
	waitHeld(t, root, status, services)
	services[1].interrupt(t)
	for _, s := range services {
		assert.Contains(t, s.log(t), "sending email", "%s sent nothing", s)
	}
	out = runStep(t, root, localize(steps[4].args, folder, dir, addr))
	assert.Contains(t, out, "stopped")
	assert.Zero(t, daemon.State().PID, "ZooKeeper still runs after scripts/zookeeper stop")
}

// runStep runs a command that ends by itself, in the repository, and
// returns its stdout; it fails t when the command fails.
func runStep(t *testing.T, dir string, args []string) string {
	t.Helper()
	out, err := runCommand(dir, args)
	require.NoError(t, err, "%s", strings.Join(args, " "))
	return out
}

func runCommand(dir string, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// service is one "go run ./examples/service" in its own process group, as
// in a terminal of its own.
type service struct {
	args    []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, read after done
	stopped bool          // interrupted by the test
}

func (s *service) String() string { return filepath.Base(s.logPath) }

func startService(t *testing.T, dir string, args []string, logPath string) *service {
	t.Helper()
	logf, err := os.Create(logPath)
	require.NoError(t, err)
	defer logf.Close() // the child holds its own descriptor
	s := &service{args: args, logPath: logPath, done: make(chan struct{})}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, s.cmd.Start(), "%s", strings.Join(args, " "))
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { // go run and the program it built, on failure
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		if t.Failed() {
			t.Logf("%s:\n%s", s, s.log(t))
		}
	})
	return s
}

// interrupt sends SIGINT to the service's process group, as Ctrl-C does,
// and waits until it exits. (go run itself exits with status 1 after an
// interrupt, whatever the program did: the handover is checked instead.)
func (s *service) interrupt(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT))
	select {
	case <-s.done:
		s.stopped = true
	case <-time.After(exitTimeout):
		t.Fatalf("%s still runs %v after Ctrl-C", s, exitTimeout)
	}
}

func (s *service) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *service) log(t *testing.T) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Errorf("read %s: %v", s.logPath, err)
	}
	return string(b)
}

// waitHeld runs the status command with "-o json" until every item of
// the emails task type is owned by a live server and the owners span
// exactly the sessions of the running services, and returns the servers
// that hold items.
func waitHeld(t *testing.T, root string, status []string, services []*service) []string {
	t.Helper()
	asJSON := append(append([]string(nil), status...), "-o", "json")
	deadline := time.Now().Add(shareTimeout)
	var last string
	for {
		running := 0
		for _, s := range services {
			if !s.stopped && s.exited() {
				t.Fatalf("%s exited: %v\n%s", s, s.err, s.log(t))
			}
			if !s.stopped {
				running++
			}
		}
		out, err := runCommand(root, asJSON)
		if err == nil {
			owners, sessions, why := holders(out)
			if why == "" && sessions == running {
				return owners
			}
			last = fmt.Sprintf("%s; held by %d session(s), want %d", why, sessions, running)
		} else {
			last = err.Error()
		}
		require.False(t, time.Now().After(deadline), "the items were not held by the %d running service(s) within %v: %s", running, shareTimeout, last)
		time.Sleep(pollEvery)
	}
}

// statusReport is the part of "tbsctl status -o json" the test reads.
type statusReport struct {
	TaskTypes []struct {
		BaseTaskType string `json:"baseTaskType"`
		Runtimes     []struct {
			Servers []struct {
				UUID    string `json:"uuid"`
				Name    string `json:"name"`
				Session string `json:"session"`
				Items   int    `json:"items"`
			} `json:"servers"`
			Items      []json.RawMessage `json:"items"`
			Unassigned int               `json:"unassigned"`
			Orphaned   int               `json:"orphaned"`
		} `json:"runtimes"`
	} `json:"taskTypes"`
}

// holders returns the servers holding items of the "emails" task type and
// how many sessions they span; why is not empty when some item is not
// owned by a live server.
func holders(statusJSON string) (owners []string, sessions int, why string) {
	var r statusReport
	if err := json.Unmarshal([]byte(statusJSON), &r); err != nil {
		return nil, 0, fmt.Sprintf("status -o json: %v", err)
	}
	for _, tt := range r.TaskTypes {
		if tt.BaseTaskType != "emails" || len(tt.Runtimes) != 1 {
			continue
		}
		rt := tt.Runtimes[0]
		seen := map[string]bool{}
		held := 0
		for _, s := range rt.Servers {
			if s.Items > 0 {
				owners = append(owners, s.Name)
				seen[s.Session] = true
				held += s.Items
			}
		}
		if rt.Unassigned > 0 || rt.Orphaned > 0 || held != len(rt.Items) {
			why = fmt.Sprintf("%d of %d items held by live servers", held, len(rt.Items))
		}
		return owners, len(seen), why
	}
	return nil, 0, "no runtime of the emails task type yet"
}
