package ctl_test

import (
	"fmt"
	"path"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// writeJavaTree writes a tree shaped like a running TBSchedule 3.x
// deployment under root: root data "tbschedule-3.4.0"; a task type
// (Gson JSON, GBK as a JVM with a Chinese default charset writes it) with
// its runtime, a persistent-sequential server node and items of five
// children each; strategies with a factory registration; factory nodes
// with null, "true" and "false" data.
func writeJavaTree(t *testing.T, conn *zk.Conn, root string) {
	acl := zk.WorldACL(zk.PermAll)
	mk := func(p string, data []byte, flags int32) string {
		got, err := conn.Create(p, data, flags, acl)
		require.NoError(t, err, p)
		return got
	}
	tt := `{"baseTaskType":"OrderSync","heartBeatRate":200,"judgeDeadInterval":2000,"sleepTimeNoData":50,"sleepTimeInterval":0,` +
		`"fetchDataNumber":500,"executeNumber":1,"threadNumber":1,"processorType":"SLEEP","permitRunStartTime":"0 * * * * ?",` +
		`"expireOwnSignInterval":1.0,"dealBeanName":"idle","taskParameter":"AREA\u003d杭州","taskKind":"static",` +
		`"taskItems":[" 0 : { AREA \u003d 杭州 } ","1"," 2 : { b \u003d 3 } "],"maxTaskItemsOfOneThreadGroup":0,"version":0,"sts":"resume"}`
	mk(root, []byte("tbschedule-3.4.0"), 0)
	mk(root+"/baseTaskType", nil, 0)
	mk(root+"/baseTaskType/OrderSync", gbk(t, tt), 0)
	rt := root + "/baseTaskType/OrderSync/OrderSync"
	mk(rt, nil, 0)
	mk(rt+"/server", []byte("reload=true"), 0)
	server := mk(rt+"/server/OrderSync$10.0.0.7$0A1B2C3D4E5F$", []byte(`{"uuid":"x","registerTime":"2026-12-04 09:00:00","heartBeatTime":"2026-12-04 09:00:05"}`), zk.FlagSequence)
	mk(rt+"/taskItem", []byte(path.Base(server)), 0)
	for i, param := range []string{"AREA = 杭州", "", "b = 3"} {
		item := fmt.Sprintf("%s/taskItem/%d", rt, i)
		mk(item, nil, 0)
		for _, child := range []struct{ name, data string }{
			{"cur_server", path.Base(server)}, {"req_server", ""}, {"sts", "ACTIVTE"}, {"parameter", param}, {"deal_desc", ""},
		} {
			mk(item+"/"+child.name, gbk(t, child.data), 0)
		}
	}
	mk(root+"/strategy", nil, 0)
	mk(root+"/strategy/Orders-Strategy", []byte(`{"strategyName":"Orders-Strategy","IPList":["127.0.0.1"],"numOfSingleServer":0,"assignNum":1,"kind":"Schedule","taskName":"OrderSync","sts":"resume"}`), 0)
	mk(root+"/strategy/Orders-Strategy/10.0.0.7$java-host$0A1B2C3D4E5F$0000000001", []byte(`{"strategyName":"Orders-Strategy","uuid":"u","requestNum":1,"currentNum":1,"message":""}`), 0)
	mk(root+"/strategy/Dormant", []byte(`{"strategyName":"Dormant","numOfSingleServer":0,"assignNum":1,"kind":"Java","taskName":"com.example.Old","sts":"resume"}`), 0)
	mk(root+"/factory", nil, 0)
	mk(root+"/factory/10.0.0.7$java-host$0A1B2C3D4E5F$", nil, zk.FlagSequence)
	mk(root+"/factory/10.0.0.8$java-host2$1A1B2C3D4E5F$", []byte("true"), zk.FlagSequence)
	mk(root+"/factory/10.0.0.9$java-host3$2A1B2C3D4E5F$", []byte("false"), zk.FlagSequence)
}

// snapshot is every node under root: its data and its stat (versions,
// modification zxids, children count), in path order.
func snapshot(t *testing.T, conn *zk.Conn, root string) []string {
	var out []string
	var walk func(p string)
	walk = func(p string) {
		data, st, err := conn.Get(p)
		require.NoError(t, err, p)
		out = append(out, fmt.Sprintf("%s %x v%d cv%d mz%d pz%d n%d", p, data, st.Version, st.Cversion, st.Mzxid, st.Pzxid, st.NumChildren))
		kids, _, err := conn.Children(p)
		require.NoError(t, err, p)
		sort.Strings(kids)
		for _, k := range kids {
			walk(path.Join(p, k))
		}
	}
	walk(root)
	return out
}

// TestImportFromJavaRoot migrates a live Java tree on a real ZooKeeper
// with --from-java-root: the task types and strategies arrive with
// TBSchedule's meanings mapped, the Java root is byte-identical
// afterwards, and a factory runs the result.
func TestImportFromJavaRoot(t *testing.T) {
	e := newEnv(t)
	cluster := zktest.Shared(t)
	conn, _ := cluster.Connect(t, nil, 5*time.Second)
	javaRoot := cluster.UniqueRoot(t)
	writeJavaTree(t, conn, javaRoot)
	before := snapshot(t, conn, javaRoot)

	// doctor on the Java root says how to migrate.
	javaEnv := &env{t: t, servers: e.servers, root: javaRoot, vars: map[string]string{}}
	r := javaEnv.fails(ctl.ExitFailed, "doctor")
	assert.Contains(t, r.out, `the root belongs to TBSchedule (Java), version "tbschedule-3.4.0"`)
	assert.Contains(t, r.out, "import --from-java-root "+javaRoot)

	e.store() // a dry run reads an existing root (it creates none)
	out := e.ok("import", "--from-java-root", javaRoot, "--time-zone", "Asia/Shanghai", "--dry-run")
	assert.Contains(t, out, "importing 3 object(s) (Java root "+javaRoot+", read only) into "+e.root)
	assert.Contains(t, out, "taskType OrderSync: would be created")
	assert.Contains(t, out, "dry run: nothing was written")
	assert.Empty(t, e.export().TaskTypes)

	out = e.ok("import", "--from-java-root", javaRoot, "--time-zone", "Asia/Shanghai")
	assert.Contains(t, out, "Java task types: crons run in Asia/Shanghai")
	assert.Contains(t, out, "strategy Dormant: created\n  mapped: IPList is null, empty or blank")
	assert.Contains(t, out, `  mapped: kind Java (class com.example.Old) is imported as kind Bean named "com.example.Old"`)
	assert.Contains(t, out, "3 created, 0 updated, 0 unchanged, 0 skipped")
	assert.Equal(t, before, snapshot(t, conn, javaRoot), "the Java root is byte-identical")

	got := e.export()
	require.Len(t, got.TaskTypes, 1)
	tt := got.TaskTypes[0]
	assert.Equal(t, "AREA=杭州", tt.TaskParameter, "GBK node data decoded")
	assert.Equal(t, "Asia/Shanghai", tt.TimeZone)
	assert.Equal(t, 200*time.Millisecond, tt.HeartBeatRate)
	require.Len(t, got.Strategies, 2)
	assert.Equal(t, schedule.StsPause, got.Strategies[0].Sts, "Dormant had no IPList: it ran nowhere")
	assert.Equal(t, schedule.KindBean, got.Strategies[0].Kind)
	assert.Equal(t, []string{"127.0.0.1"}, got.Strategies[1].IPList)

	// Importing again changes nothing; the same root as target is refused.
	assert.Contains(t, e.ok("import", "--from-java-root", javaRoot, "--time-zone", "Asia/Shanghai"), "0 created, 0 updated, 3 unchanged")
	r = javaEnv.fails(ctl.ExitUsage, "import", "--from-java-root", javaRoot, "--time-zone", "UTC")
	assert.Contains(t, r.err, "overlap")

	// A factory runs the imported configuration: the leader builds the
	// items with TBSchedule's trimmed parameters and they get an owner.
	e.startFactory("10.1.0.1", "go-host")
	waitFor(t, 30*time.Second, "every item owned", func() bool {
		st := e.status("OrderSync")
		if len(st.TaskTypes) != 1 || len(st.TaskTypes[0].Runtimes) != 1 {
			return false
		}
		items := st.TaskTypes[0].Runtimes[0].Items
		owned := 0
		for _, it := range items {
			if it.CurServer != "" {
				owned++
			}
		}
		return len(items) == 3 && owned == 3
	})
	params := map[string]string{}
	for _, it := range e.status("OrderSync").TaskTypes[0].Runtimes[0].Items {
		params[it.ID] = it.Parameter
	}
	assert.Equal(t, map[string]string{"0": "AREA = 杭州", "1": "", "2": "b = 3"}, params)
	assert.Equal(t, before, snapshot(t, conn, javaRoot), "the Java root is still untouched")
}
