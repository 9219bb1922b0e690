package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// Three factories share assignNum=6 (at most 3 each): 2+2+2; one stops →
// 3+3; it comes back → 2+2+2. Exactly one factory leads, and its managers
// show their items in Status.
func TestFactoriesDistributeThreadGroups(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("orders", 12))
	e.applyStrategy(scheduleStrategy("orders-s", "orders", 6, 3))
	a, b := e.start("a"), e.start("b")
	c := e.start("c")
	took := e.waitRunning("orders-s", "orders", map[string]int{"a": 2, "b": 2, "c": 2}, 10*time.Second)
	t.Logf("3 factories: 2+2+2 after %v", took)

	waitFor(t, 5*time.Second, func() (bool, string) {
		leaders := 0
		for _, p := range []*proc{a, b, c} {
			st, _ := p.f.Status().Strategy("orders-s")
			if !st.Registered || st.RequestNum != 2 || len(st.Managers) != 2 {
				return false, fmt.Sprintf("%s: %+v", p.host, st)
			}
			if st.Leader {
				leaders++
			}
		}
		return leaders == 1, fmt.Sprintf("%d factories distribute, want exactly one", leaders)
	})
	waitFor(t, 10*time.Second, func() (bool, string) {
		owned := 0
		for _, p := range []*proc{a, b, c} {
			st, _ := p.f.Status().Strategy("orders-s")
			for _, m := range st.Managers {
				owned += len(m.Owned)
			}
		}
		return owned == 12, fmt.Sprintf("%d items owned by the managers, want 12", owned)
	})

	require.NoError(t, b.stop(t))
	took = e.waitRunning("orders-s", "orders", map[string]int{"a": 3, "c": 3}, 10*time.Second)
	t.Logf("graceful stop of one: 3+3 after %v", took)

	e.start("b")
	took = e.waitRunning("orders-s", "orders", map[string]int{"a": 2, "b": 2, "c": 2}, 10*time.Second)
	t.Logf("restart: 2+2+2 after %v", took)
}

// numOfSingleServer caps every factory; the leader says what cannot run.
func TestNumOfSingleServerCaps(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("capped", 4))
	e.applyStrategy(scheduleStrategy("capped-s", "capped", 5, 2))
	a, b := e.start("a"), e.start("b")
	e.waitRunning("capped-s", "capped", map[string]int{"a": 2, "b": 2}, 10*time.Second)
	waitFor(t, 5*time.Second, func() (bool, string) {
		for _, p := range []*proc{a, b} {
			st, _ := p.f.Status().Strategy("capped-s")
			if st.Leader {
				return st.Shortfall == 1 && strings.Contains(st.Message, "1 of assignNum 5 cannot run"),
					fmt.Sprintf("leader shortfall %d, message %q", st.Shortfall, st.Message)
			}
		}
		return false, "no leader"
	})
}

// The remainder goes where the hash of the strategy's name says, not to
// the leader each time.
func TestRemainderNotAlwaysTheLeader(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("rem", 4))
	for _, h := range []string{"a", "b", "c"} {
		e.start(h)
	}
	holders := map[string]bool{}
	for i := range 10 {
		name := fmt.Sprintf("rem-%d", i)
		e.applyStrategy(scheduleStrategy(name, "rem", 1, 0))
		var holder string
		waitFor(t, 10*time.Second, func() (bool, string) {
			req := e.requestNums(name)
			for h, n := range req {
				if n == 1 {
					holder = h
				}
			}
			return len(req) == 3 && holder != "", fmt.Sprintf("requestNum %v", req)
		})
		holders[holder] = true
	}
	assert.Greater(t, len(holders), 1, "ten strategies with assignNum 1 all went to %v", holders)
}

