//go:build linux

package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// runConfig is one chaos run.
type runConfig struct {
	seed           uint64
	duration       time.Duration // of the fault phase
	workers        int           // workers at the start
	maxExtra       int           // servers added on top of them at most
	items          int           // items at the start
	sessionTimeout time.Duration
	period         time.Duration // between records of an item
	gapMin, gapMax time.Duration // between fault starts
	noSelfFencing  bool          // the deliberately broken build
	classes        []string      // fault classes to draw from (nil: all)
}

// maxExtraItems bounds the items added during a run.
const maxExtraItems = 4

// Fault classes.
const (
	faultKill      = "kill -9 worker"
	faultPause     = "SIGSTOP worker > session timeout"
	faultPartition = "blackhole worker connection"
	faultExpire    = "expire worker session"
	faultRestart   = "restart worker (SIGTERM)"
	faultSkew      = "restart worker with wall clock skewed"
	faultZKKill    = "kill -9 + restart ZK member"
	faultZKLeader  = "kill -9 + restart ZK leader"
	faultZKPause   = "pause + resume ZK member"
	faultZKStop    = "stop + restart ZK member"
	faultAddItem   = "add item"
	faultDelItem   = "remove item"
	faultAddServer = "add server (worker)"
	faultDelServer = "remove server (worker)"
)

var allFaults = []string{faultKill, faultPause, faultPartition, faultExpire, faultRestart, faultSkew,
	faultZKKill, faultZKLeader, faultZKPause, faultZKStop, faultAddItem, faultDelItem, faultAddServer, faultDelServer}

// Permit window of the task type: open 15 s of every 20 s (cluster time).
const (
	windowStart  = "0/20 * * * * ?"
	windowEnd    = "15/20 * * * * ?"
	windowEvery  = 20 * time.Second
	windowOpen   = 15 * time.Second
	windowBefore = 500 * time.Millisecond  // tolerance before an opening (calibration error)
	windowAfter  = 1500 * time.Millisecond // tolerance after a closing (a fetch under way)
)

// proc is one worker incarnation.
type proc struct {
	name, host string
	cmd        *exec.Cmd
	log        string
	ready      chan string // the factory id, once
	session    atomic.Int64
	exited     chan struct{}
	waitErr    error // set before exited closes
	killedAt   int64 // Mono() after a kill -9 was reaped
	killed     bool
	stopped    bool // stopped gracefully on purpose
}

// host is a worker's place: its fault proxy and its incarnations.
type host struct {
	name  string
	proxy *zktest.Proxy
	inc   int
	cur   *proc // nil when removed
	busy  bool  // a fault is under way on it
	extra bool  // added during the run
}

// driver runs the faults and collects the evidence.
type driver struct {
	t       *testing.T
	cfg     runConfig
	c       *zktest.Cluster
	root    string
	dir     string
	bin     string
	origin  int64
	db      *DB
	obs     storekit.Store
	admin   *strategy.Admin
	tt      schedule.TaskType
	wg      sync.WaitGroup // fault goroutines
	stopped chan struct{}  // closed when the faults stop

	mu       sync.Mutex // guards the fields below
	rng      *rand.Rand
	hosts    []*host
	procs    []*proc
	freezes  []Freeze
	faults   map[string]int
	failed   map[string]int // faults that could not be applied (errors, with the text in problems)
	problems []string       // unexpected events: unclean exits, fault errors
	zkBusy   bool
	extraN   int
	nextItem int
}

// softT lets fault goroutines call zktest helpers: a Fatal becomes a
// panic that the goroutine recovers into a problem.
type softT struct{ testing.TB }

type softFatal struct{ msg string }

func (s softT) Helper()                   {}
func (s softT) Fatal(a ...any)            { panic(softFatal{fmt.Sprint(a...)}) }
func (s softT) Fatalf(f string, a ...any) { panic(softFatal{fmt.Sprintf(f, a...)}) }
func (s softT) FailNow()                  { panic(softFatal{"FailNow"}) }
func (s softT) Errorf(f string, a ...any) { panic(softFatal{fmt.Sprintf(f, a...)}) }
func (s softT) Error(a ...any)            { panic(softFatal{fmt.Sprint(a...)}) }

// buildWorker builds the worker binary into dir.
func buildWorker(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "chaos-worker")
	// go test puts its own GOROOT/bin first in the PATH of test binaries.
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tbschedule/tbschedule-go/internal/testinfra/chaos/worker")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build the worker: %s", out)
	return bin
}

