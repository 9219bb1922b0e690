package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
)

// envArgs, when set, makes this test binary run the orders command with
// these arguments (separated by newlines) instead of the tests: the worker
// processes of TestOrders are this binary, re-executed.
const envArgs = "ORDERS_TEST_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(envArgs); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := runMain(ctx, strings.Split(args, "\n"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	zktest.Main(m)
}

// TestOrders runs the example as it is meant to run: ZooKeeper, a database
// of BASE and TEST orders, three BASE workers and one TEST worker as
// separate processes; one BASE worker is killed with SIGKILL while it
// works. Every order of each ownSign must be processed exactly once, by the
// workers of its own environment.
func TestOrders(t *testing.T) {
	c := zktest.Shared(t)
	root := c.UniqueRoot(t)
	zkArgs := []string{"-zk", strings.Join(c.Servers(), ","), "-root", root, "-session", "3s"}
	db := filepath.Join(t.TempDir(), "orders.db")
	const baseOrders, testOrders = 1500, 300
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()

	require.Equal(t, 0, runMain(ctx, []string{"seed", "-db", db, "-base", fmt.Sprint(baseOrders), "-test", fmt.Sprint(testOrders)}, os.Stdout, os.Stderr))
	require.Equal(t, 0, runMain(ctx, append([]string{"setup"}, zkArgs...), os.Stdout, os.Stderr))

	workers := map[string]*worker{}
	for _, name := range []string{"w1", "w2", "w3", "t1"} {
		workers[name] = startWorker(t, append(append([]string{"work"}, zkArgs...), "-db", db, "-name", name))
	}
	t.Logf("workers registered after %v", time.Since(start).Round(time.Millisecond))

	sqlDB, err := openDB(db)
	require.NoError(t, err)
	defer sqlDB.Close()
	pending := func(ownSign string) int {
		var n int
		require.NoError(t, sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE own_sign = ? AND status = 'new'`, ownSign).Scan(&n))
		return n
	}

	// Kill w2 once a third of the BASE orders are done, while it holds items.
	waitFor(t, 45*time.Second, "a third of the BASE orders done", func() bool { return pending("BASE") <= baseOrders*2/3 })
	workers["w2"].kill(t)
	t.Logf("killed w2 after %v with %d BASE orders pending", time.Since(start).Round(time.Millisecond), pending("BASE"))

	waitFor(t, 45*time.Second, "every order done", func() bool { return pending("BASE") == 0 && pending(testOwnSign) == 0 })
	t.Logf("all orders done after %v", time.Since(start).Round(time.Millisecond))
	for _, name := range []string{"w1", "w3", "t1"} {
		workers[name].terminate(t)
	}
	t.Logf("workers stopped after %v", time.Since(start).Round(time.Millisecond))

	var out bytes.Buffer
	assert.Equal(t, 0, runMain(ctx, []string{"check", "-db", db}, &out, os.Stderr))
	t.Log("\n" + out.String())
	reps, err := check(ctx, sqlDB)
	require.NoError(t, err)
	require.Len(t, reps, 2)
	for _, r := range reps {
		assert.True(t, r.OK(), "%s", r)
		assert.Zero(t, r.Stale, "%s: no stale owner should have written", r.OwnSign)
	}
	base, test := reps[0], reps[1]
	require.Equal(t, "BASE", base.OwnSign)
	require.Equal(t, testOwnSign, test.OwnSign)
	assert.Equal(t, baseOrders, base.Rows)
	assert.Equal(t, testOrders, test.Rows)
	for w := range base.ByWorker {
		assert.Contains(t, []string{"w1", "w2", "w3"}, w, "a BASE order done by a worker of another environment")
	}
	assert.GreaterOrEqual(t, len(base.ByWorker), 2, "BASE orders were spread over the workers")
	assert.Equal(t, map[string]int{"t1": testOrders}, test.ByWorker)
	t.Logf("whole run %v", time.Since(start).Round(time.Millisecond))
}

// worker is one worker process.
type worker struct {
	name   string
	cmd    *exec.Cmd
	exited chan error
}

func startWorker(t *testing.T, args []string) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envArgs+"="+strings.Join(args, "\n"))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	w := &worker{name: args[len(args)-1], cmd: cmd, exited: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				close(ready)
			}
		}
		w.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-w.exited
		}
	})
	select {
	case <-ready:
	case err := <-w.exited:
		t.Fatalf("worker %s exited before it registered: %v", w.name, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %s did not register within 60s", w.name)
	}
	return w
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *worker) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Kill())
	<-w.exited
}

// terminate sends SIGTERM (graceful stop) and expects a clean exit.
func (w *worker) terminate(t *testing.T) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-w.exited:
		assert.NoError(t, err, "worker %s exit", w.name)
	case <-time.After(30 * time.Second):
		t.Errorf("worker %s did not stop within 30s of SIGTERM", w.name)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The epoch fence of Execute: a write under an older epoch than the item's
// newest is refused and changes nothing; an order already done is not
// done again; both are recorded, and the check reports them.
func TestExecuteFence(t *testing.T) {
	ctx := context.Background()
	db, err := openDB(filepath.Join(t.TempDir(), "fence.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, seed(ctx, db, "BASE", 20))
	newer := orderDeal{db: db, worker: "new-owner"}
	stale := orderDeal{db: db, worker: "old-owner"}

	req := processor.SelectRequest{OwnSign: "BASE", TaskItemNum: 10, FetchNum: 100,
		Items: []processor.TaskItem{{ID: "3", Epoch: 7}}}
	got, err := newer.SelectTasks(ctx, req)
	require.NoError(t, err)
	require.Equal(t, []order{{ID: 3, Item: 3, Epoch: 7}, {ID: 13, Item: 3, Epoch: 7}}, got)

	require.NoError(t, newer.Execute(ctx, got[0], "BASE"))
	// The old owner (epoch 6) wakes up and tries order 13 of the same item.
	err = stale.Execute(ctx, order{ID: 13, Item: 3, Epoch: 6}, "BASE")
	require.ErrorIs(t, err, errStale)
	assert.Equal(t, "new", status(t, db, 13))
	// Order 3 again under the current epoch: already done, not done twice.
	require.NoError(t, newer.Execute(ctx, got[0], "BASE"))
	require.NoError(t, newer.Execute(ctx, got[1], "BASE"))

	reps, err := check(ctx, db)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	r := reps[0]
	assert.Equal(t, 20, r.Rows)
	assert.Equal(t, 2, r.Done)
	assert.Equal(t, 1, r.Stale)
	assert.Equal(t, 1, r.AlreadyDone)
	assert.Equal(t, map[string]int{"new-owner": 2}, r.ByWorker)
	assert.False(t, r.OK(), "18 orders are not done and one was attempted twice")

	// SelectTasks only returns new orders of the items asked for.
	got, err = newer.SelectTasks(ctx, req)
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = newer.SelectTasks(ctx, processor.SelectRequest{OwnSign: "BASE", TaskItemNum: 10, FetchNum: 1,
		Items: []processor.TaskItem{{ID: "x"}}})
	assert.ErrorContains(t, err, `task item "x"`)
}

func status(t *testing.T, db *sql.DB, id int) string {
	var s string
	require.NoError(t, db.QueryRow(`SELECT status FROM orders WHERE id = ?`, id).Scan(&s))
	return s
}

func TestCommandErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"seed"}, 1, "-db"},
		{[]string{"seed", "-db", "x", "-base", "-1"}, 2, "must not be negative"},
		{[]string{"work", "-db", "x"}, 2, "-name"},
		{[]string{"setup"}, 2, "-zk"},
		{[]string{"check", "extra"}, 2, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			assert.Equal(t, tc.code, runMain(ctx, tc.args, &bytes.Buffer{}, &stderr))
			assert.Contains(t, stderr.String(), tc.want)
		})
	}
}
