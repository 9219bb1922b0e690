package ctl_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/schedule"
)

const ordersYAML = `
taskTypes:
  - baseTaskType: orders
    dealBeanName: idle
    heartBeatRate: 200
    judgeDeadInterval: 2000
    sleepTimeNoData: 50
    threadNumber: 2
    taskItems: ["0:{TYPE=A}", "1", "2", "3"]
  - baseTaskType: refunds
    dealBeanName: idle
    taskItems: [0, 1]
strategies:
  - strategyName: orders-base
    kind: Schedule
    taskName: orders
    assignNum: 2
    IPList: ["127.0.0.1"]
---
strategyName: refunds-test
kind: Schedule
taskName: refunds$TEST
assignNum: 1
numOfSingleServer: 1
IPList: [worker-1, worker-2]
`

func TestHelpAndUsage(t *testing.T) {
	e := &env{t: t, vars: map[string]string{}}
	out := e.ok("help")
	for _, name := range []string{"tree", "status", "factories", "strategies", "apply", "get", "delete", "pause", "resume", "stop", "start", "drain", "export", "import", "doctor"} {
		assert.Contains(t, out, "  "+name+" ", "main help lists %s", name)
		for _, args := range [][]string{{name, "--help"}, {"help", name}} {
			r := e.run(args...)
			require.Equal(t, 0, r.code, "%q: %s", args, r)
			assert.Contains(t, r.out, "Usage: tbsctl "+name, "%q", args)
			_, example, found := strings.Cut(r.out, "\nExample:\n")
			assert.True(t, found, "%q has an example", args)
			assert.Contains(t, example, "tbsctl "+name, "%q: the example uses the command", args)
		}
	}
	r := e.fails(ctl.ExitUsage, "frobnicate")
	assert.Contains(t, r.err, `unknown command "frobnicate"`)
	r = e.fails(ctl.ExitUsage, "status")
	assert.Contains(t, r.err, "no ZooKeeper servers")
	r = e.fails(ctl.ExitUsage, "-zk", "127.0.0.1:1", "status")
	assert.Contains(t, r.err, "no root")
	r = e.fails(ctl.ExitUsage, "-zk", "127.0.0.1:1", "-root", "app", "status")
	assert.Contains(t, r.err, `Root ("app") must start with "/"`)
	r = e.fails(ctl.ExitUsage, "-zk", "127.0.0.1:1", "-root", "/app", "status", "-o", "xml")
	assert.Contains(t, r.err, `-o "xml"`)
	r = e.fails(ctl.ExitUsage, "get", "taskType")
	assert.Contains(t, r.err, "get: expected a kind and a name")
	// Problems of the file alone are reported without connecting.
	r = e.fails(ctl.ExitFailed, "-zk", "127.0.0.1:1", "-root", "/app", "apply", "--dry-run", "-f",
		file(t, "bad.yaml", "baseTaskType: t\ndealBeanName: d\ntaskItems: []\n"))
	assert.Contains(t, r.err, "taskItems")
	assert.Contains(t, r.err, "nothing was written")
	e.vars[ctl.EnvAuth] = "nocolon-s3cret"
	r = e.fails(ctl.ExitUsage, "-zk", "127.0.0.1:1", "-root", "/app", "status")
	assert.Contains(t, r.err, ctl.EnvAuth+` must be "user:password"`)
	assert.NotContains(t, r.err, "s3cret", "the credentials are never printed")
}