func newDriver(t *testing.T, cfg runConfig) *driver {
	if !Supported {
		t.Skip("the chaos suite needs Linux")
	}
	zktest.Require(t)
	t.Logf("chaos seed %d (replay: TBS_CHAOS_SEED=%d), faults for %v, session timeout %v", cfg.seed, cfg.seed, cfg.duration, cfg.sessionTimeout)
	d := &driver{t: t, cfg: cfg, dir: t.TempDir(), stopped: make(chan struct{}),
		rng: rand.New(rand.NewPCG(cfg.seed, 0x636861)), faults: map[string]int{}, failed: map[string]int{}}
	if keep := os.Getenv("TBS_CHAOS_DIR"); keep != "" { // keep the logs for a look afterwards
		d.dir = filepath.Join(keep, fmt.Sprintf("run-%d-%d", cfg.seed, time.Now().Unix()))
		require.NoError(t, os.MkdirAll(d.dir, 0o755))
		t.Logf("logs in %s", d.dir)
	}
	d.bin = buildWorker(t, t.TempDir())
	d.c = zktest.StartEnsemble(t, 3)
	d.root = d.c.UniqueRoot(t)
	d.origin = Mono()
	var err error
	d.db, err = OpenDB(filepath.Join(d.dir, "db"), d.origin, int64(cfg.period))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.obs, err = zkstore.Open(ctx, zkstore.Config{Servers: d.c.Servers(), Root: d.root, SessionTimeout: 10 * time.Second,
		Auth: zkstore.Digest(AuthUser, AuthPassword)}, zkstore.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.obs.Close() })
	d.admin = strategy.NewAdmin(d.obs, strategy.AdminConfig{Operator: "chaos"})
	tt := schedule.DefaultTaskType(TaskName)
	tt.DealBeanName = DealName
	tt.HeartBeatRate = 500 * time.Millisecond
	tt.JudgeDeadInterval = 5 * time.Second
	tt.SleepTimeNoData = 100 * time.Millisecond
	tt.FetchDataNumber = 12
	tt.ThreadNumber = 3
	tt.PermitRunStartTime, tt.PermitRunEndTime = windowStart, windowEnd
	for i := 0; i < cfg.items; i++ {
		tt.TaskItems = append(tt.TaskItems, strconv.Itoa(i))
	}
	d.tt = tt
	_, err = d.admin.ApplyTaskType(ctx, tt)
	require.NoError(t, err)
	s := schedule.DefaultStrategy(StrategyName)
	s.TaskName, s.AssignNum, s.NumOfSingleServer = TaskName, 6, 2
	_, err = d.admin.ApplyStrategy(ctx, s)
	require.NoError(t, err)
	t.Cleanup(d.killAll)
	return d
}

// killAll kills every worker still running (test cleanup).
func (d *driver) killAll() {
	d.mu.Lock()
	procs := append([]*proc(nil), d.procs...)
	d.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

func (d *driver) problem(format string, a ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problems = append(d.problems, fmt.Sprintf(format, a...))
}

// start starts a new incarnation on h and waits until it has registered.
func (d *driver) start(t testing.TB, h *host, skew time.Duration) *proc {
	d.mu.Lock()
	h.inc++
	p := &proc{name: fmt.Sprintf("%s.%d", h.name, h.inc), host: h.name, ready: make(chan string, 1), exited: make(chan struct{})}
	seed := d.rng.Uint64()
	d.mu.Unlock()
	p.log = filepath.Join(d.dir, p.name+".log")
	args := []string{"-name", p.name, "-host", h.name, "-zk", strings.Join(h.proxy.Servers(), ","), "-root", d.root,
		"-session", d.cfg.sessionTimeout.String(), "-log", p.log, "-db", filepath.Join(d.dir, "db"),
		"-origin", strconv.FormatInt(d.origin, 10), "-period", d.cfg.period.String(), "-seed", strconv.FormatUint(seed, 10),
		"-slog", filepath.Join(d.dir, p.name+".slog")}
	if skew != 0 {
		args = append(args, "-skew", skew.String())
	}
	if d.cfg.noSelfFencing {
		args = append(args, "-no-self-fencing")
	}
	p.cmd = exec.Command(d.bin, args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errf, err := os.Create(filepath.Join(d.dir, p.name+".stderr"))
	if err != nil {
		t.Fatalf("worker %s: %v", p.name, err)
	}
	p.cmd.Stderr = errf
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("worker %s: %v", p.name, err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("worker %s: %v", p.name, err)
	}
	d.mu.Lock()
	d.procs = append(d.procs, p)
	h.cur = p
	d.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			kind, val, _ := strings.Cut(sc.Text(), " ")
			switch kind {
			case "ready":
				p.ready <- val
			case "session":
				if id, err := strconv.ParseInt(val, 10, 64); err == nil {
					p.session.Store(id)
				}
			}
		}
		p.waitErr = p.cmd.Wait()
		_ = errf.Close()
		close(p.exited)
	}()
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("worker %s exited before it registered: %v (see %s.stderr)", p.name, p.waitErr, p.name)
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %s did not register within 60s", p.name)
	}
	return p
}

