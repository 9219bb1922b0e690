package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// A worker is this binary re-executed as one manager process (so that it
// can be killed with SIGKILL). It prints "ready <server id>" once
// registered and "batch <unix ns>" when it processes its first record; it
// stops gracefully on SIGTERM.
const (
	envWorker     = "TBSBENCH_WORKER"
	envWorkerZK   = "TBSBENCH_WORKER_ZK"
	envWorkerRoot = "TBSBENCH_WORKER_ROOT"
	envWorkerTask = "TBSBENCH_WORKER_TASK"
	// envWorkerNoLockDelay set to 1 runs the worker with
	// ManagerConfig.LockDelay < 0 (no lock delay).
	envWorkerNoLockDelay = "TBSBENCH_WORKER_NO_LOCK_DELAY"
)

func workerMain() int {
	name := os.Getenv(envWorker)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	store, err := zkstore.Open(ctx, storeConfig(strings.Split(os.Getenv(envWorkerZK), ","), os.Getenv(envWorkerRoot)), zkstore.WithLogger(quiet))
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	defer store.Close()
	tt, _, err := store.TaskType(ctx, os.Getenv(envWorkerTask))
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	var once sync.Once
	deal := onceDeal(func(string) {
		once.Do(func() { fmt.Println("batch", time.Now().UnixNano()) })
	})
	cfg := managerConfig(name)
	if os.Getenv(envWorkerNoLockDelay) == "1" {
		cfg.LockDelay = -1
	}
	m, err := manager.NewManager(store, tt, "", deal, cfg, manager.WithLogger(quiet))
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	go func() {
		for ctx.Err() == nil {
			if id := m.Status().Server; id != "" {
				fmt.Println("ready", id)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if err := m.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Println("error", err)
		return 4
	}
	return 0
}

type worker struct {
	cmd     *exec.Cmd
	started time.Time
	id      schedule.ServerID
	batch   chan time.Time
	exited  chan struct{}
}

func (b *bench) startWorker(root, task, name string, noLockDelay bool) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envWorker+"="+name, envWorkerZK+"="+strings.Join(b.zk.Servers(), ","),
		envWorkerRoot+"="+root, envWorkerTask+"="+task)
	if noLockDelay {
		cmd.Env = append(cmd.Env, envWorkerNoLockDelay+"=1")
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = workerAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w := &worker{cmd: cmd, batch: make(chan time.Time, 1), exited: make(chan struct{})}
	w.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b.children.addWorker(cmd)
	ready := make(chan string, 1)
	go func() {
		defer close(w.exited)
		defer b.children.removeWorker(cmd)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "ready "), strings.HasPrefix(line, "error "):
				select {
				case ready <- line:
				default:
				}
			case strings.HasPrefix(line, "batch "):
				if ns, err := strconv.ParseInt(strings.TrimPrefix(line, "batch "), 10, 64); err == nil {
					w.batch <- time.Unix(0, ns)
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "ready ") {
			w.kill()
			return nil, fmt.Errorf("worker %s: %s", name, line)
		}
		w.id = schedule.ServerID(strings.TrimPrefix(line, "ready "))
	case <-time.After(time.Minute):
		w.kill()
		return nil, fmt.Errorf("worker %s did not register within a minute", name)
	}
	return w, nil
}

// kill sends SIGKILL and waits for the exit.
func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	<-w.exited
}

