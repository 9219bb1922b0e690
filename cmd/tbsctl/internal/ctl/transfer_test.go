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

// exported is our export format.
type exported struct {
	ExportedFrom string              `json:"exportedFrom"`
	TaskTypes    []schedule.TaskType `json:"taskTypes"`
	Strategies   []schedule.Strategy `json:"strategies"`
}

func (e *env) export() exported {
	e.t.Helper()
	var x exported
	out := e.ok("export")
	require.NoError(e.t, json.Unmarshal([]byte(out), &x), out)
	return x
}

// TestExportImportRoundTrip exports a root in both formats and imports each
// export into another root: the configuration arrives unchanged.
func TestExportImportRoundTrip(t *testing.T) {
	a := newEnv(t)
	a.ok("apply", "-f", file(t, "orders.yaml", ordersYAML))
	a.ok("pause", "refunds-test")
	src := a.export()
	assert.Equal(t, a.root, src.ExportedFrom)
	require.Len(t, src.TaskTypes, 2)
	require.Len(t, src.Strategies, 2)

	// Ours, through a file, into root B.
	b := a.otherRoot()
	ours := file(t, "backup.json", a.ok("export"))
	out := b.ok("import", "-f", ours)
	assert.Contains(t, out, "(ours format, utf-8) into "+b.root)
	assert.Contains(t, out, "4 created")
	got := b.export()
	assert.Equal(t, src.TaskTypes, got.TaskTypes)
	assert.Equal(t, src.Strategies, got.Strategies, "the paused strategy stays paused")
	assert.Contains(t, b.ok("import", "-f", ours), "0 created, 0 updated, 4 unchanged")

	// YAML export reads back the same.
	y := file(t, "backup.yaml", a.ok("export", "-o", "yaml"))
	assert.Contains(t, b.ok("import", "-f", y), "4 unchanged")

	// The Java console's format, into root C; the rootPath inside is not used.
	c := a.otherRoot()
	javaFile := file(t, "java.txt", "")
	a.ok("export", "--format", "java", "--out", javaFile)
	r := c.run("import", "-f", javaFile)
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.out, "(java format, utf-8) into "+c.root)
	got = c.export()
	assert.Equal(t, src.TaskTypes, got.TaskTypes)
	assert.Equal(t, src.Strategies, got.Strategies)

	// An existing object that differs is refused without --force, kept
	// with it; --dry-run writes nothing.
	a.ok("apply", "-f", file(t, "more.json", `{"strategyName":"refunds-test","taskName":"refunds$TEST","assignNum":3,"IPList":["worker-1"]}`))
	changed := file(t, "changed.json", a.ok("export"))
	r = c.fails(ctl.ExitFailed, "import", "-f", changed)
	assert.Contains(t, r.err, `strategy "refunds-test" exists and differs (IPList ["worker-1","worker-2"] -> ["worker-1"]; assignNum 1 -> 3; numOfSingleServer 1 -> 0): use --force to overwrite`)
	assert.Contains(t, r.err, "nothing was written")
	out = c.ok("import", "-f", changed, "--force", "--dry-run")
	assert.Contains(t, out, "strategy refunds-test: would be updated: IPList")
	assert.Equal(t, src.Strategies, c.export().Strategies)
	out = c.ok("import", "-f", changed, "--force")
	assert.Contains(t, out, "0 created, 1 updated, 3 unchanged")
	assert.Equal(t, a.export().Strategies, c.export().Strategies)
}

