package itest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// Environment of a factory worker process (this test binary, re-executed).
const (
	envFactoryWorker = "TBS_FACTORY_WORKER" // the worker's host name; set only in workers
	envFactoryZK     = "TBS_FACTORY_ZK"
	envFactoryRoot   = "TBS_FACTORY_ROOT"
	envFactoryLog    = "TBS_FACTORY_LOG" // file the worker's Bean copies record their runs in
)

// Names of the process scenario.
const (
	procTask     = "fproc"        // task type
	procSchedule = "fproc-s"      // its Schedule strategy: assignNum 6, numOfSingleServer 3
	procBean     = "fproc-single" // Bean strategy: assignNum 1
	procBeanTask = "singleton"    // the Bean task
)

// TestFactoryWorkerProcess is not a test: when this binary runs with
// envFactoryWorker set it is a separate factory process (for kill -9 and
// partitions), which runs until killed or until SIGTERM (graceful stop).
// Its Bean copies append "start <ns>" and "stop <ns>" (CLOCK_MONOTONIC) to
// the file envFactoryLog names. In an ordinary run it skips, so that it is
// not counted as a passing test.
func TestFactoryWorkerProcess(t *testing.T) {
	name := os.Getenv(envFactoryWorker)
	if name == "" {
		t.Skip("the entry point of a factory process that startFactoryWorker re-executes this binary as; not a test")
	}
	fail := func(code int, err error) {
		fmt.Println("error", err)
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := zkstore.Config{Servers: strings.Split(os.Getenv(envFactoryZK), ","), Root: os.Getenv(envFactoryRoot),
		SessionTimeout: zkSessionTimeout, Auth: zkstore.Digest("itest", "secret")}
	store, err := zkstore.Open(ctx, cfg, zkstore.WithLogger(testLogger()))
	if err != nil {
		fail(3, err)
	}
	defer store.Close()
	logFile, err := os.OpenFile(os.Getenv(envFactoryLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fail(3, err)
	}
	f, err := strategy.NewFactory(store, factoryConfig(name), strategy.WithLogger(testLogger().With("factory", name)))
	if err != nil {
		fail(3, err)
	}
	var logMu sync.Mutex
	record := func(what string) {
		logMu.Lock()
		defer logMu.Unlock()
		// One write(2) per line, not buffered: a kill -9 loses nothing written.
		if _, err := fmt.Fprintf(logFile, "%s %d\n", what, monoNow()); err != nil {
			fail(5, err)
		}
	}
	if err := f.RegisterDeal("recorder", idleDeal()); err != nil {
		fail(3, err)
	}
	if err := f.RegisterTask(procBeanTask, strategy.TaskFunc(func(ctx context.Context, _, _ string) error {
		record("start")
		<-ctx.Done()
		record("stop")
		return nil
	})); err != nil {
		fail(3, err)
	}
	go announceReady(ctx, func() string { return string(f.Status().Factory) })
	if err := f.Run(ctx); err != nil {
		fail(4, err)
	}
	os.Exit(0)
}

// factoryWorker is one incarnation of a factory process.
type factoryWorker struct {
	host   string
	log    string // its Bean log
	cmd    *exec.Cmd
	id     schedule.FactoryID
	exited bool
	killed int64 // CLOCK_MONOTONIC after a kill -9 was reaped; 0 otherwise
}

// startFactoryWorker starts a factory process on host, connected to
// servers (the cluster's, or a proxy's), and waits until it has registered.
func startFactoryWorker(t *testing.T, servers []string, root, host, logPath string) *factoryWorker {
	t.Helper()
	cmd, id := startChild(t, "TestFactoryWorkerProcess", "factory worker "+host,
		envFactoryWorker+"="+host, envFactoryZK+"="+strings.Join(servers, ","),
		envFactoryRoot+"="+root, envFactoryLog+"="+logPath)
	w := &factoryWorker{host: host, log: logPath, cmd: cmd, id: schedule.FactoryID(id)}
	t.Cleanup(w.kill)
	return w
}

// kill sends SIGKILL (kill -9), reaps the process and notes when.
func (w *factoryWorker) kill() {
	if w.exited {
		return
	}
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
	w.killed = monoNow()
	w.exited = true
}

// terminate asks for a graceful stop (SIGTERM) and waits for a clean exit.
func (w *factoryWorker) terminate(t *testing.T) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		w.exited = true
		require.NoError(t, err, "factory worker %s exit", w.host)
	case <-time.After(60 * time.Second):
		w.kill()
		t.Fatalf("factory worker %s did not stop within 60s of SIGTERM", w.host)
	}
}