// kill kills p with SIGKILL and reaps it.
func (d *driver) kill(p *proc) {
	_ = p.cmd.Process.Kill()
	<-p.exited
	d.mu.Lock()
	p.killed, p.killedAt = true, Mono()
	d.mu.Unlock()
}

// terminate stops p gracefully; an unclean or slow exit is a problem.
func (d *driver) terminate(p *proc) {
	d.mu.Lock()
	p.stopped = true
	d.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			d.problem("worker %s: unclean exit after SIGTERM: %v (see %s.stderr)", p.name, p.waitErr, p.name)
		}
	case <-time.After(60 * time.Second):
		d.problem("worker %s did not stop within 60s of SIGTERM", p.name)
		d.kill(p)
	}
}

// waitStopped waits until every thread of pid is stopped (state T).
func waitStopped(pid int) {
	pollUntil(5*time.Second, time.Millisecond, func() (bool, string) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true, "" // gone
		}
		i := strings.LastIndexByte(string(data), ')')
		return i > 0 && i+2 < len(data) && data[i+2] == 'T', ""
	})
}

// pollUntil calls cond every interval until it holds or limit has passed.
// It returns how long that took (negative: not within limit) and cond's
// last explanation ("" once it holds). It is the driver's one wait on a
// condition.
func pollUntil(limit, every time.Duration, cond func() (bool, string)) (time.Duration, string) {
	start := time.Now()
	for {
		ok, why := cond()
		if ok {
			return time.Since(start), ""
		}
		if time.Since(start) >= limit {
			return -1, why
		}
		time.Sleep(every)
	}
}

func (d *driver) between(lo, hi time.Duration) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return lo + time.Duration(d.rng.Int64N(int64(hi-lo)+1))
}

// pick draws the next fault and a target for it, marking the target busy.
// It returns "" when nothing applies now.
func (d *driver) pick() (string, *host, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	classes := d.cfg.classes
	if classes == nil {
		classes = allFaults
	}
	var idle []*host
	for _, h := range d.hosts {
		if h.cur != nil && !h.busy {
			idle = append(idle, h)
		}
	}
	for range 20 {
		class := classes[d.rng.IntN(len(classes))]
		switch class {
		case faultKill, faultPause, faultPartition, faultExpire, faultRestart, faultSkew:
			// Keep at least one worker out of faults, so work goes on.
			if len(idle) < 2 {
				continue
			}
			h := idle[d.rng.IntN(len(idle))]
			h.busy = true
			return class, h, 0
		case faultZKKill, faultZKLeader, faultZKPause, faultZKStop:
			if d.zkBusy {
				continue
			}
			d.zkBusy = true
			return class, nil, d.rng.IntN(3)
		case faultAddItem:
			// At most maxExtraItems more items than at the start, so the
			// work stays within what the workers can do.
			if len(d.tt.TaskItems) >= d.cfg.items+maxExtraItems {
				continue
			}
			return class, nil, 0
		case faultDelItem:
			if len(d.tt.TaskItems) <= d.cfg.items {
				continue
			}
			return class, nil, 0
		case faultAddServer:
			if d.extraN >= d.cfg.maxExtra {
				continue
			}
			d.extraN++
			h := &host{name: fmt.Sprintf("x%d", len(d.hosts)+1), busy: true, extra: true}
			d.hosts = append(d.hosts, h)
			return class, h, 0
		case faultDelServer:
			for _, h := range idle {
				if h.extra && len(idle) >= 2 {
					h.busy = true
					d.extraN--
					return class, h, 0
				}
			}
		}
	}
	return "", nil, 0
}