// An IPList admits some factories only; editing it moves the thread groups.
func TestIPListFilters(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("ip", 4))
	s := scheduleStrategy("ip-s", "ip", 2, 0)
	s.IPList = []string{"HOST-B"} // host names match case-insensitively
	e.applyStrategy(s)
	a := e.start("host-a")
	e.start("host-b")
	e.waitRunning("ip-s", "ip", map[string]int{"host-b": 2}, 10*time.Second)
	st, _ := a.f.Status().Strategy("ip-s")
	assert.False(t, st.Admitted)
	assert.False(t, st.Registered)

	s.IPList = []string{"host-a"}
	e.applyStrategy(s)
	took := e.waitRunning("ip-s", "ip", map[string]int{"host-a": 2}, 10*time.Second)
	t.Logf("IPList edit took effect in %v", took)

	s.IPList = []string{"localhost"}
	e.applyStrategy(s)
	e.waitRunning("ip-s", "ip", map[string]int{"host-a": 1, "host-b": 1}, 10*time.Second)
}

// Strategies created, edited, paused, resumed and deleted take effect at
// once (watches), including the deletion of a strategy with live
// registrations (its managers stop, where TBSchedule left them running).
func TestStrategyLifecycle(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("life", 6))
	e.start("a")
	e.start("b")

	e.applyStrategy(scheduleStrategy("life-s", "life", 2, 0))
	took := e.waitRunning("life-s", "life", map[string]int{"a": 1, "b": 1}, 5*time.Second)
	t.Logf("create: %v", took)

	e.applyStrategy(scheduleStrategy("life-s", "life", 4, 0))
	took = e.waitRunning("life-s", "life", map[string]int{"a": 2, "b": 2}, 5*time.Second)
	t.Logf("edit assignNum: %v", took)

	_, err := e.admin.PauseStrategy(e.ctx, "life-s")
	require.NoError(t, err)
	took = e.waitRunning("life-s", "life", map[string]int{}, 5*time.Second)
	t.Logf("pause: %v", took)

	_, err = e.admin.ResumeStrategy(e.ctx, "life-s")
	require.NoError(t, err)
	took = e.waitRunning("life-s", "life", map[string]int{"a": 2, "b": 2}, 5*time.Second)
	t.Logf("resume: %v", took)

	// Deleted behind the factories' back, registrations and all.
	require.NoError(t, e.obs.DeleteStrategy(e.ctx, "life-s", storekit.AnyVersion))
	took = waitFor(t, 5*time.Second, func() (bool, string) {
		svs := e.servers("life")
		return len(svs) == 0, fmt.Sprintf("servers %v after the strategy was deleted", svs)
	})
	t.Logf("delete: managers stopped after %v", took)

	// Created again: registered again.
	e.applyStrategy(scheduleStrategy("life-s", "life", 2, 0))
	e.waitRunning("life-s", "life", map[string]int{"a": 1, "b": 1}, 5*time.Second)
}

// The operator's stop flag is durable: a stopped factory leaves its
// strategies but keeps its node, stays stopped across a session expiry and
// a restart of the process, and runs again once started.
func TestStopFlagDurable(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("stop", 4))
	e.applyStrategy(scheduleStrategy("stop-s", "stop", 2, 0))
	a := e.start("a")
	e.start("b")
	e.waitRunning("stop-s", "stop", map[string]int{"a": 1, "b": 1}, 5*time.Second)

	require.NoError(t, e.admin.StopFactory(e.ctx, "127.0.0.1", "a", "maintenance"))
	took := e.waitRunning("stop-s", "stop", map[string]int{"b": 2}, 5*time.Second)
	t.Logf("stop factory: effect after %v", took)
	var st strategy.Status
	waitFor(t, 5*time.Second, func() (bool, string) {
		st = a.f.Status()
		s, _ := st.Strategy("stop-s")
		return st.Stopped && !s.Registered, fmt.Sprintf("status %+v", st)
	})
	assert.Equal(t, "maintenance", st.StopReason)
	assert.Equal(t, "test", st.StoppedBy)
	assert.NotEmpty(t, st.Factory)
	assertFactoryListed(t, e, "a", true)

	e.srv.ExpireSession(a.store)
	waitFor(t, 5*time.Second, func() (bool, string) {
		id := a.f.Status().Factory
		return id != "" && id != st.Factory, "re-registered under a new session"
	})
	assertFactoryListed(t, e, "a", true)
	// Status is published at the end of a round: the round that registered
	// the factory again has reconciled the strategies, and must have left
	// stop-s alone.
	assertNotRegistered(t, e, a, "stop-s", map[string]int{"b": 2})

	require.NoError(t, a.stop(t))
	a = e.start("a") // returns once the first round has published
	assertNotRegistered(t, e, a, "stop-s", map[string]int{"b": 2})
	assert.True(t, a.f.Status().Stopped)

	require.NoError(t, e.admin.StartFactory(e.ctx, "127.0.0.1", "a"))
	took = e.waitRunning("stop-s", "stop", map[string]int{"a": 1, "b": 1}, 5*time.Second)
	t.Logf("start factory: effect after %v", took)
}

