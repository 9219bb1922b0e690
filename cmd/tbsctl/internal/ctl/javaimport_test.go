package ctl_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// The records below are written the way TBSchedule 3.4.0 stores them:
// Gson's field order, doubles written as 1.0, a null field left out (the
// strategy NullIP has no IPList), IPList typed in the console as
// "10.0.0.1, host-b" (split on the comma, the space kept), item parameters
// with spaces, crons meant for the JVM's zone (Asia/Shanghai).
var javaTaskTypes = map[string]string{
	"OrderSync": `{"baseTaskType":"OrderSync","heartBeatRate":5000,"judgeDeadInterval":60000,"sleepTimeNoData":500,"sleepTimeInterval":0,` +
		`"fetchDataNumber":500,"executeNumber":1,"threadNumber":5,"processorType":"SLEEP","permitRunStartTime":"0 0 9 * * ?",` +
		`"permitRunEndTime":"0 0 18 * * ?","expireOwnSignInterval":1.0,"dealBeanName":"orderSyncBean","taskParameter":"AREA=杭州",` +
		`"taskKind":"static","taskItems":[" 0 : { AREA = 杭州 } ","1:{a<b&c>d}"," 2 : { b = 3 } "],"maxTaskItemsOfOneThreadGroup":0,"version":0,"sts":"resume"}`,
}

var javaStrategies = map[string]string{
	"Orders-Strategy": `{"strategyName":"Orders-Strategy","IPList":["10.0.0.1"," host-b"],"numOfSingleServer":0,"assignNum":2,"kind":"Schedule","taskName":"OrderSync","taskParameter":"x='1'","sts":"resume"}`,
	"NullIP":          `{"strategyName":"NullIP","numOfSingleServer":0,"assignNum":1,"kind":"Schedule","taskName":"OrderSync","sts":"resume"}`,
	"EmptyIP":         `{"strategyName":"EmptyIP","IPList":[],"numOfSingleServer":0,"assignNum":1,"kind":"Schedule","taskName":"OrderSync","sts":"resume"}`,
	"BlankIP":         `{"strategyName":"BlankIP","IPList":[""],"numOfSingleServer":0,"assignNum":1,"kind":"Schedule","taskName":"OrderSync","sts":"resume"}`,
	"JavaKind":        `{"strategyName":"JavaKind","IPList":["127.0.0.1"],"numOfSingleServer":0,"assignNum":1,"kind":"Java","taskName":"com.example.CleanJob","taskParameter":"days=7","sts":"resume"}`,
	"ZeroAssign":      `{"strategyName":"ZeroAssign","IPList":["127.0.0.1"],"numOfSingleServer":0,"assignNum":0,"kind":"Schedule","taskName":"OrderSync","sts":"resume"}`,
}

var javaStrategyOrder = []string{"Orders-Strategy", "NullIP", "EmptyIP", "BlankIP", "JavaKind", "ZeroAssign"}

// gsonQuote quotes s as Gson does with its default HTML escaping: '<',
// '>', '&', '=' and '\” as \u00XX.
func gsonQuote(s string) string {
	b, err := json.Marshal(s) // escapes <, > and & already
	if err != nil {
		panic(err)
	}
	return strings.NewReplacer("=", `\u003d`, "'", `\u0027`).Replace(string(b))
}

// gsonEscape escapes a JSON document's text as Gson writes it (the
// characters only occur inside strings).
func gsonEscape(doc string) string {
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "=", `\u003d`, "'", `\u0027`).Replace(doc)
}

// consoleExport writes the 3.x console's download: one Gson line per node,
// the value as a string, lines joined by sep, no final newline.
func consoleExport(sep string) string {
	var lines []string
	line := func(kind, name, value string) {
		lines = append(lines, gsonEscape(`{"rootPath":"/taobao-pamirs-schedule/app","configType":"`+kind+`","name":"`+name+`","value":`)+
			gsonQuote(gsonEscape(value))+"}")
	}
	line("baseTaskType", "OrderSync", javaTaskTypes["OrderSync"])
	for _, n := range javaStrategyOrder {
		line("strategy", n, javaStrategies[n])
	}
	return strings.Join(lines, sep)
}

// laterExport writes the 4.x console's lines: TASK{...}/STRATEGY{...},
// fastjson's keys ("name", "iPList"), no HTML escaping.
func laterExport() string {
	lines := []string{"TASK" + strings.Replace(javaTaskTypes["OrderSync"], `"baseTaskType"`, `"name"`, 1)}
	for _, n := range javaStrategyOrder {
		v := strings.Replace(javaStrategies[n], `"strategyName"`, `"name"`, 1)
		lines = append(lines, "STRATEGY"+strings.Replace(v, `"IPList"`, `"iPList"`, 1))
	}
	return strings.Join(lines, "\n")
}

