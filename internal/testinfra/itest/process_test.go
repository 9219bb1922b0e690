package itest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// Environment of a worker process (this test binary, re-executed).
const (
	envWorker     = "TBS_ITEST_WORKER" // the worker's name; set only in workers
	envWorkerZK   = "TBS_ITEST_ZK"
	envWorkerRoot = "TBS_ITEST_ROOT"
	envWorkerTask = "TBS_ITEST_TASK"
)

// TestWorkerProcess is not a test: when this binary runs with envWorker set
// it is a separate manager process (for kill -9), which runs until killed or
// until SIGTERM (graceful stop). In an ordinary run it skips, so that it is
// not counted as a passing test.
func TestWorkerProcess(t *testing.T) {
	name := os.Getenv(envWorker)
	if name == "" {
		t.Skip("the entry point of a worker process that startWorker re-executes this binary as; not a test")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := zkstore.Config{Servers: strings.Split(os.Getenv(envWorkerZK), ","), Root: os.Getenv(envWorkerRoot),
		SessionTimeout: zkSessionTimeout, Auth: zkstore.Digest("itest", "secret")}
	store, err := zkstore.Open(ctx, cfg, zkstore.WithLogger(testLogger()))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	defer store.Close()
	tt, _, err := store.TaskType(ctx, os.Getenv(envWorkerTask))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(ctx context.Context, n int, ownSign string) error {
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
			return nil
		}, processor.WithKey(func(n int) int { return n }))
	mcfg := schedule.DefaultManagerConfig()
	mcfg.IP, mcfg.HostName = "127.0.0.1", name
	m, err := manager.NewManager(store, tt, "", deal, mcfg, manager.WithLogger(testLogger()))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	go announceReady(ctx, func() string { return string(m.Status().Server) })
	if err := m.Run(ctx); err != nil {
		fmt.Println("error", err)
		os.Exit(4)
	}
	os.Exit(0)
}

// announceReady prints "ready <id>" for the parent once id returns one: it
// polls, as the child has no deadline but its context (the parent's
// startChild has one).
func announceReady(ctx context.Context, id func() string) {
	for ctx.Err() == nil {
		if s := id(); s != "" {
			fmt.Println("ready", s)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// worker is a manager in a separate process.
type worker struct {
	name string
	cmd  *exec.Cmd
	id   schedule.ServerID
}

func startWorker(t *testing.T, c *zktest.Cluster, root, task, name string) *worker {
	t.Helper()
	cmd, id := startChild(t, "TestWorkerProcess", "worker "+name,
		envWorker+"="+name, envWorkerZK+"="+strings.Join(c.Servers(), ","),
		envWorkerRoot+"="+root, envWorkerTask+"="+task)
	return &worker{name: name, cmd: cmd, id: schedule.ServerID(id)}
}

// startChild re-executes this test binary running only testName (a worker
// entry point) with env added, and waits for its "ready <id>" line; an
// "error ..." line or 60 s of silence fails t. The process is killed and
// reaped at cleanup unless it has been waited for already.
func startChild(t testing.TB, testName, what string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+testName+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ready ") || strings.HasPrefix(line, "error ") {
				select {
				case ready <- line:
				default:
				}
			}
		}
	}()
	select {
	case line := <-ready:
		require.True(t, strings.HasPrefix(line, "ready "), "%s: %s", what, line)
		return cmd, strings.TrimPrefix(line, "ready ")
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not register within 60s", what)
		return nil, ""
	}
}

// kill sends SIGKILL (kill -9) and reaps the process.
func (w *worker) kill() {
	if w.cmd.ProcessState != nil {
		return
	}
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
}

// terminate asks for a graceful stop (SIGTERM); wait waits for the exit.
func (w *worker) terminate(t *testing.T) {
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
}

func (w *worker) wait(t *testing.T) {
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "worker %s exit", w.name)
	case <-time.After(30 * time.Second):
		w.kill()
		t.Fatalf("worker %s did not stop within 30s of SIGTERM", w.name)
	}
}

// trials is how many times the timed process scenarios repeat: a few in the
// ordinary test run, more with TBS_TAKEOVER_TRIALS=N (for the numbers of the
// issue notes and BENCHMARKS.md).
func trials() int {
	if n, err := strconv.Atoi(os.Getenv("TBS_TAKEOVER_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 2
}

func percentiles(ds []time.Duration) string {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return fmt.Sprintf("n=%d min=%v p50=%v p99=%v max=%v", len(ds), ds[0].Round(time.Millisecond),
		at(0.5).Round(time.Millisecond), at(0.99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}

// Managers in separate processes: kill -9 of one moves its items to the
// others once its session expires (session timeout + one round); a SIGTERM
// (graceful stop) moves them at once; a joining process gets its share.
func TestManagerProcessesKillGracefulJoin(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	root := b.root
	obs := b.open(t)
	tt := testTaskType("procs", 12)
	createTaskType(t, obs, tt)

	ws := []*worker{
		startWorker(t, c, root, "procs", "p1"),
		startWorker(t, c, root, "procs", "p2"),
		startWorker(t, c, root, "procs", "p3"),
	}
	waitBalanced(t, obs, "procs", 3, 12, 30*time.Second)

	var kills, graceful, exits, joins []time.Duration
	for i := 0; i < trials(); i++ {
		// kill -9 the current leader or a follower, alternately.
		victim := ws[i%len(ws)]
		start := time.Now()
		victim.kill()
		waitBalanced(t, obs, "procs", 2, 12, 30*time.Second)
		kills = append(kills, time.Since(start))

		// Join: a new process registers and gets its share.
		start = time.Now()
		nw := startWorker(t, c, root, "procs", fmt.Sprintf("p%d", 4+2*i))
		waitBalanced(t, obs, "procs", 3, 12, 30*time.Second)
		joins = append(joins, time.Since(start))
		ws[i%len(ws)] = nw

		// Graceful: SIGTERM another one, then replace it.
		g := ws[(i+1)%len(ws)]
		start = time.Now()
		g.terminate(t)
		waitBalanced(t, obs, "procs", 2, 12, 30*time.Second)
		graceful = append(graceful, time.Since(start))
		g.wait(t)
		exits = append(exits, time.Since(start))
		ws[(i+1)%len(ws)] = startWorker(t, c, root, "procs", fmt.Sprintf("p%d", 5+2*i))
		waitBalanced(t, obs, "procs", 3, 12, 30*time.Second)
	}
	t.Logf("session timeout %v", zkSessionTimeout)
	t.Logf("kill -9 → all items owned by live servers: %s", percentiles(kills))
	t.Logf("SIGTERM → items owned elsewhere: %s", percentiles(graceful))
	t.Logf("SIGTERM → process exited: %s", percentiles(exits))
	t.Logf("join (process start included) → balanced: %s", percentiles(joins))
}
