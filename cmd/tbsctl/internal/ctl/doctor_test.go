package ctl_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

type doctorFinding struct {
	Severity, Check, Node, Detail, Fix string
}

func (e *env) doctor(code int, args ...string) []doctorFinding {
	e.t.Helper()
	r := e.fails(code, append([]string{"doctor", "-o", "json"}, args...)...)
	var fs []doctorFinding
	require.NoError(e.t, json.Unmarshal([]byte(r.out), &fs), r.out)
	return fs
}

func findingsOf(fs []doctorFinding, check string) []doctorFinding {
	var out []doctorFinding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func TestDoctorSchema(t *testing.T) {
	e := newEnv(t)
	// A root that does not exist is reported, not created.
	fs := e.doctor(ctl.ExitFailed)
	require.Len(t, fs, 1)
	assert.Equal(t, "schema", fs[0].Check)
	assert.Equal(t, e.root, fs[0].Node)
	assert.Contains(t, fs[0].Detail, "does not exist")
	r := e.fails(ctl.ExitFailed, "tree")
	assert.Contains(t, r.err, "does not exist", "doctor created nothing")

	// A root of TBSchedule (Java).
	conn, _ := zktest.Shared(t).Connect(t, nil, 2*time.Second)
	_, err := conn.Create(e.root, []byte("tbschedule-3.4.0"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	r = e.fails(ctl.ExitFailed, "doctor")
	assert.Contains(t, r.out, "PROBLEM [schema] "+e.root+`: the root belongs to TBSchedule (Java), version "tbschedule-3.4.0"`)
	assert.Contains(t, r.out, `fix: migrate, leaving this root to the Java processes: "tbsctl -root /NEW-ROOT import --from-java-root `+e.root+` --time-zone ZONE --dry-run"`)
	// The other commands refuse it too, naming the schema.
	r = e.fails(ctl.ExitFailed, "status")
	assert.Contains(t, r.err, "incompatible schema")
}

func TestDoctorFindsProblems(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "rt.yaml", runtimeYAML))
	e.startFactory("10.0.0.1", "worker-1")
	waitFor(t, 30*time.Second, "every item owned", func() bool {
		ok, n := e.allOwned("orders")
		return ok && n == 2
	})
	out := e.ok("doctor")
	assert.Equal(t, "no problems found\n", out)

	// A strategy no factory can run, and one whose deal no factory has.
	e.ok("apply", "-f", file(t, "st.json", `{"strategyName":"elsewhere","taskName":"orders","assignNum":1,"IPList":["10.9.9.9","far-host"]}`))
	e.ok("apply", "-f", file(t, "nodeal.yaml", `
taskTypes:
  - {baseTaskType: nodeal, dealBeanName: missingDeal, taskItems: ["0"]}
strategies:
  - {strategyName: nodeal-st, taskName: nodeal, assignNum: 1}
`))
	waitFor(t, 30*time.Second, "the factory reports it cannot start nodeal", func() bool {
		return strings.Contains(e.ok("strategies"), "missingDeal")
	})

	// A runtime whose only server died holding an item, built long enough
	// ago to be stale; and a live server whose heartbeat stopped.
	ctx := context.Background()
	ghost := fastTaskType("ghost", 3)
	ghost.ExpireOwnSignInterval = 100 * time.Millisecond
	admin := e.store()
	_, err := admin.CreateTaskType(ctx, ghost)
	require.NoError(t, err)
	dying := e.store()
	sess, err := dying.Session(ctx)
	require.NoError(t, err)
	srv, err := dying.RegisterServer(ctx, sess, schedule.Server{TaskType: "ghost", BaseTaskType: "ghost", OwnSign: "BASE", IP: "10.0.0.5", HostName: "gone-host"})
	require.NoError(t, err)
	items, err := dying.BuildItems(ctx, "ghost", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, ghost.TaskItems)
	require.NoError(t, err)
	_, err = dying.UpdateItem(ctx, "ghost", srv.UUID, items.Items[1], srv.UUID, "")
	require.NoError(t, err)
	require.NoError(t, dying.Close())

	stuck := e.store()
	sess2, err := stuck.Session(ctx)
	require.NoError(t, err)
	old := schedule.Time{Time: time.Now().Add(-time.Hour)}
	_, err = stuck.RegisterServer(ctx, sess2, schedule.Server{TaskType: "ghost$LIVE", BaseTaskType: "ghost", OwnSign: "LIVE", IP: "10.0.0.6", HostName: "stuck-host", HeartBeatTime: old})
	require.NoError(t, err)
	// The ghost runtime grows older than its expireOwnSignInterval (with a
	// margin for the doctor's own reading of the cluster's time).
	waitFor(t, 10*time.Second, "the ghost runtime is stale", func() bool {
		now, err := admin.Now(ctx)
		require.NoError(t, err)
		return now.Sub(items.Mark.BuiltAt.Time) > 2*ghost.ExpireOwnSignInterval
	})

	fs := e.doctor(ctl.ExitFailed, "--max-drift", "1ns")
	st := findingsOf(fs, "strategy")
	require.Len(t, st, 2, "%+v", fs)
	assert.Equal(t, e.root+"/strategy/elsewhere", st[0].Node)
	assert.Contains(t, st[0].Detail, "IPList [10.9.9.9 far-host] matches none of the 1 live factories (10.0.0.1/worker-1)")
	assert.True(t, strings.HasPrefix(st[1].Node, e.root+"/strategy/nodeal-st/10.0.0.1$worker-1$"), st[1].Node)
	assert.Contains(t, st[1].Detail, "factory runs 0 of the 1 thread groups asked of it: ")
	assert.Contains(t, st[1].Detail, `dealBeanName "missingDeal"`)
	dead := findingsOf(fs, "dead owner")
	require.Len(t, dead, 1, "%+v", fs)
	assert.Equal(t, e.root+"/baseTaskType/ghost/ghost/taskItem", dead[0].Node)
	assert.Equal(t, "1 item(s) of server 10.0.0.5#0 ("+string(srv.UUID)+"), which is not live: 1", dead[0].Detail)
	assert.Contains(t, dead[0].Fix, "no server runs this runtime")
	stale := findingsOf(fs, "stale runtime")
	require.Len(t, stale, 1, "%+v", fs)
	assert.Equal(t, e.root+"/baseTaskType/ghost/ghost", stale[0].Node)
	sv := findingsOf(fs, "stale server")
	require.Len(t, sv, 1, "%+v", fs)
	assert.True(t, strings.HasPrefix(sv[0].Node, e.root+"/baseTaskType/ghost/ghost$LIVE/server/ghost$LIVE$10.0.0.6$"), sv[0].Node)
	assert.Contains(t, sv[0].Detail, "more than judgeDeadInterval 2s")
	clock := findingsOf(fs, "clock")
	require.Len(t, clock, 1, "%+v", fs)
	assert.Contains(t, clock[0].Detail, "allowed 1ns")
	assert.Len(t, fs, 6, "%+v", fs)

	// Text output: one PROBLEM line per finding with its fix, then a count.
	r := e.fails(ctl.ExitFailed, "doctor")
	assert.Contains(t, r.out, "PROBLEM [strategy] "+e.root+"/strategy/elsewhere: IPList")
	assert.Contains(t, r.out, "fix: fix IPList")
	assert.Contains(t, r.out, "5 problem(s) found")

	// Stopping the only admitted factory makes the strategies unrunnable.
	e.ok("delete", "strategy", "elsewhere")
	e.ok("delete", "strategy", "nodeal-st", "--force")
	out = e.ok("drain", "worker-1", "--wait", "45s")
	assert.Contains(t, out, "note: no live server runs orders (6 item(s))")
	fs = e.doctor(ctl.ExitFailed)
	st = findingsOf(fs, "strategy")
	require.Len(t, st, 1, "%+v", fs)
	assert.Contains(t, st[0].Detail, "every factory IPList [127.0.0.1] admits (1) is stopped")
}

// TestDoctorFindsDamagedText: text a wrong charset damaged is reported
// with its node, field and a fix: U+FFFD as a problem, UTF-8 read as
// Latin-1 as a warning.
func TestDoctorFindsDamagedText(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "damaged.yaml", `taskTypes:
  - baseTaskType: lost
    dealBeanName: idle
    taskParameter: "AREA=\uFFFD\uFFFD"
    taskItems: ["0:{CITY=Ã©}", "1"]
strategies:
  - strategyName: lost-s
    taskName: lost
    IPList: ["127.0.0.1"]
    taskParameter: "ok 杭州"
`))
	r := e.fails(ctl.ExitFailed, "doctor")
	assert.Contains(t, r.out, "PROBLEM [damaged text] "+e.root+"/baseTaskType/lost: taskParameter \"AREA=\uFFFD\uFFFD\" holds U+FFFD (the replacement character) at character 5: it was decoded in the wrong charset")
	assert.Contains(t, r.out, "fix: re-enter the text (tbsctl get taskType lost -o yaml > t.yaml; edit; tbsctl apply -f t.yaml)")
	assert.Contains(t, r.out, "WARNING [damaged text] "+e.root+`/baseTaskType/lost: taskItems[0] "0:{CITY=Ã©}" holds UTF-8 read as Latin-1 at character 8`)
	assert.NotContains(t, r.out, "lost-s: taskParameter", "intact text is not reported")

	// The items the leader builds carry the damaged parameter too.
	e.startFactory("127.0.0.1", "h1")
	waitFor(t, 30*time.Second, "the item's damaged parameter reported", func() bool {
		return strings.Contains(e.run("doctor").out, "WARNING [damaged text] "+e.root+`/baseTaskType/lost/lost/taskItem/0: parameter "CITY=Ã©" holds UTF-8 read as Latin-1 at character 5`)
	})
}