// assertNotRegistered checks, after a round of p has published, that p is
// not registered under the strategy and that the registrations ask for want.
func assertNotRegistered(t *testing.T, e *env, p *proc, name string, want map[string]int) {
	t.Helper()
	st, _ := p.f.Status().Strategy(name)
	assert.False(t, st.Registered, "%s registered under %s: %+v", p.host, name, st)
	assert.Equal(t, want, e.requestNums(name))
}

func assertFactoryListed(t *testing.T, e *env, host string, want bool) {
	t.Helper()
	fs, err := e.obs.Factories(e.ctx)
	require.NoError(t, err)
	found := false
	for _, f := range fs {
		found = found || f.HostName == host
	}
	assert.Equal(t, want, found, "factory %s listed", host)
}

// A thread group that cannot start is not registered (it gets no items),
// the error is the registration's message, and it is retried: here the
// task type is missing, then its deal is unknown, then both are fixed.
func TestFailedStartRetried(t *testing.T) {
	e := newEnv(t)
	tt := taskType("fail", 2)
	tt.DealBeanName = "nobody"
	s := scheduleStrategy("fail-s", "fail", 1, 0)
	_, err := e.admin.ApplyStrategy(e.ctx, s)
	require.ErrorIs(t, err, schedule.ErrNotFound, "a Schedule strategy needs its task type")
	e.applyTaskType(tt)
	e.applyStrategy(s)
	require.NoError(t, e.obs.DeleteTaskType(e.ctx, "fail", storekit.AnyVersion))
	a := e.start("a")

	waitMessage := func(want string) {
		t.Helper()
		waitFor(t, 5*time.Second, func() (bool, string) {
			rts, err := e.obs.StrategyRuntimes(e.ctx, "fail-s")
			require.NoError(t, err)
			st, _ := a.f.Status().Strategy("fail-s")
			return len(rts) == 1 && strings.Contains(rts[0].Message, want) && rts[0].CurrentNum == 0 &&
					strings.Contains(st.Message, want) && !st.RetryAt.IsZero(),
				fmt.Sprintf("registrations %+v, status message %q", rts, st.Message)
		})
		assert.Empty(t, e.servers("fail"), "a manager that cannot start must not register")
	}
	waitMessage("not found")

	e.applyTaskType(tt)
	waitMessage("no deal registered")

	tt.DealBeanName = "idle"
	e.applyTaskType(tt)
	took := e.waitRunning("fail-s", "fail", map[string]int{"a": 1}, 5*time.Second)
	t.Logf("fixed task type: running after %v", took)
	waitFor(t, 5*time.Second, func() (bool, string) {
		st, _ := a.f.Status().Strategy("fail-s")
		return st.Message == "" && st.LastError == "", "message cleared: " + st.Message
	})
}