func gbk(t *testing.T, s string) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	require.NoError(t, err)
	return b
}

func writeBytes(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// wantJavaImport is what the records above must become.
func wantJavaImport() ([]schedule.TaskType, []schedule.Strategy) {
	tt := schedule.DefaultTaskType("OrderSync")
	tt.HeartBeatRate, tt.JudgeDeadInterval, tt.SleepTimeNoData = 5*time.Second, time.Minute, 500*time.Millisecond
	tt.FetchDataNumber, tt.ExecuteNumber, tt.ThreadNumber = 500, 1, 5
	tt.PermitRunStartTime, tt.PermitRunEndTime, tt.TimeZone = "0 0 9 * * ?", "0 0 18 * * ?", "Asia/Shanghai"
	tt.DealBeanName, tt.TaskParameter = "orderSyncBean", "AREA=杭州"
	tt.TaskItems = []string{" 0 : { AREA = 杭州 } ", "1:{a<b&c>d}", " 2 : { b = 3 } "}
	st := func(name string, edit func(*schedule.Strategy)) schedule.Strategy {
		s := schedule.DefaultStrategy(name)
		s.TaskName, s.IPList, s.AssignNum, s.TaskParameter = "OrderSync", nil, 1, ""
		edit(&s)
		return s
	}
	paused := func(s *schedule.Strategy) { s.Sts = schedule.StsPause }
	return []schedule.TaskType{tt}, []schedule.Strategy{
		st("BlankIP", paused),
		st("EmptyIP", paused),
		st("JavaKind", func(s *schedule.Strategy) {
			s.Kind, s.TaskName, s.IPList, s.TaskParameter = schedule.KindBean, "com.example.CleanJob", []string{"127.0.0.1"}, "days=7"
		}),
		st("NullIP", paused),
		st("Orders-Strategy", func(s *schedule.Strategy) {
			s.IPList, s.AssignNum, s.TaskParameter = []string{"10.0.0.1", "host-b"}, 2, "x='1'"
		}),
		st("ZeroAssign", func(s *schedule.Strategy) { s.IPList, s.AssignNum = []string{"127.0.0.1"}, 0 }),
	}
}

// TestImportRealJavaExports imports the Java consoles' downloads as they
// are written (GBK, Gson escaping, no final newline; a copy re-saved as
// UTF-8 with a byte order mark and CRLF; the 4.x console's lines) and gets
// the same objects from each, with TBSchedule's meanings mapped and said.
func TestImportRealJavaExports(t *testing.T) {
	wantTT, wantSt := wantJavaImport()
	utf8BOM := "\xEF\xBB\xBF"
	files := []struct {
		name string
		data []byte
	}{
		{"3.x GBK", gbk(t, consoleExport("\n"))},
		{"3.x UTF-8 BOM+CRLF", []byte(utf8BOM + consoleExport("\r\n"))},
		{"4.x GBK", gbk(t, laterExport())},
	}
	for _, c := range files {
		name, data := c.name, c.data
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			f := writeBytes(t, "export.txt", data)
			out := e.ok("import", "-f", f, "--time-zone", "Asia/Shanghai")
			enc := map[bool]string{true: "gbk", false: "utf-8"}[strings.Contains(name, "GBK")]
			assert.Contains(t, out, "importing 7 object(s) (java format, "+enc+") into "+e.root)
			assert.Contains(t, out, "Java task types: crons run in Asia/Shanghai (UTC+08:00 now) (from --time-zone)")
			assert.Contains(t, out, "7 created, 0 updated, 0 unchanged, 0 skipped")
			for _, note := range []string{
				"taskType OrderSync: created\n  mapped: timeZone Asia/Shanghai: the permit window crons run in Asia/Shanghai",
				`  mapped: taskItems[2] " 2 : { b = 3 } ": parameter " b = 3 " is read as "b = 3" (trimmed, as TBSchedule does)`,
				"strategy NullIP: created\n  mapped: IPList is null, empty or blank: TBSchedule ran it nowhere; imported paused (was resume) with no host",
				"strategy EmptyIP: created\n  mapped: IPList is null, empty or blank",
				"strategy BlankIP: created\n  mapped: IPList is null, empty or blank",
				`strategy Orders-Strategy: created` + "\n" + `  mapped: IPList entry " host-b" is trimmed to "host-b"`,
				`strategy JavaKind: created` + "\n" + `  mapped: kind Java (class com.example.CleanJob) is imported as kind Bean named "com.example.CleanJob": register a Go task under that name`,
				"strategy ZeroAssign: created\n  mapped: assignNum 0: no thread group runs anywhere (as in TBSchedule)",
			} {
				assert.Contains(t, out, note)
			}
			got := e.export()
			assert.Equal(t, wantTT, got.TaskTypes)
			assert.Equal(t, wantSt, got.Strategies)
			defs, err := got.TaskTypes[0].ItemDefs()
			require.NoError(t, err)
			assert.Equal(t, []schedule.ItemDef{{ID: "0", Parameter: "AREA = 杭州"}, {ID: "1", Parameter: "a<b&c>d"}, {ID: "2", Parameter: "b = 3"}}, defs)

			// Importing again changes nothing.
			assert.Contains(t, e.ok("import", "-f", f, "--time-zone", "Asia/Shanghai"), "0 created, 0 updated, 7 unchanged, 0 skipped")

			// Round trip: our Java-format export of the result imports
			// into another root as the identical objects, with no zone to
			// give (the export carries it).
			javaFile := file(t, "again.txt", e.ok("export", "--format", "java"))
			other := e.otherRoot()
			out = other.ok("import", "-f", javaFile)
			assert.NotContains(t, out, "crons run in")
			back := other.export()
			assert.Equal(t, got.TaskTypes, back.TaskTypes)
			assert.Equal(t, got.Strategies, back.Strategies)
		})
	}
}