// copyRun is one run of a Bean copy, from a worker's log.
type copyRun struct {
	host       string
	start, end int64 // CLOCK_MONOTONIC ns; end 0 while running
}

// beanRuns reads the runs of every incarnation's log. A run still open in
// the log of a killed incarnation ended at the kill.
func beanRuns(t testing.TB, ws []*factoryWorker) []copyRun {
	t.Helper()
	var runs []copyRun
	for _, w := range ws {
		data, err := os.ReadFile(w.log)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		var open *copyRun
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			what, ns, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			at, err := strconv.ParseInt(ns, 10, 64)
			require.NoError(t, err, "log %s: %q", w.log, line)
			switch what {
			case "start":
				require.Nil(t, open, "log %s: two starts in a row (assignNum 1 must run one copy per process)", w.log)
				runs = append(runs, copyRun{host: w.host, start: at})
				open = &runs[len(runs)-1]
			case "stop":
				require.NotNil(t, open, "log %s: stop without start", w.log)
				open.end = at
				open = nil
			}
		}
		if open != nil && w.killed != 0 {
			open.end = w.killed
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].start < runs[j].start })
	return runs
}

// beanOverlaps lists runs that started while another was still running.
func beanOverlaps(runs []copyRun) []string {
	var bad []string
	var lastEnd int64
	lastHost := ""
	for i, r := range runs {
		if i > 0 && (lastEnd == 0 || lastEnd > r.start) {
			bad = append(bad, fmt.Sprintf("%s started at %d while %s ran until %d", r.host, r.start, lastHost, lastEnd))
		}
		if i == 0 || r.end == 0 || (lastEnd != 0 && r.end > lastEnd) {
			lastEnd, lastHost = r.end, r.host
		}
	}
	return bad
}

// beanHolder waits until exactly one copy runs and returns its host and
// start time.
func beanHolder(t testing.TB, ws []*factoryWorker, within time.Duration) (string, int64) {
	t.Helper()
	var host string
	var start int64
	waitUntil(t, within, func() (bool, string) {
		var open []copyRun
		for _, r := range beanRuns(t, ws) {
			if r.end == 0 {
				open = append(open, r)
			}
		}
		if len(open) != 1 {
			return false, fmt.Sprintf("%d copies running", len(open))
		}
		host, start = open[0].host, open[0].start
		return true, ""
	})
	return host, start
}

// beanRunning reports how many copies run now (from the logs).
func beanRunning(t testing.TB, ws []*factoryWorker) int {
	n := 0
	for _, r := range beanRuns(t, ws) {
		if r.end == 0 {
			n++
		}
	}
	return n
}