// Editing a task type restarts its managers cleanly (new registrations);
// editing only its items does not (the managers pick them up).
func TestTaskTypeEditRestartsManagers(t *testing.T) {
	e := newEnv(t)
	tt := taskType("edit", 4)
	e.applyTaskType(tt)
	e.applyStrategy(scheduleStrategy("edit-s", "edit", 2, 0))
	e.start("a")
	e.start("b")
	e.waitRunning("edit-s", "edit", map[string]int{"a": 1, "b": 1}, 5*time.Second)
	before := e.serverIDs("edit")

	tt.TaskItems = append(tt.TaskItems, "4", "5")
	e.applyTaskType(tt)
	waitFor(t, 5*time.Second, func() (bool, string) {
		items, err := e.obs.Items(e.ctx, "edit")
		require.NoError(t, err)
		return len(items.Mark.Defs) == 6, "items rebuilt"
	})
	assert.ElementsMatch(t, before, e.serverIDs("edit"), "an item edit keeps the managers")

	tt.ThreadNumber = 2
	e.applyTaskType(tt)
	took := waitFor(t, 5*time.Second, func() (bool, string) {
		after := e.serverIDs("edit")
		for _, id := range after {
			for _, old := range before {
				if id == old {
					return false, "old manager still registered"
				}
			}
		}
		return len(after) == 2, fmt.Sprintf("servers %v", after)
	})
	t.Logf("task type edit: managers restarted after %v", took)
	e.waitRunning("edit-s", "edit", map[string]int{"a": 1, "b": 1}, 5*time.Second)
	svs, err := e.obs.Servers(e.ctx, "edit")
	require.NoError(t, err)
	for _, s := range svs {
		assert.Equal(t, 2, s.ThreadNum)
	}
}

// A Bean strategy runs assignNum copies over the factories, never more,
// and moves copies when a factory stops.
func TestBeanCopies(t *testing.T) {
	e := newEnv(t)
	var log copyLog
	e.applyStrategy(beanStrategy("bean-s", "job", 3))
	a := e.start("a", withTask("job", log.task("a")))
	e.start("b", withTask("job", log.task("b")))
	waitFor(t, 5*time.Second, func() (bool, string) {
		on := log.runningOn()
		return on["a"]+on["b"] == 3 && on["a"] >= 1 && on["b"] >= 1, fmt.Sprintf("copies %v", on)
	})
	st := a.f.Status()
	s, _ := st.Strategy("bean-s")
	assert.Equal(t, schedule.KindBean, s.Kind)
	assert.Len(t, s.Copies, s.CurrentNum)

	require.NoError(t, a.stop(t))
	waitFor(t, 5*time.Second, func() (bool, string) {
		on := log.runningOn()
		return on["b"] == 3 && on["a"] == 0, fmt.Sprintf("copies %v", on)
	})
	assert.LessOrEqual(t, log.max(), 3, "never more than assignNum copies at once")
}

// A Bean singleton runs one copy at any time: across graceful stops, a
// pause, and a partition of its holder longer than the session timeout
// (the holder fences its copy before its session expires).
func TestBeanSingletonExclusive(t *testing.T) {
	e := newEnv(t)
	var log copyLog
	e.applyStrategy(beanStrategy("one", "job", 1))
	ps := map[string]*proc{}
	for _, h := range []string{"a", "b", "c"} {
		ps[h] = e.start(h, withTask("job", log.task(h)))
	}
	holder := func() string {
		var h string
		waitFor(t, 10*time.Second, func() (bool, string) {
			on := log.runningOn()
			for k := range on {
				h = k
			}
			return len(on) == 1, fmt.Sprintf("copies %v", on)
		})
		return h
	}

	h := holder()
	start := time.Now()
	require.NoError(t, ps[h].stop(t))
	h2 := holder()
	t.Logf("graceful stop of the holder %s: the copy moved to %s after %v", h, h2, time.Since(start))
	ps[h] = e.start(h, withTask("job", log.task(h)))

	// Partition the holder: it cannot talk to the store for longer than
	// its session timeout, so its session expires at the server.
	start = time.Now()
	ps[h2].store.Disconnect(2 * sessionTimeout)
	var h3 string
	waitFor(t, 10*time.Second, func() (bool, string) {
		on := log.runningOn()
		for k := range on {
			h3 = k
		}
		return len(on) == 1 && h3 != h2, fmt.Sprintf("copies %v", on)
	})
	t.Logf("partition of the holder %s: the copy moved to %s after %v (session timeout %v)", h2, h3, time.Since(start), sessionTimeout)

	_, err := e.admin.PauseStrategy(e.ctx, "one")
	require.NoError(t, err)
	waitFor(t, 5*time.Second, func() (bool, string) { return len(log.runningOn()) == 0, "paused" })
	_, err = e.admin.ResumeStrategy(e.ctx, "one")
	require.NoError(t, err)
	holder()

	// The partitioned factory is back (a new session) and may take it again.
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, _ := ps[h2].f.Status().Strategy("one")
		return st.Registered, "partitioned factory registered again"
	})
	assert.Empty(t, log.overlaps())
	assert.Equal(t, 1, log.max(), "never two copies at once")
}