// TestImportEncodingRefused: a file that is neither UTF-8 nor GBK is
// refused naming the line, and a GBK file read as UTF-8 on request is
// refused too; nothing becomes U+FFFD, nothing is written.
func TestImportEncodingRefused(t *testing.T) {
	e := newEnv(t)
	e.store() // the root exists, so that export can show it stays empty
	gbkFile := writeBytes(t, "gbk.txt", gbk(t, consoleExport("\n")))
	r := e.fails(ctl.ExitFailed, "import", "-f", gbkFile, "--encoding", "utf-8", "--time-zone", "UTC")
	assert.Contains(t, r.err, gbkFile+": line 1: not valid UTF-8 (the Java console writes GBK: try --encoding gbk)")

	lines := strings.Split(consoleExport("\n"), "\n")
	bad := append([]byte(lines[0]+"\n"), append([]byte(`{"rootPath":"/r","configType":"strategy","name":"X","value":"{\"strategyName\":\"X\",\"taskParameter\":\"`), 0xFF, 0xFF, '"', '}', '"', '}')...)
	badFile := writeBytes(t, "bad.txt", bad)
	r = e.fails(ctl.ExitFailed, "import", "-f", badFile, "--time-zone", "UTC")
	assert.Contains(t, r.err, badFile+": line 2: neither UTF-8 nor GBK (give --encoding to say which it is)")
	assert.Empty(t, e.export().TaskTypes, "nothing was written")

	// A GBK line and a UTF-8 line in one file: read as GBK, the UTF-8
	// line would become other characters.
	mixed := writeBytes(t, "mixed.txt", append(gbk(t, lines[0]+"\n"),
		`{"rootPath":"/r","configType":"strategy","name":"Y","value":"{\"strategyName\":\"Y\",\"taskParameter\":\"中国\"}"}`...))
	r = e.fails(ctl.ExitFailed, "import", "-f", mixed, "--time-zone", "UTC")
	assert.Contains(t, r.err, mixed+": mixed encodings: line 2 is UTF-8 and line 1 is not")
	r = e.fails(ctl.ExitFailed, "import", "-f", mixed, "--time-zone", "UTC", "--encoding", "gbk")
	assert.Contains(t, r.err, mixed+": line 2: not valid GBK")
	out := e.ok("import", "-f", gbkFile, "--time-zone", "UTC", "--encoding", "gbk", "--dry-run")
	assert.Contains(t, out, "(java format, gbk)")

	r = e.fails(ctl.ExitUsage, "import", "-f", gbkFile, "--encoding", "latin1")
	assert.Contains(t, r.err, `--encoding "latin1": must be auto, utf-8 or gbk`)
}

