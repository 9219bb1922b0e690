package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

// exitBound is how long a test waits for tbsbench to exit: stopGrace and
// room for a loaded machine, well below the 20 s and more that graceful
// stops took against a ZooKeeper already gone.
const exitBound = stopGrace + 10*time.Second

// buildBench builds the tbsbench binary into a temporary directory.
func buildBench(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "tbsbench")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return exe
}

// benchRun is a tbsbench process in its own process group.
type benchRun struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	lines  chan string
	exited chan error
}

func startBench(t *testing.T, exe string, args ...string) *benchRun {
	t.Helper()
	r := &benchRun{cmd: exec.Command(exe, args...), lines: make(chan string, 1000), exited: make(chan error, 1)}
	r.cmd.Dir = t.TempDir()
	r.cmd.Stderr = &r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := r.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, r.cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		close(r.lines)
		r.exited <- r.cmd.Wait()
	}()
	t.Cleanup(func() { _ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) })
	return r
}

// waitLine waits for a line of stdout that contains part.
func (r *benchRun) waitLine(t *testing.T, part string) {
	t.Helper()
	for line := range r.lines {
		if strings.Contains(line, part) {
			return
		}
	}
	t.Fatalf("tbsbench ended before printing %q; stderr: %s", part, r.stderr.String())
}

// waitExit waits at most exitBound for the exit and returns its status.
func (r *benchRun) waitExit(t *testing.T) int {
	t.Helper()
	go func() {
		for range r.lines { // drain, so that the process never blocks on stdout
		}
	}()
	select {
	case err := <-r.exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(exitBound):
		t.Fatalf("tbsbench still running %v after it was asked to stop; stderr: %s", exitBound, r.stderr.String())
		return -1
	}
}

// descendants returns the processes under pid (from /proc).
func descendants(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	parent := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			parent[pp] = append(parent[pp], p)
		}
	}
	var out []int
	for todo := parent[pid]; len(todo) > 0; todo = todo[1:] {
		out = append(out, todo[0])
		todo = append(todo, parent[todo[0]]...)
	}
	return out
}

// parentOf reads a process's parent; ok is false when it is gone.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// running reports whether pid is a live process (a zombie is not).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// SIGTERM to the whole process group, as timeout(1) sends it (ZooKeeper
// gets it too and goes first), in the middle of a scale scenario that has
// not converged: tbsbench ends promptly, with status 1, saying why, and
// leaves no process behind.
func TestSIGTERMEndsRun(t *testing.T) {
	zktest.Require(t)
	r := startBench(t, buildBench(t), "-only", "scale", "-scale", "30,2,2000", "-json", "out.json")
	// Its managers run: the progress line comes every 5 s while the
	// scenario waits for them to converge.
	r.waitLine(t, "task types balanced")
	kids := descendants(t, r.cmd.Process.Pid)
	require.NotEmpty(t, kids, "ZooKeeper should run under tbsbench")
	require.NoError(t, syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM))
	assert.Equal(t, 1, r.waitExit(t), "exit status")
	assert.Contains(t, r.stderr.String(), "terminated: cancelling every scenario")
	for _, pid := range kids {
		assert.False(t, running(pid), "process %d left running", pid)
	}
	_, err := os.Stat(filepath.Join(r.cmd.Dir, "out.json"))
	assert.NoError(t, err, "the report of what was done is written")
}

// A run that cannot finish in time ends on its own at -deadline, with
// status 1, and kills ZooKeeper.
func TestDeadlineEndsRun(t *testing.T) {
	zktest.Require(t)
	r := startBench(t, buildBench(t), "-only", "scale", "-scale", "30,2,2000", "-json", "", "-deadline", "5s")
	r.waitLine(t, "ZooKeeper 3.8 standalone")
	kids := descendants(t, r.cmd.Process.Pid)
	require.NotEmpty(t, kids, "ZooKeeper should run under tbsbench")
	assert.Equal(t, 1, r.waitExit(t), "exit status")
	assert.Contains(t, r.stderr.String(), "-deadline 5s passed")
	for _, pid := range kids {
		assert.False(t, running(pid), "process %d left running", pid)
	}
}

// A size that does not balance within -scale-limit is reported as not
// reached and the run goes on with the next size, then ends normally.
func TestScaleLimitMovesOn(t *testing.T) {
	zktest.Require(t)
	r := startBench(t, buildBench(t), "-only", "scale", "-scale", "30,2,2000;2,1,4", "-scale-limit", "1ms",
		"-read-path", "old", "-json", "out.json")
	var got []string
	for line := range r.lines {
		got = append(got, line)
	}
	require.Equal(t, 0, r.waitExit(t), "exit status; stderr: %s", r.stderr.String())
	out := strings.Join(got, "\n")
	assert.Contains(t, out, "30×2×2000, read path old")
	assert.Regexp(t, `30×2×2000 .*\| start → all balanced .*\| not reached after`, out)
	assert.Contains(t, out, "2×1×4, read path old", "the next size runs")
	assert.Regexp(t, `2×1×4 .*\| start → all balanced `, out)
	b, err := os.ReadFile(filepath.Join(r.cmd.Dir, "out.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"30x2x2000_old_start_reached": 0`)
	assert.Contains(t, string(b), `"2x1x4_old_start_reached"`)
}