// TestImportJavaConsoleExport imports a file in the export format of
// TBSchedule's Java console (Gson's escapes, the Java field names, a
// rootPath of its own) into our root.
func TestImportJavaConsoleExport(t *testing.T) {
	e := newEnv(t)
	e.store() // a dry run reads an existing root (it creates none)
	out := e.ok("import", "-f", "testdata/java-console-export.txt", "--dry-run", "--time-zone", "Asia/Shanghai")
	assert.Contains(t, out, "importing 6 object(s) (java format, utf-8) into "+e.root)
	assert.Contains(t, out, "taskType DemoTask: would be created")
	out = e.ok("import", "-f", "testdata/java-console-export.txt", "--time-zone", "Asia/Shanghai")
	assert.Contains(t, out, "6 created, 0 updated, 0 unchanged, 0 skipped")

	s := e.store()
	ctx := context.Background()
	demo, _, err := s.TaskType(ctx, "DemoTask")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, demo.HeartBeatRate)
	assert.Equal(t, 10*time.Second, demo.JudgeDeadInterval)
	assert.Equal(t, "demoTaskBean", demo.DealBeanName)
	assert.Equal(t, "AREA=杭州,YEAR>30", demo.TaskParameter)
	require.Len(t, demo.TaskItems, 10)
	assert.Equal(t, "0:{TYPE=A,KIND=1}", demo.TaskItems[0])
	assert.Equal(t, 24*time.Hour, demo.ExpireOwnSignInterval)
	sync, _, err := s.TaskType(ctx, "OrderSync")
	require.NoError(t, err)
	assert.Equal(t, schedule.ProcessorNotSleep, sync.ProcessorType)
	assert.Equal(t, "startrun:0 0 1 * * ?", sync.PermitRunStartTime)
	assert.Equal(t, 20, sync.ExecuteNumber)
	assert.Equal(t, 2, sync.MaxTaskItemsOfOneThreadGroup)
	demoSt, _, err := s.Strategy(ctx, "DemoTask-Strategy")
	require.NoError(t, err)
	assert.Equal(t, "DemoTask$TEST", demoSt.TaskName)
	assert.Equal(t, 10, demoSt.AssignNum)
	assert.Equal(t, "中国", demoSt.TaskParameter)
	syncSt, _, err := s.Strategy(ctx, "OrderSync-Strategy")
	require.NoError(t, err)
	assert.Equal(t, []string{"10.20.1.15", "app-host-02"}, syncSt.IPList)
	assert.Equal(t, schedule.StsPause, syncSt.Sts)
	report, _, err := s.TaskType(ctx, "ReportTask")
	require.NoError(t, err)
	assert.Equal(t, "-1", report.PermitRunEndTime, "pause when no data")
	assert.Equal(t, "type='daily'", report.TaskParameter)
	bean, _, err := s.Strategy(ctx, "ReportCleaner-Strategy")
	require.NoError(t, err)
	assert.Equal(t, schedule.KindBean, bean.Kind)
	assert.Equal(t, "reportCleaner", bean.TaskName)
	assert.Equal(t, "keepDays=30", bean.TaskParameter)

	// Importing again changes nothing.
	assert.Contains(t, e.ok("import", "-f", "testdata/java-console-export.txt", "--time-zone", "Asia/Shanghai"), "0 created, 0 updated, 6 unchanged")

	// Bad lines are named by line and field, and nothing is written. The
	// later console's TASK{...}/STRATEGY{...} lines are read too.
	bad := file(t, "bad.txt", strings.Join([]string{
		`{"rootPath":"/x","configType":"strategy","name":"NoTask","value":"{\"strategyName\":\"NoTask\",\"kind\":\"Schedule\",\"taskName\":\"Nowhere\",\"assignNum\":1,\"IPList\":[\"127.0.0.1\"]}"}`,
		``,
		`{"rootPath":"/x","configType":"machine","name":"m","value":"{}"}`,
		`{"rootPath":"/x","configType":"baseTaskType","name":"Other","value":"{\"baseTaskType\":\"Renamed\",\"dealBeanName\":\"b\",\"taskItems\":[\"0\"]}"}`,
		`TASK{"baseTaskType":"NewStyle","dealBeanName":"b","heartBeatRate":"fast","taskItems":["0"]}`,
		`STRATEGY{"strategyName":"Fine","taskName":"DemoTask","assignNum":1}`,
	}, "\n"))
	r := e.fails(ctl.ExitFailed, "import", "-f", bad)
	assert.Contains(t, r.err, `bad.txt: line 1: strategy "NoTask": taskName "Nowhere": task type "Nowhere" is neither in the file nor stored`)
	assert.Contains(t, r.err, `bad.txt: line 3: configType "machine": must be baseTaskType or strategy`)
	assert.Contains(t, r.err, `bad.txt: line 4: name "Other" differs from the record's own name "Renamed"`)
	assert.Contains(t, r.err, "bad.txt: line 5: ")
	assert.Contains(t, r.err, "heartBeatRate")
	assert.Contains(t, r.err, "nothing was written")
	_, _, err = s.Strategy(ctx, "Fine")
	assert.ErrorIs(t, err, schedule.ErrNotFound)
	out = e.ok("import", "-f", file(t, "new.txt", `STRATEGY{"strategyName":"Fine","taskName":"DemoTask","assignNum":1}`+"\n"))
	assert.Contains(t, out, "(java format, utf-8)")
	assert.Contains(t, out, "strategy Fine: created\n  mapped: IPList is null, empty or blank: TBSchedule ran it nowhere; imported paused (was resume) with no host")
}