// A Bean task that fails or panics is restarted with backoff; the message
// shows the error, Status the stack.
func TestBeanTaskFailureRestarted(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	task := strategy.TaskFunc(func(ctx context.Context, name, param string) error {
		switch calls.Add(1) {
		case 1:
			return errors.New("boom")
		case 2:
			panic("kaboom")
		case 3:
			return nil // returned early without an error
		}
		<-ctx.Done()
		return ctx.Err()
	})
	e.applyStrategy(beanStrategy("flaky", "flaky", 1))
	cfg := testConfig("a")
	cfg.RetryMin, cfg.RetryMax = 100*time.Millisecond, 100*time.Millisecond
	a := e.startCfg(cfg, withTask("flaky", task))
	seen := map[string]bool{}
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, _ := a.f.Status().Strategy("flaky")
		switch {
		case strings.Contains(st.Message, "boom") && !strings.Contains(st.Message, "kaboom"):
			seen["error"] = true
		case strings.Contains(st.Message, "kaboom") && strings.Contains(st.LastError, "goroutine"):
			seen["panic with stack"] = true
			assert.NotContains(t, st.Message, "\n", "the runtime message is one line")
		case strings.Contains(st.Message, strategy.ErrTaskReturned.Error()):
			seen["returned"] = true
		}
		return calls.Load() >= 4 && st.CurrentNum == 1 && len(seen) == 3, fmt.Sprintf("calls %d, seen %v, status %+v", calls.Load(), seen, st)
	})
	waitFor(t, 5*time.Second, func() (bool, string) {
		st, _ := a.f.Status().Strategy("flaky")
		return st.Message == "", "message cleared once the copy runs: " + st.Message
	})
}