// Three factory processes on real ZooKeeper share a Schedule strategy
// (assignNum 6, numOfSingleServer 3) and a Bean singleton. kill -9 of the
// singleton's holder: 3+3 and the singleton moves once its session
// expires; restarted: 2+2+2. SIGTERM of the holder: it moves at once. A
// partition of the holder: it fences its copy before its session expires.
// Then the admin API: pause/resume/delete and stop/start of a factory.
// The singleton never runs twice at once (checked on the processes' own
// records). TBS_FACTORY_TRIALS repeats the timed faults.
func TestFactoryProcesses(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	obs := b.open(t)
	ctx := context.Background()
	admin := strategy.NewAdmin(obs, strategy.AdminConfig{Operator: "itest"})
	_, err := admin.ApplyTaskType(ctx, testTaskType(procTask, 12))
	require.NoError(t, err)
	sched := schedule.DefaultStrategy(procSchedule)
	sched.TaskName, sched.AssignNum, sched.NumOfSingleServer = procTask, 6, 3
	_, err = admin.ApplyStrategy(ctx, sched)
	require.NoError(t, err)
	bean := schedule.DefaultStrategy(procBean)
	bean.Kind, bean.TaskName, bean.AssignNum = schedule.KindBean, procBeanTask, 1
	_, err = admin.ApplyStrategy(ctx, bean)
	require.NoError(t, err)

	dir := t.TempDir()
	hosts := []string{"f1", "f2", "f3"}
	proxies := map[string]*zktest.Proxy{}
	var all []*factoryWorker // every incarnation, for the Bean records
	incarnation := map[string]int{}
	live := map[string]*factoryWorker{}
	start := func(host string) *factoryWorker {
		incarnation[host]++
		w := startFactoryWorker(t, proxies[host].Servers(), b.root, host,
			filepath.Join(dir, fmt.Sprintf("%s-%d.log", host, incarnation[host])))
		all = append(all, w)
		live[host] = w
		return w
	}
	for _, h := range hosts {
		proxies[h] = c.NewProxy(t)
	}
	begin := time.Now()
	for _, h := range hosts {
		start(h)
	}
	even := map[string]int{"f1": 2, "f2": 2, "f3": 2}
	waitSpread(t, obs, procSchedule, procTask, even, 30*time.Second)
	beanHolder(t, all, 30*time.Second)
	t.Logf("3 processes started → 2+2+2 and one singleton: %v (process starts included)", time.Since(begin).Round(time.Millisecond))

	var kills, beanKills, rejoins, terms, parts, fences, margins []time.Duration
	for trial := 0; trial < factoryTrials(); trial++ {
		// kill -9 of the singleton's holder.
		holder, _ := beanHolder(t, all, 30*time.Second)
		w := live[holder]
		w.kill()
		killedAt := w.killed
		rest := map[string]int{}
		for _, h := range hosts {
			if h != holder {
				rest[h] = 3
			}
		}
		waitSpread(t, obs, procSchedule, procTask, rest, 30*time.Second)
		kills = append(kills, time.Duration(monoNow()-killedAt))
		next, startedAt := beanHolder(t, all, 30*time.Second)
		require.NotEqual(t, holder, next)
		beanKills = append(beanKills, time.Duration(startedAt-killedAt))

		// Restarted: balanced again.
		t0 := time.Now()
		start(holder)
		waitSpread(t, obs, procSchedule, procTask, even, 30*time.Second)
		rejoins = append(rejoins, time.Since(t0))

		// SIGTERM of the holder: the copy moves as soon as it has stopped.
		holder, _ = beanHolder(t, all, 30*time.Second)
		termAt := monoNow()
		live[holder].terminate(t)
		_, startedAt = beanHolder(t, all, 30*time.Second)
		terms = append(terms, time.Duration(startedAt-termAt))
		start(holder)
		waitSpread(t, obs, procSchedule, procTask, even, 30*time.Second)

		// Partition of the holder, longer than the session timeout.
		holder, _ = beanHolder(t, all, 30*time.Second)
		p := proxies[holder]
		cutAt := monoNow()
		p.Blackhole()
		var moved int64
		waitUntil(t, 30*time.Second, func() (bool, string) {
			for _, r := range beanRuns(t, all) {
				if r.host != holder && r.start > cutAt {
					moved = r.start
					return true, ""
				}
			}
			return false, "singleton not moved"
		})
		parts = append(parts, time.Duration(moved-cutAt))
		for _, r := range beanRuns(t, all) {
			if r.host == holder && r.start < cutAt && r.end > cutAt {
				fences = append(fences, time.Duration(r.end-cutAt))
				margins = append(margins, time.Duration(moved-r.end))
			}
		}
		p.Pass()
		// The partitioned process comes back under a new session.
		waitSpread(t, obs, procSchedule, procTask, even, 30*time.Second)
	}
	t.Logf("session timeout %v; trials %d", zkSessionTimeout, factoryTrials())
	t.Logf("kill -9 → 3+3 (requestNum and live servers): %s", percentiles(kills))
	t.Logf("kill -9 of the singleton's holder → started elsewhere: %s", percentiles(beanKills))
	t.Logf("restart (process start included) → 2+2+2: %s", percentiles(rejoins))
	t.Logf("SIGTERM to the holder → started elsewhere: %s", percentiles(terms))
	t.Logf("partition of the holder → started elsewhere: %s", percentiles(parts))
	if len(fences) > 0 {
		t.Logf("partition of the holder → its copy fenced: %s; fenced → started elsewhere: %s", percentiles(fences), percentiles(margins))
	}

	// The admin API, measured from the call to the effect.
	pause := waitEffect(t, func() {
		_, err := admin.PauseStrategy(ctx, procSchedule)
		require.NoError(t, err)
	}, func() (bool, string) {
		sp := readSpread(t, obs, procSchedule, procTask)
		return sp.is(map[string]int{}), sp.String()
	})
	resume := waitEffect(t, func() {
		_, err := admin.ResumeStrategy(ctx, procSchedule)
		require.NoError(t, err)
	}, func() (bool, string) {
		sp := readSpread(t, obs, procSchedule, procTask)
		return sp.is(even), sp.String()
	})
	stopF := waitEffect(t, func() {
		require.NoError(t, admin.StopFactory(ctx, "127.0.0.1", "f1", "itest"))
	}, func() (bool, string) {
		sp := readSpread(t, obs, procSchedule, procTask)
		return sp.is(map[string]int{"f2": 3, "f3": 3}), sp.String()
	})
	startF := waitEffect(t, func() {
		require.NoError(t, admin.StartFactory(ctx, "127.0.0.1", "f1"))
	}, func() (bool, string) {
		sp := readSpread(t, obs, procSchedule, procTask)
		return sp.is(even), sp.String()
	})
	pauseBean := waitEffect(t, func() {
		_, err := admin.PauseStrategy(ctx, procBean)
		require.NoError(t, err)
	}, func() (bool, string) { return beanRunning(t, all) == 0, "singleton still running" })
	resumeBean := waitEffect(t, func() {
		_, err := admin.ResumeStrategy(ctx, procBean)
		require.NoError(t, err)
	}, func() (bool, string) { return beanRunning(t, all) == 1, "singleton not running" })
	del := waitEffect(t, func() {
		require.NoError(t, admin.DeleteStrategy(ctx, procSchedule, true))
	}, func() (bool, string) {
		sp := readSpread(t, obs, procSchedule, procTask)
		return len(sp.servers) == 0, sp.String()
	})
	t.Logf("admin → effect on 3 processes: pause %v, resume %v, stop factory %v, start factory %v, pause Bean %v, resume Bean %v, forced delete %v",
		pause, resume, stopF, startF, pauseBean, resumeBean, del)

	// Graceful stop of everything: the copies' records are complete.
	for _, h := range hosts {
		live[h].terminate(t)
	}
	runs := beanRuns(t, all)
	for _, r := range runs {
		assert.NotZero(t, r.end, "a copy of %s never stopped", r.host)
	}
	assert.Empty(t, beanOverlaps(runs), "the singleton ran twice at once")
	t.Logf("singleton runs recorded: %d, none overlapping", len(runs))
	fs, err := obs.Factories(ctx)
	require.NoError(t, err)
	assert.Empty(t, fs, "every factory removed its node")
}

// waitEffect runs act and waits until effect holds; it returns the time
// from the start of act.
func waitEffect(t *testing.T, act func(), effect func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	act()
	waitUntil(t, 30*time.Second, effect)
	return time.Since(start).Round(time.Millisecond)
}

// factoryTrials is how many times the timed faults of the process scenario
// repeat: once in the ordinary test run, more with TBS_FACTORY_TRIALS=N.
func factoryTrials() int {
	if n, err := strconv.Atoi(os.Getenv("TBS_FACTORY_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 1
}