// run injects faults for the configured duration, then heals everything
// and returns when every fault is over.
func (d *driver) run() {
	t := d.t
	for i := 0; i < d.cfg.workers; i++ {
		h := &host{name: fmt.Sprintf("w%d", i+1), proxy: d.c.NewProxy(t)}
		d.hosts = append(d.hosts, h)
		d.start(t, h, 0)
	}
	end := time.Now().Add(d.cfg.duration)
	for time.Now().Before(end) {
		time.Sleep(d.between(d.cfg.gapMin, d.cfg.gapMax)) // the random gap between faults: the run's pace
		class, h, member := d.pick()
		if class == "" {
			continue
		}
		if h != nil && h.proxy == nil {
			h.proxy = d.c.NewProxy(t) // proxies are closed in t.Cleanup: create them here
		}
		d.wg.Add(1)
		go d.inject(class, h, member)
	}
	d.wg.Wait()
	close(d.stopped)
}

// inject applies one fault and heals it.
func (d *driver) inject(class string, h *host, member int) {
	defer d.wg.Done()
	st := softT{d.t}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(softFatal)
			if !ok {
				panic(r)
			}
			d.problem("fault %q: %s", class, f.msg)
			d.mu.Lock()
			d.failed[class]++
			d.mu.Unlock()
		}
		d.mu.Lock()
		if h != nil {
			h.busy = false
		}
		if member >= 0 && strings.Contains(class, "ZK") {
			d.zkBusy = false
		}
		d.mu.Unlock()
	}()
	to := d.cfg.sessionTimeout
	var p *proc
	what := class
	if h != nil {
		d.mu.Lock()
		p = h.cur
		d.mu.Unlock()
		what = fmt.Sprintf("%s on %s", class, h.name)
		if p != nil {
			what += " (" + p.name + ")"
		}
	} else if strings.Contains(class, "ZK") {
		what = fmt.Sprintf("%s (member %d)", class, member)
	}
	d.event("start %s", what)
	// The sleeps below are the faults' random durations and the quiet
	// after them before the fault counts as healed: the chaos under test,
	// not waits for anything.
	switch class {
	case faultKill:
		d.kill(p)
		time.Sleep(d.between(200*time.Millisecond, 3*time.Second)) // down a while
		d.start(st, h, 0)
	case faultPause:
		_ = p.cmd.Process.Signal(syscall.SIGSTOP)
		waitStopped(p.cmd.Process.Pid)
		from := Mono()
		time.Sleep(d.between(to*6/5, to*2)) // frozen past the session timeout
		thaw := Mono()
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		d.mu.Lock()
		d.freezes = append(d.freezes, Freeze{Worker: p.name, From: from, To: thaw})
		d.mu.Unlock()
		time.Sleep(d.between(0, time.Second)) // quiet after the fault
	case faultPartition:
		h.proxy.Blackhole()
		time.Sleep(d.between(to/2, to*5/2)) // shorter and longer than the session
		h.proxy.Pass()
		time.Sleep(d.between(0, time.Second)) // quiet after the fault
	case faultExpire:
		id := p.session.Load()
		if id == 0 {
			st.Fatalf("worker %s: no session known", p.name)
		}
		d.c.ExpireSession(st, id)
		time.Sleep(d.between(0, time.Second)) // quiet after the fault
	case faultRestart:
		d.terminate(p)
		d.start(st, h, 0)
	case faultSkew:
		d.terminate(p)
		skew := d.between(time.Minute, 10*time.Minute)
		if d.between(0, 1) == 0 {
			skew = -skew
		}
		d.start(st, h, skew)
	case faultZKKill, faultZKLeader, faultZKStop:
		if class == faultZKLeader {
			member = d.c.Leader(st)
		}
		m := d.c.Member(member)
		if class == faultZKStop {
			m.Stop(st)
		} else {
			m.Kill(st)
		}
		time.Sleep(d.between(500*time.Millisecond, 4*time.Second)) // the member is down a while
		m.Restart(st)
	case faultZKPause:
		m := d.c.Member(member)
		m.Pause(st)
		time.Sleep(d.between(500*time.Millisecond, 3*time.Second)) // the member is paused a while
		m.Resume(st)
	case faultAddItem, faultDelItem:
		d.mu.Lock()
		tt := d.tt
		tt.TaskItems = append([]string(nil), tt.TaskItems...)
		if class == faultAddItem {
			d.nextItem++
			item := fmt.Sprintf("x%d", d.nextItem)
			if err := d.db.Born(item, Mono()); err != nil {
				d.mu.Unlock()
				st.Fatalf("%v", err)
			}
			tt.TaskItems = append(tt.TaskItems, item)
		} else {
			tt.TaskItems = tt.TaskItems[:len(tt.TaskItems)-1]
		}
		d.tt = tt
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := d.admin.ApplyTaskType(ctx, tt); err != nil {
			st.Fatalf("apply task type: %v", err)
		}
	case faultAddServer:
		d.start(st, h, 0)
	case faultDelServer:
		d.terminate(p)
		d.mu.Lock()
		h.cur = nil
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.faults[class]++
	d.mu.Unlock()
	d.event("healed %s", what)
}