// Cancelling Run stops everything and removes the factory's nodes; a task
// that ignores its context makes Run return ErrShutdownTimeout naming it,
// at the deadline or at ForceStop.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("shut", 4))
	e.applyStrategy(scheduleStrategy("shut-s", "shut", 2, 0))
	e.applyStrategy(beanStrategy("stuck-s", "stuck", 1))
	release := make(chan struct{})
	stuck := strategy.TaskFunc(func(ctx context.Context, name, param string) error {
		<-release // ignores ctx
		return nil
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	t.Run("graceful", func(t *testing.T) {
		a := e.start("a")
		e.waitRunning("shut-s", "shut", map[string]int{"a": 2}, 5*time.Second)
		start := time.Now()
		require.NoError(t, a.stop(t))
		t.Logf("Run returned %v after cancel", time.Since(start))
		assert.Empty(t, e.servers("shut"))
		assert.Empty(t, e.requestNums("shut-s"))
		assertFactoryListed(t, e, "a", false)
		assert.Empty(t, a.f.Status().Factory)
	})

	t.Run("deadline", func(t *testing.T) {
		cfg := testConfig("b")
		cfg.ShutdownTimeout = 300 * time.Millisecond
		b := e.startCfg(cfg, withTask("stuck", stuck))
		waitFor(t, 5*time.Second, func() (bool, string) {
			st, _ := b.f.Status().Strategy("stuck-s")
			return st.CurrentNum == 1, "stuck copy running"
		})
		err := b.stop(t)
		require.ErrorIs(t, err, strategy.ErrShutdownTimeout)
		assert.Contains(t, err.Error(), `Bean copy 1 of strategy "stuck-s"`)
		assert.Empty(t, e.servers("shut"), "the managers stopped all the same")
		assert.Len(t, e.requestNums("stuck-s"), 1, "the stuck copy's registration stays until the session ends")
		require.NoError(t, b.store.Close())
	})

	t.Run("ForceStop", func(t *testing.T) {
		c := e.start("c", withTask("stuck", stuck))
		waitFor(t, 5*time.Second, func() (bool, string) {
			st, _ := c.f.Status().Strategy("stuck-s")
			return st.CurrentNum == 1, "stuck copy running"
		})
		c.cancel()
		c.cancel = nil
		// ForceStop during the graceful stop, not before it began.
		waitFor(t, 5*time.Second, func() (bool, string) {
			loop := healthLoop(t, c.f)
			return loop == "stopping", "the health check's loop phase is " + loop
		})
		c.f.ForceStop()
		select {
		case err := <-c.done:
			require.ErrorIs(t, err, strategy.ErrShutdownTimeout)
		case <-time.After(5 * time.Second):
			t.Fatal("ForceStop did not end Run")
		}
	})
	close(release)
}

// Deals and tasks are registered before Run, once per name.
func TestRegisterRules(t *testing.T) {
	e := newEnv(t)
	f, err := strategy.NewFactory(e.obs, testConfig("a"), strategy.WithLogger(testLogger()))
	require.NoError(t, err)
	assert.ErrorIs(t, f.RegisterDeal("bad$name", idleDeal()), schedule.ErrInvalid)
	assert.ErrorIs(t, f.RegisterDeal("d", nil), schedule.ErrInvalid)
	assert.ErrorIs(t, f.RegisterTask("t", nil), schedule.ErrInvalid)
	require.NoError(t, f.RegisterDeal("d", idleDeal()))
	assert.ErrorIs(t, f.RegisterDeal("d", idleDeal()), strategy.ErrDuplicate)
	require.NoError(t, f.RegisterTask("t", strategy.TaskFunc(func(context.Context, string, string) error { return nil })))
	assert.ErrorIs(t, f.RegisterTask("t", strategy.TaskFunc(func(context.Context, string, string) error { return nil })), strategy.ErrDuplicate)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	waitFor(t, 5*time.Second, func() (bool, string) { return f.Status().Factory != "", "registered" })
	assert.ErrorIs(t, f.RegisterDeal("d2", idleDeal()), schedule.ErrRunning)
	assert.ErrorIs(t, f.RegisterTask("t2", strategy.TaskFunc(func(context.Context, string, string) error { return nil })), schedule.ErrRunning)
	assert.ErrorIs(t, f.Run(ctx), schedule.ErrRunning)
	cancel()
	require.NoError(t, <-done)

	_, err = strategy.NewFactory(nil, strategy.Config{RefreshInterval: -1, RetryMin: -1}, nil)
	require.Error(t, err)
	for _, want := range []string{"store must not be nil", "Config.RefreshInterval", "Config.RetryMin"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "Config.IP", "the zero IP is the default")
}

// After a session expiry the factory registers again (a new id) and its
// managers keep running rather than being stopped and started.
func TestSessionExpiryReRegisters(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("exp", 4))
	e.applyStrategy(scheduleStrategy("exp-s", "exp", 2, 0))
	a := e.start("a")
	e.waitRunning("exp-s", "exp", map[string]int{"a": 2}, 5*time.Second)
	before := a.f.Status().Factory
	e.srv.ExpireSession(a.store)
	took := waitFor(t, 5*time.Second, func() (bool, string) {
		st := a.f.Status()
		s, _ := st.Strategy("exp-s")
		return st.Factory != "" && st.Factory != before && s.Registered && s.RequestNum == 2,
			fmt.Sprintf("factory %s, strategy %+v", st.Factory, s)
	})
	t.Logf("re-registered after %v", took)
	e.waitRunning("exp-s", "exp", map[string]int{"a": 2}, 5*time.Second)

	// The factory node removed by an operator while the session lives: the
	// factory registers again too.
	cur := a.f.Status().Factory
	require.NoError(t, e.obs.UnregisterFactory(e.ctx, cur))
	waitFor(t, 5*time.Second, func() (bool, string) {
		st := a.f.Status()
		return st.Factory != "" && st.Factory != cur, "re-registered after its node vanished"
	})
	e.waitRunning("exp-s", "exp", map[string]int{"a": 2}, 5*time.Second)
	rts, err := e.obs.StrategyRuntimes(e.ctx, "exp-s")
	require.NoError(t, err)
	require.Len(t, rts, 1, "the old registration is gone")
}