// TestImportTimeZone: without --time-zone the crons get this machine's
// zone (here TZ), printed; a zone that does not exist is refused.
func TestImportTimeZone(t *testing.T) {
	e := newEnv(t)
	e.store() // a dry run reads an existing root (it creates none)
	e.vars["TZ"] = "America/New_York"
	f := file(t, "tt.txt", "TASK"+strings.Replace(javaTaskTypes["OrderSync"], `"baseTaskType"`, `"name"`, 1))
	out := e.ok("import", "-f", f, "--dry-run")
	assert.Contains(t, out, "Java task types: crons run in America/New_York (UTC")
	assert.Contains(t, out, "(from TZ)")
	e.ok("import", "-f", f)
	tt, _, err := e.store().TaskType(context.Background(), "OrderSync")
	require.NoError(t, err)
	assert.Equal(t, "America/New_York", tt.TimeZone)

	r := e.otherRoot().fails(ctl.ExitUsage, "import", "-f", f, "--time-zone", "Mars/Olympus")
	assert.Contains(t, r.err, `time zone "Mars/Olympus" (from --time-zone)`)
}

// TestImportPerObject: one invalid object skips only itself: without
// --partial nothing is written and the exit code is 1; --dry-run shows the
// same report; --partial writes the valid ones and still exits 1.
func TestImportPerObject(t *testing.T) {
	e := newEnv(t)
	lines := []string{
		"TASK" + strings.Replace(javaTaskTypes["OrderSync"], `"baseTaskType"`, `"name"`, 1),
		`STRATEGY{"name":"Good","iPList":["127.0.0.1"],"assignNum":1,"kind":"Schedule","taskName":"OrderSync"}`,
		`STRATEGY{"name":"Negative","iPList":["127.0.0.1"],"assignNum":-2,"kind":"Schedule","taskName":"OrderSync"}`,
		`STRATEGY{"name":"Typo","iPList":["127.0.0.1"],"asignNum":1,"kind":"Schedule","taskName":"OrderSync"}`,
		`STRATEGY{"name":"Orphan","iPList":["127.0.0.1"],"assignNum":1,"kind":"Schedule","taskName":"Missing"}`,
	}
	f := file(t, "mixed.txt", strings.Join(lines, "\n"))
	args := []string{"import", "-f", f, "--time-zone", "UTC"}
	check := func(r result, verb string) {
		t.Helper()
		assert.Contains(t, r.out, "taskType OrderSync: "+verb+"\n")
		assert.Contains(t, r.out, "strategy Good: "+verb+"\n")
		assert.Contains(t, r.out, `strategy Negative: skipped: `+f+`: line 3: schedule: strategy "Negative": assignNum (-2) must not be negative`)
		assert.Contains(t, r.out, "skipped: "+f+`: line 4: unknown field "asignNum" (did you mean assignNum?)`)
		assert.Contains(t, r.out, `strategy Orphan: skipped: `+f+`: line 5: strategy "Orphan": taskName "Missing": task type "Missing" is neither in the file nor stored`)
	}
	r := e.fails(ctl.ExitFailed, args...)
	check(r, "would be created")
	assert.Contains(t, r.err, "tbsctl: 3 problem(s); nothing was written (3 object(s) skipped; --partial writes the other 2)")
	assert.Empty(t, e.export().Strategies)

	r = e.fails(ctl.ExitFailed, append(args, "--dry-run", "--partial")...)
	check(r, "would be created")
	assert.Contains(t, r.out, "dry run: nothing was written")
	assert.Empty(t, e.export().Strategies)

	r = e.fails(ctl.ExitFailed, append(args, "--partial")...)
	check(r, "created")
	assert.Contains(t, r.out, "2 created, 0 updated, 0 unchanged, 3 skipped")
	assert.Contains(t, r.err, "tbsctl: 3 problem(s); 3 object(s) skipped, the others were written (--partial)")
	got := e.export()
	require.Len(t, got.Strategies, 1)
	assert.Equal(t, "Good", got.Strategies[0].StrategyName)
	require.Len(t, got.TaskTypes, 1)
}

// TestImportUnreadableWithoutConnecting: a file with nothing readable is
// reported without reaching ZooKeeper.
func TestImportUnreadableWithoutConnecting(t *testing.T) {
	e := &env{t: t, servers: "127.0.0.1:1", root: "/nowhere", vars: map[string]string{}}
	r := e.fails(ctl.ExitFailed, "import", "-f", file(t, "x.txt", `TASK{"name":"a","heartBeatRate":"x"}`))
	assert.Contains(t, r.out, "skipped: ")
	assert.Contains(t, r.err, "heartBeatRate must be a number")
	assert.Contains(t, r.err, "1 problem(s); nothing was written")
}
