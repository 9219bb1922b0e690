package ctl_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/schedule"
)

const runtimeYAML = `
taskTypes:
  - baseTaskType: orders
    dealBeanName: idle
    heartBeatRate: 200
    judgeDeadInterval: 2000
    sleepTimeNoData: 50
    threadNumber: 1
    taskItems: ["0:{TYPE=A}", "1", "2", "3", "4", "5"]
strategies:
  - strategyName: orders-base
    kind: Schedule
    taskName: orders
    assignNum: 2
    IPList: ["127.0.0.1"]
`

// allOwned reports whether every item of runtime rt is owned by a live
// server, and how many servers run it.
func (e *env) allOwned(rt string) (bool, int) {
	st := e.status()
	for _, tt := range st.TaskTypes {
		for _, r := range tt.Runtimes {
			if r.TaskType != rt {
				continue
			}
			if len(r.Items) == 0 || r.Unassigned > 0 || r.Orphaned > 0 {
				return false, len(r.Servers)
			}
			return true, len(r.Servers)
		}
	}
	return false, 0
}

// TestRuntimeCommands drives status, factories, strategies, tree, pause,
// resume, stop, start, drain and delete --force against live factories.
func TestRuntimeCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "rt.yaml", runtimeYAML))
	e.startFactory("10.0.0.1", "worker-1")
	e.startFactory("10.0.0.2", "worker-2")
	waitFor(t, 30*time.Second, "both thread groups own every item", func() bool {
		ok, n := e.allOwned("orders")
		return ok && n == 2
	})

	// status: servers with the leader first, every item owned, parameters shown.
	st := e.status("orders")
	require.Len(t, st.TaskTypes, 1)
	rt := st.TaskTypes[0].Runtimes[0]
	assert.Equal(t, "BASE", rt.OwnSign)
	assert.True(t, rt.Servers[0].Leader)
	assert.False(t, rt.Servers[1].Leader)
	assert.Equal(t, 6, rt.Servers[0].Items+rt.Servers[1].Items)
	assert.Equal(t, "TYPE=A", rt.Items[0].Parameter)
	for _, it := range rt.Items {
		assert.Positive(t, it.Epoch, "item %s", it.ID)
		assert.Empty(t, it.Flag, "item %s", it.ID)
	}
	text := e.ok("status")
	assert.Contains(t, text, "runtime orders (ownSign BASE): 2 server(s), 6 item(s)")
	assert.Contains(t, text, "TYPE=A")
	assert.NotContains(t, text, rt.Servers[0].UUID, "full ids only in -o wide and -o json")
	assert.Contains(t, e.ok("status", "-o", "wide"), rt.Servers[0].UUID)
	r := e.fails(ctl.ExitFailed, "status", "nosuch")
	assert.Contains(t, r.err, `taskType "nosuch" does not exist`)

	// factories and strategies.
	out := e.ok("factories")
	assert.Contains(t, out, "worker-1/10.0.0.1")
	assert.Contains(t, out, "worker-2/10.0.0.2")
	assert.Contains(t, out, "orders-base 1/1")
	var fj []map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.ok("factories", "-o", "json")), &fj))
	assert.Len(t, fj, 2)
	out = e.ok("strategies")
	assert.Contains(t, out, "orders-base")
	assert.Contains(t, out, "2/2")
	var sj []struct {
		StrategyName  string `json:"strategyName"`
		Registrations []struct {
			RequestNum int `json:"requestNum"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(e.ok("strategies", "-o", "json")), &sj))
	require.Len(t, sj, 1)
	assert.Len(t, sj[0].Registrations, 2)

	// tree: decoded values, ephemeral marks, a sub path, depth.
	out = e.ok("tree")
	assert.Contains(t, out, e.root+`  {"schema":1,"software":"tbschedule-go"}`)
	assert.Contains(t, out, "\n  baseTaskType\n")
	assert.Contains(t, out, `"baseTaskType":"orders"`)
	assert.Contains(t, out, " [E]  {")
	assert.NotContains(t, out, "\\x", "values are decoded")
	out = e.ok("tree", "strategy", "--depth", "1")
	assert.True(t, strings.HasPrefix(out, e.root+"/strategy\n  orders-base  {"), out)
	assert.NotContains(t, out, "[E]", "depth 1 stops above the registrations")
	r = e.fails(ctl.ExitUsage, "tree", "../..")
	assert.Contains(t, r.err, `tree: path "../.." leaves the root`)
	assert.True(t, strings.HasPrefix(e.ok("tree", e.root+"/factory"), e.root+"/factory\n"), "an absolute path inside the root")
	r = e.fails(ctl.ExitFailed, "tree", "nosuch")
	assert.Contains(t, r.err, e.root+"/nosuch does not exist")

	// pause: every registration leaves; resume: both come back.
	e.ok("pause", "orders-base")
	waitFor(t, 30*time.Second, "registrations gone after pause", func() bool {
		return !strings.Contains(e.ok("factories"), "orders-base")
	})
	e.ok("resume", "orders-base")
	waitFor(t, 30*time.Second, "both thread groups back after resume", func() bool {
		ok, n := e.allOwned("orders")
		return ok && n == 2
	})

	// stop/start a factory by host name; the flag shows in factories.
	out = e.ok("stop", "worker-2", "--reason", "kernel upgrade")
	assert.Contains(t, out, "factory 10.0.0.2$worker-2: stopped")
	assert.Contains(t, e.ok("factories"), "(kernel upgrade)")
	waitFor(t, 30*time.Second, "worker-1 runs both thread groups", func() bool {
		ok, n := e.allOwned("orders")
		return ok && n == 2 && !strings.Contains(e.ok("status"), "worker-2/")
	})
	assert.Contains(t, e.ok("start", "10.0.0.2"), "factory 10.0.0.2$worker-2: started")
	r = e.fails(ctl.ExitFailed, "stop", "worker-9")
	assert.Contains(t, r.err, `factory "worker-9": no live factory has this host name or IP`)

	// drain worker-1: returns once its servers are gone and the items are elsewhere.
	waitFor(t, 30*time.Second, "worker-2 back in the strategy", func() bool {
		return strings.Contains(e.ok("status"), "worker-2/")
	})
	out = e.ok("drain", "worker-1", "--wait", "45s")
	assert.Contains(t, out, "factory 10.0.0.1$worker-1: drained in")
	assert.NotContains(t, out, "note:", "worker-2 runs the runtime")
	assert.NotContains(t, e.ok("status"), "worker-1/", "no server of the drained machine is left")
	owned, n := e.allOwned("orders")
	assert.True(t, owned, "drain returns after the handover: every item has a live owner")
	assert.Positive(t, n)
	e.ok("start", "worker-1")

	// delete refuses a strategy with live registrations, --force stops them.
	r = e.fails(ctl.ExitFailed, "delete", "strategy", "orders-base")
	assert.Contains(t, r.err, `strategy "orders-base"`)
	assert.Contains(t, r.err, "registered under it")
	out = e.ok("delete", "strategy", "orders-base", "--force", "--wait", "45s")
	assert.Contains(t, out, "strategy orders-base: paused; waiting for 2 registration(s) to stop: 10.0.0.1$worker-1$")
	assert.Contains(t, out, "strategy orders-base: every registration stopped in ")
	assert.Contains(t, out, "strategy orders-base: deleted")
	s := e.store()
	_, _, err := s.Strategy(context.Background(), "orders-base")
	assert.ErrorIs(t, err, schedule.ErrNotFound)
	waitFor(t, 30*time.Second, "no server runs orders", func() bool {
		_, n := e.allOwned("orders")
		return n == 0
	})
	assert.NotContains(t, e.ok("factories"), "orders-base")
}