// event appends a line to the run's timeline (faults.log in the run
// directory), with Mono() time, for reading the evidence afterwards.
func (d *driver) event(format string, a ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(d.dir, "faults.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%d %s\n", Mono(), fmt.Sprintf(format, a...))
}

// owned waits until every item is owned by a server of a running worker's
// current session and returns how long that took (negative: not within
// limit).
func (d *driver) owned(limit time.Duration) (time.Duration, string) {
	return pollUntil(limit, 100*time.Millisecond, d.ownedNow)
}

func (d *driver) ownedNow() (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	live := map[int64]bool{}
	d.mu.Lock()
	for _, h := range d.hosts {
		if h.cur != nil {
			live[h.cur.session.Load()] = true
		}
	}
	d.mu.Unlock()
	servers, err := d.obs.Servers(ctx, TaskName)
	if err != nil {
		return false, err.Error()
	}
	current := map[schedule.ServerID]bool{}
	for _, s := range servers {
		if live[s.Session] {
			current[s.UUID] = true
		}
	}
	items, err := d.obs.Items(ctx, TaskName)
	if err != nil {
		return false, err.Error()
	}
	var bad []string
	for _, it := range items.Items {
		if it.Sts == schedule.ItemRemoved {
			continue
		}
		if !current[it.CurServer] {
			bad = append(bad, fmt.Sprintf("%s→%q", it.ID, it.CurServer))
		}
	}
	if len(bad) > 0 {
		return false, "not owned by a live server: " + strings.Join(bad, " ")
	}
	return true, ""
}

// waitComplete waits until every item's first need records are committed.
func (d *driver) waitComplete(need map[string]int64, limit time.Duration) string {
	failed := ""
	_, why := pollUntil(limit, 200*time.Millisecond, func() (bool, string) {
		var behind []string
		for item, n := range need {
			low, err := d.db.Low(item)
			if err != nil {
				failed = err.Error()
				return true, ""
			}
			if low < n {
				behind = append(behind, fmt.Sprintf("%s at %d of %d", item, low, n))
			}
		}
		sort.Strings(behind)
		return len(behind) == 0, "records still pending: " + strings.Join(behind, ", ")
	})
	if failed != "" {
		return failed
	}
	return why
}

// leaks stops every worker gracefully and then checks the tree: no server,
// factory, strategy runtime or systime node may be left.
func (d *driver) leaks() []string {
	d.mu.Lock()
	var live []*proc
	for _, h := range d.hosts {
		if h.cur != nil {
			live = append(live, h.cur)
		}
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range live {
		wg.Add(1)
		go func() { defer wg.Done(); d.terminate(p) }()
	}
	wg.Wait()
	var out []string
	// Sessions of killed workers end within the session timeout.
	pollUntil(d.cfg.sessionTimeout+10*time.Second, 200*time.Millisecond, func() (bool, string) {
		out = d.treeLeft()
		return len(out) == 0, ""
	})
	return out
}

func (d *driver) treeLeft() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	note := func(what string, n int, err error) {
		if err != nil {
			out = append(out, fmt.Sprintf("tree check: %s: %v", what, err))
		} else if n > 0 {
			out = append(out, fmt.Sprintf("%d stale %s nodes left", n, what))
		}
	}
	svs, err := d.obs.Servers(ctx, TaskName)
	note("server", len(svs), err)
	fs, err := d.obs.Factories(ctx)
	note("factory", len(fs), err)
	rts, err := d.obs.StrategyRuntimes(ctx, StrategyName)
	note("strategy runtime", len(rts), err)
	conn, _ := d.c.Connect(d.t, nil, 10*time.Second)
	if err := conn.AddAuth(zktest.SuperAuth()); err != nil {
		out = append(out, fmt.Sprintf("tree check: auth: %v", err))
		return out
	}
	kids, _, err := conn.Children(d.root)
	n := 0
	for _, k := range kids {
		if strings.HasPrefix(k, "systime") {
			n++
		}
	}
	note("systime", n, err)
	conn.Close()
	return out
}