// At steady state the factories write nothing (TBSchedule's leader
// rewrote every requestNum every 2 s): distribution and reports are
// written only when they change, and refreshes only read.
func TestSteadyStateWritesNothing(t *testing.T) {
	e := newEnv(t)
	var log copyLog
	e.applyStrategy(beanStrategy("quiet", "job", 2))
	var stores []*countingStore
	for _, h := range []string{"a", "b", "c"} {
		cfg := testConfig(h)
		cfg.RefreshInterval = 50 * time.Millisecond
		_, cs := e.startCounted(cfg, withTask("job", log.task(h)))
		stores = append(stores, cs)
	}
	waitFor(t, 5*time.Second, func() (bool, string) {
		cur := e.currentNums("quiet")
		sum := 0
		for _, n := range cur {
			sum += n
		}
		return sum == 2 && len(log.runningOn()) == 2, fmt.Sprintf("currentNum %v", cur)
	})
	// rounds waits until every factory has begun n more refreshes, so
	// that n-1 of them have run whole.
	rounds := func(n int64) {
		t.Helper()
		var from []int64
		for _, cs := range stores {
			from = append(from, cs.refreshes.Load())
		}
		waitFor(t, 10*time.Second, func() (bool, string) {
			for i, cs := range stores {
				if got := cs.refreshes.Load() - from[i]; got < n {
					return false, fmt.Sprintf("factory %d: %d refreshes of %d", i, got, n)
				}
			}
			return true, ""
		})
	}
	rounds(2) // the last reports settle: a whole round of every factory
	before := e.srv.Stats()
	rounds(10)
	after := e.srv.Stats()
	assert.Equal(t, before.Writes, after.Writes, "writes at steady state")
	assert.Equal(t, before.Multis, after.Multis, "multis at steady state")
	assert.Greater(t, after.Reads, before.Reads, "the periodic resync reads")
}

// A start that keeps failing is retried at the backoff's pace, not in a
// busy loop.
func TestFailingStartDoesNotSpin(t *testing.T) {
	var calls atomic.Int64
	failing := strategy.TaskFunc(func(ctx context.Context, _, _ string) error {
		calls.Add(1)
		return errors.New("always")
	})
	e := newFakeEnv(t, nil, withTask("spin", failing))
	e.applyStrategy(beanStrategy("spin", "spin", 1))
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, ok := e.f.Status().Strategy("spin")
		return ok && !st.RetryAt.IsZero(), fmt.Sprintf("a failed start: %+v", st)
	})
	before := e.srv.Stats().Reads

	const total, retryMin = 20 * time.Second, time.Second
	// Starts are retried with backoff: at least RetryMin/2 apart.
	limit := int64(total/(retryMin/2)) + 2
	n := e.span(total, 100*time.Millisecond, calls.Load, limit)
	reads := e.srv.Stats().Reads - before
	t.Logf("over %v of fake time: %d starts, %d reads", total, n, reads)
	assert.LessOrEqual(t, n, limit, "starts over %v with a backoff of at least %v", total, retryMin/2)
	assert.Positive(t, n, "the failed start is retried")
	assert.LessOrEqual(t, reads, 10*limit, "reads over %v", total)
}