func TestApplyGetDelete(t *testing.T) {
	e := newEnv(t)
	f := file(t, "orders.yaml", ordersYAML)

	e.store() // a dry run reads an existing root (it creates none)
	out := e.ok("apply", "-f", f, "--dry-run")
	assert.Contains(t, out, "taskType orders: would be created")
	assert.Contains(t, out, "strategy refunds-test: would be created")
	assert.Contains(t, out, "dry run: nothing was written")
	r := e.fails(ctl.ExitFailed, "get", "taskType", "orders")
	assert.Equal(t, "tbsctl: get: taskType \"orders\" does not exist under "+e.root+"\n", r.err, "a dry run writes nothing")

	out = e.ok("apply", "-f", f)
	assert.Contains(t, out, "4 created, 0 updated, 0 unchanged")
	out = e.ok("apply", "-f", f)
	assert.Contains(t, out, "0 created, 0 updated, 4 unchanged")

	s := e.store()
	ctx := context.Background()
	tt, _, err := s.TaskType(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, 200*time.Millisecond, tt.HeartBeatRate)
	assert.Equal(t, []string{"0:{TYPE=A}", "1", "2", "3"}, tt.TaskItems)
	rf, _, err := s.TaskType(ctx, "refunds")
	require.NoError(t, err)
	assert.Equal(t, []string{"0", "1"}, rf.TaskItems, "numbers in a YAML item list read as item ids")
	st, _, err := s.Strategy(ctx, "refunds-test")
	require.NoError(t, err)
	assert.Equal(t, "refunds$TEST", st.TaskName)
	assert.Equal(t, []string{"worker-1", "worker-2"}, st.IPList)

	// get prints what apply reads; an edit shows field by field.
	js := e.ok("get", "taskType", "orders")
	var got schedule.TaskType
	require.NoError(t, json.Unmarshal([]byte(js), &got))
	assert.Equal(t, tt, got)
	edited := strings.Replace(js, `"threadNumber": 2`, `"threadNumber": 8`, 1)
	require.NotEqual(t, js, edited)
	out = e.ok("apply", "-f", file(t, "orders.json", edited))
	assert.Contains(t, out, "taskType orders: updated: threadNumber 2 -> 8")
	yml := e.ok("get", "strategy", "refunds-test", "-o", "yaml")
	assert.Contains(t, yml, "strategyName: refunds-test\n")
	assert.Contains(t, yml, "IPList:\n  - worker-1\n")

	// A paused strategy stays paused when a file without sts is applied.
	assert.Contains(t, e.ok("pause", "refunds-test"), "strategy refunds-test: paused")
	assert.Contains(t, e.ok("pause", "refunds-test"), "already paused")
	out = e.ok("apply", "-f", f)
	assert.Contains(t, out, "strategy refunds-test: unchanged")
	st, _, err = s.Strategy(ctx, "refunds-test")
	require.NoError(t, err)
	assert.Equal(t, schedule.StsPause, st.Sts)
	assert.Contains(t, e.ok("resume", "refunds-test"), "strategy refunds-test: resumed")

	// Invalid input: every problem named, nothing written.
	bad := file(t, "bad.yaml", `
taskTypes:
  - baseTaskType: orders
    dealBeanName: idle
    heartBeatRate: 5000
    judgeDeadInterval: 10000
    taskItems: ["0"]
  - baseTaskType: "bad/name"
    dealBeanName: idle
    taskItems: ["0"]
strategies:
  - strategyName: ghost
    taskName: nosuchtask
  - strategyName: wrongtype
    taskName: orders
    assignNum: "two"
`)
	r = e.fails(ctl.ExitFailed, "apply", "-f", bad)
	assert.Contains(t, r.err, "taskTypes[0]")
	assert.Contains(t, r.err, "judgeDeadInterval (10s) must be at least 5*heartBeatRate")
	assert.Contains(t, r.err, `"bad/name"`)
	assert.Contains(t, r.err, "strategies[1]")
	assert.Contains(t, r.err, "assignNum")
	assert.Contains(t, r.err, "nothing was written")
	r = e.fails(ctl.ExitFailed, "apply", "-f", file(t, "ghost.yaml", "strategyName: ghost\ntaskName: nosuchtask\n"))
	assert.Contains(t, r.err, `strategy "ghost": taskName "nosuchtask": task type "nosuchtask" is neither in the file nor stored`)
	assert.Contains(t, r.err, "1 problem(s); nothing was written")
	tt2, _, err := s.TaskType(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, tt, tt2, "a failed apply changes nothing")
	r = e.fails(ctl.ExitFailed, "apply", "-f", file(t, "x.yaml", "kind: [unclosed"))
	assert.Contains(t, r.err, "not valid YAML")
	r = e.fails(ctl.ExitFailed, "apply", "-f", file(t, "x.yaml", "color: blue\n"))
	assert.Contains(t, r.err, `unknown key "color"`)

	// apply from standard input, JSON list form.
	r = e.runIn(`[{"strategyName":"stdin-st","taskName":"orders","assignNum":1}]`, "apply", "-f", "-")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.out, "strategy stdin-st: created")

	// delete --force of a strategy whose registration never goes (a factory
	// that is not running its loop): it waits --wait, says so, deletes.
	stuck := e.store()
	sess, err := stuck.Session(ctx)
	require.NoError(t, err)
	_, err = stuck.RegisterStrategyRuntime(ctx, sess, schedule.StrategyRuntime{StrategyName: "refunds-test", UUID: "10.0.0.9$stuck$0123456789ABCDEF0123456789ABCDEF$0000000042"})
	require.NoError(t, err)
	r = e.fails(ctl.ExitFailed, "delete", "strategy", "refunds-test")
	assert.Contains(t, r.err, `strategy "refunds-test": 1 factories are registered under it`)
	out = e.ok("delete", "strategy", "refunds-test", "--force", "--wait", "300ms")
	assert.Contains(t, out, "strategy refunds-test: paused; waiting for 1 registration(s) to stop: 10.0.0.9$stuck$")
	assert.Contains(t, out, "strategy refunds-test: 1 registration(s) still there after 300ms; deleting anyway")
	assert.Contains(t, out, "strategy refunds-test: deleted")

	// delete: strategies, then a task type still named by a strategy is refused.
	assert.Contains(t, e.ok("delete", "strategy", "stdin-st"), "strategy stdin-st: deleted")
	r = e.fails(ctl.ExitFailed, "delete", "taskType", "orders")
	assert.Contains(t, r.err, `strategy "orders-base" runs it`)
	e.ok("delete", "strategy", "orders-base")
	assert.Contains(t, e.ok("delete", "taskType", "orders"), "taskType orders: deleted")
	_, _, err = s.TaskType(ctx, "orders")
	assert.True(t, errors.Is(err, schedule.ErrNotFound), "%v", err)
	r = e.fails(ctl.ExitFailed, "delete", "strategy", "orders-base")
	assert.Equal(t, "tbsctl: delete: strategy \"orders-base\" does not exist under "+e.root+"\n", r.err)
	r = e.fails(ctl.ExitUsage, "delete", "widget", "x")
	assert.Contains(t, r.err, `unknown kind "widget"`)
}