// logs reads every incarnation's log.
func (d *driver) logs() []WorkerLog {
	d.mu.Lock()
	procs := append([]*proc(nil), d.procs...)
	d.mu.Unlock()
	var out []WorkerLog
	for _, p := range procs {
		var killedAt int64
		if p.killed {
			killedAt = p.killedAt
		}
		wl, err := ReadLog(p.log, p.name, killedAt)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(d.t, err)
		if wl.Torn {
			d.t.Logf("%s: torn last line ignored", p.name)
		}
		select {
		case <-p.exited:
			if !p.killed && !p.stopped {
				d.problem("worker %s exited on its own: %v (see %s.stderr)", p.name, p.waitErr, p.name)
			}
		default:
		}
		if p.stopped && !p.killed && !wl.Stopped {
			d.problem("worker %s was stopped gracefully but logged no clean stop", p.name)
		}
		if wl.Leaked > 0 {
			d.problem("worker %s: %d goroutines left after a graceful stop (see %s.slog)", p.name, wl.Leaked, p.name)
		}
		out = append(out, wl)
	}
	return out
}

// inWindow reports whether an execution may start at mono: within the
// permit window of cluster time (the host's true wall clock), with the
// tolerances.
func inWindow(offset int64) func(int64) bool {
	return func(mono int64) bool {
		pos := time.Duration((mono + offset) % int64(windowEvery))
		return pos >= 0 && pos < windowOpen+windowAfter || pos >= windowEvery-windowBefore
	}
}

// finish heals, measures and checks; it returns the checker's result.
func (d *driver) finish() Result {
	t := d.t
	healed := Mono()
	bound := d.cfg.sessionTimeout + 8*time.Second
	ownedAfter, why := d.owned(bound + 30*time.Second)
	if ownedAfter >= 0 {
		ownedAfter = time.Duration(Mono() - healed)
	}
	t.Logf("after the faults: every item owned by a live server after %v (bound %v) %s", ownedAfter.Round(time.Millisecond), bound, why)
	d.mu.Lock()
	need := map[string]int64{}
	for _, item := range d.tt.TaskItems {
		n, err := d.db.Available(item, healed)
		require.NoError(t, err)
		need[item] = n
	}
	d.mu.Unlock()
	if why := d.waitComplete(need, 90*time.Second); why != "" {
		t.Logf("completion: %s", why)
	}
	leaks := d.leaks()
	logs := d.logs()
	d.mu.Lock()
	leaks = append(leaks, d.problems...)
	freezes := append([]Freeze(nil), d.freezes...)
	d.mu.Unlock()
	offset := time.Now().UnixNano() - Mono()
	stored := map[string]int64{}
	for item := range need {
		low, err := d.db.Low(item)
		require.NoError(t, err)
		stored[item] = low
	}
	return Check(Input{Logs: logs, Freezes: freezes, Need: need, Stored: stored, ResumeGrace: 500 * time.Millisecond,
		InWindow: inWindow(offset), OwnedAfter: ownedAfter, OwnBound: bound, Leaks: leaks})
}

// report prints the fault table and the checker's summary to the test log.
func (d *driver) report(r Result) string {
	var b strings.Builder
	d.mu.Lock()
	fmt.Fprintf(&b, "chaos seed %d: faults for %v, %d worker incarnations, session timeout %v, record period %v\n",
		d.cfg.seed, d.cfg.duration, len(d.procs), d.cfg.sessionTimeout, d.cfg.period)
	total := 0
	for _, c := range allFaults {
		if n := d.faults[c]; n > 0 || d.failed[c] > 0 {
			fmt.Fprintf(&b, "  %-40s %4d", c, n)
			if d.failed[c] > 0 {
				fmt.Fprintf(&b, "  (%d failed to apply)", d.failed[c])
			}
			b.WriteByte('\n')
			total += n
		}
	}
	fmt.Fprintf(&b, "  %-40s %4d\n", "total faults", total)
	d.mu.Unlock()
	r.Print(&b, 10)
	return b.String()
}