// takeover: kill -9, SIGTERM and join, each over b.trials trials, with 10
// manager processes and 100 items.
func (b *bench) takeover(ctx context.Context) (Section, error) {
	const procs, items = 10, 100
	sec := Section{Name: "takeover",
		Columns: []string{"event", "trials", "min", "p50", "p99", "max", "target"},
		Note:    fmt.Sprintf("%d manager processes, %d items, session timeout %v; an observer session polls servers and items every 10 ms", procs, items, sessionTimeout)}
	root, admin, err := b.setUp(ctx, "takeover", taskType("takeover", items))
	if err != nil {
		return sec, err
	}
	defer admin.Close()
	var workers []*worker
	defer func() {
		for _, w := range workers {
			w.kill()
		}
	}()
	n := 0
	spawnAs := func(noLockDelay bool) (*worker, error) {
		n++
		w, err := b.startWorker(root, "takeover", fmt.Sprintf("w%d", n), noLockDelay)
		if err == nil {
			workers = append(workers, w)
		}
		return w, err
	}
	spawn := func() (*worker, error) { return spawnAs(false) }
	remove := func(w *worker) {
		for i, x := range workers {
			if x == w {
				workers = append(workers[:i], workers[i+1:]...)
				return
			}
		}
	}
	waitBalanced := func(want int) error {
		return poll(ctx, 20*time.Millisecond, time.Minute, fmt.Sprintf("balanced over %d servers", want), func() (bool, error) {
			st, err := observe(ctx, admin, "takeover")
			return err == nil && st.balanced(want), err
		})
	}
	// ownedWithout waits until every item is owned by a live server other
	// than gone.
	ownedWithout := func(gone schedule.ServerID) error {
		return poll(ctx, 10*time.Millisecond, time.Minute, "items owned again", func() (bool, error) {
			st, err := observe(ctx, admin, "takeover")
			if err != nil {
				return false, err
			}
			live := map[schedule.ServerID]bool{}
			for _, id := range st.servers {
				if id != gone {
					live[id] = true
				}
			}
			return st.ownedBy(live), nil
		})
	}
	for range procs {
		if _, err := spawn(); err != nil {
			return sec, err
		}
	}
	if err := waitBalanced(procs); err != nil {
		return sec, err
	}

	var kills, bareKills, terms, joins []time.Duration
	for i := range b.trials {
		fmt.Printf("  trial %d/%d\n", i+1, b.trials)
		// kill -9 of one (taking turns, the leader included).
		victim := workers[i%len(workers)]
		t0 := time.Now()
		victim.kill()
		remove(victim)
		if err := ownedWithout(victim.id); err != nil {
			return sec, fmt.Errorf("kill -9, trial %d: %w", i+1, err)
		}
		kills = append(kills, time.Since(t0))

		// The same with a victim that opted out of the lock delay: it
		// replaces the one killed, and is killed in turn.
		bare, err := spawnAs(true)
		if err != nil {
			return sec, err
		}
		if err := waitBalanced(procs); err != nil {
			return sec, err
		}
		t0 = time.Now()
		bare.kill()
		remove(bare)
		if err := ownedWithout(bare.id); err != nil {
			return sec, fmt.Errorf("kill -9 without lock delay, trial %d: %w", i+1, err)
		}
		bareKills = append(bareKills, time.Since(t0))
		if _, err := spawn(); err != nil {
			return sec, err
		}
		if err := waitBalanced(procs); err != nil {
			return sec, err
		}

		// SIGTERM of one.
		victim = workers[(i+3)%len(workers)]
		t0 = time.Now()
		if err := victim.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return sec, err
		}
		if err := ownedWithout(victim.id); err != nil {
			return sec, fmt.Errorf("SIGTERM, trial %d: %w", i+1, err)
		}
		terms = append(terms, time.Since(t0))
		<-victim.exited
		remove(victim)
		if _, err := spawn(); err != nil {
			return sec, err
		}
		if err := waitBalanced(procs); err != nil {
			return sec, err
		}

		// Join of an 11th: from starting the process to its first record.
		w, err := spawn()
		if err != nil {
			return sec, err
		}
		select {
		case at := <-w.batch:
			joins = append(joins, at.Sub(w.started))
		case <-time.After(time.Minute):
			return sec, fmt.Errorf("join, trial %d: the new process processed nothing within a minute", i+1)
		}
		if err := waitBalanced(procs + 1); err != nil {
			return sec, err
		}
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		<-w.exited
		remove(w)
		if err := waitBalanced(procs); err != nil {
			return sec, err
		}
	}
	add := func(event string, d []time.Duration, target string, key string) {
		sec.row(event, strconv.Itoa(len(d)), ms(percentile(d, 0)), ms(percentile(d, 50)), ms(percentile(d, 99)), ms(percentile(d, 100)), target)
		sec.set(key+"_p50_s", percentile(d, 50).Seconds())
		sec.set(key+"_p99_s", percentile(d, 99).Seconds())
		sec.set(key+"_max_s", percentile(d, 100).Seconds())
	}
	lock := fence.LockDelay(sessionTimeout, 0, 0)
	add("kill -9 → all its items owned by live servers", kills,
		fmt.Sprintf("≤ session timeout + lock delay + 1 s = %v", (sessionTimeout+lock+time.Second).Round(time.Millisecond)), "kill")
	add("kill -9 of one with LockDelay < 0 → its items owned", bareKills,
		fmt.Sprintf("≤ session timeout + 1 s = %v", sessionTimeout+time.Second), "kill_no_lock_delay")
	add("SIGTERM → its items owned elsewhere", terms, "≤ 1 s", "graceful")
	add("start of an 11th process → its first record processed", joins, "–", "join")
	return sec, nil
}
