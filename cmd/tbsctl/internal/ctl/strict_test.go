package ctl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// typoYAML has the mistakes a user reported: mis-cased and shortened field
// names that the library's reader would silently drop, leaving the
// defaults (an IPList that admits every host).
const typoYAML = `taskTypes:
  - baseTaskType: orders
    dealBeanName: idle
    heartbeatRate: 1000
    threadNum: 4
    taskItems: ["0", "1"]
strategies:
  - strategyName: orders-base
    kind: Schedule
    taskName: orders
    assignNum: 2
    ipList: ["10.0.0.9"]
`

// TestApplyRejectsUnknownFields: apply and import refuse a file with an
// unknown or mis-cased field, name it with its line (and column) and the
// nearest known name, and write nothing.
func TestApplyRejectsUnknownFields(t *testing.T) {
	e := newEnv(t)
	f := file(t, "typo.yaml", typoYAML)
	for _, args := range [][]string{{"apply", "-f", f}, {"import", "-f", f}, {"apply", "--dry-run", "-f", f}} {
		r := e.fails(ctl.ExitFailed, args...)
		assert.Contains(t, r.err, f+`: taskTypes[0]: line 4, column 5: unknown field "heartbeatRate" (did you mean heartBeatRate?)`, "%q", args)
		assert.Contains(t, r.err, f+`: taskTypes[0]: line 5, column 5: unknown field "threadNum" (did you mean threadNumber?)`, "%q", args)
		assert.Contains(t, r.err, f+`: strategies[0]: line 12, column 5: unknown field "ipList" (did you mean IPList?)`, "%q", args)
		assert.Contains(t, r.err, "tbsctl: 3 problem(s); nothing was written", "%q", args)
	}
	_, _, err := e.store().Strategy(context.Background(), "orders-base")
	assert.ErrorIs(t, err, schedule.ErrNotFound, "nothing was written")

	// JSON: the same, with line and column of the key; a key far from every
	// known name gets no suggestion.
	j := file(t, "typo.json", "{\"strategyName\": \"s\", \"taskName\": \"orders\",\n  \"IPlist\": [\"h1\"], \"colour\": 1}")
	r := e.fails(ctl.ExitFailed, "apply", "-f", j)
	assert.Contains(t, r.err, j+`: line 2, column 3: unknown field "IPlist" (did you mean IPList?)`)
	assert.Contains(t, r.err, j+`: line 2, column 21: unknown field "colour"`+"\n")

	// The Java console's lines: the line of the record is named.
	java := file(t, "java.txt", `{"rootPath":"/r","configType":"strategy","name":"s","value":"{\"strategyName\":\"s\",\"taskName\":\"orders\",\"iplist\":[\"h\"]}"}`+"\n")
	r = e.fails(ctl.ExitFailed, "import", "-f", java)
	assert.Contains(t, r.err, java+`: line 1: unknown field "iplist" (did you mean IPList?)`)

	// A syntax error names its line and column.
	bad := file(t, "bad.json", "{\"taskTypes\": [{\"baseTaskType\": \"x\",\n \"threadNumber\": 4,,}]}")
	r = e.fails(ctl.ExitFailed, "apply", "-f", bad)
	assert.Contains(t, r.err, bad+": not valid JSON (document 1): line 2, column 19: invalid character ','")
	cut := file(t, "cut.json", "{\"strategyName\": \"s\",\n")
	r = e.fails(ctl.ExitFailed, "apply", "-f", cut)
	assert.Contains(t, r.err, cut+": not valid JSON (document 1): line 2, column 1: unexpected end of the file")

	// The correct spelling is applied as before.
	fixed := strings.NewReplacer("heartbeatRate", "heartBeatRate", "threadNum", "threadNumber", "ipList", "IPList").Replace(typoYAML)
	assert.Contains(t, e.ok("apply", "-f", file(t, "fixed.yaml", fixed)), "2 created")
	st, _, err := e.store().Strategy(context.Background(), "orders-base")
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.9"}, st.IPList)
}

// TestProblemCountAndMessages: each problem is counted once; an unknown time
// zone is said once; pause given a task type says what it takes.
func TestProblemCountAndMessages(t *testing.T) {
	e := newEnv(t)
	f := file(t, "tz.json", `{"baseTaskType": "tz", "dealBeanName": "d", "timeZone": "Mars/Base", "threadNumber": 0}`)
	r := e.fails(ctl.ExitFailed, "apply", "-f", f)
	assert.Equal(t, "tbsctl: "+f+`: line 1, column 70: schedule: taskType "tz": threadNumber (0) must be at least 1`+"\n"+
		"tbsctl: "+f+`: line 1, column 45: schedule: taskType "tz": timeZone "Mars/Base": not a time zone this host knows (an IANA name such as "Asia/Shanghai")`+"\n"+
		"tbsctl: "+f+`: schedule: taskType "tz": taskItems must not be empty`+"\n"+
		"tbsctl: 3 problem(s); nothing was written\n", r.err)

	// A field of the wrong type names its place too (YAML here).
	y := file(t, "type.yaml", "baseTaskType: x\ndealBeanName: d\ntaskItems: [\"0\"]\nthreadNumber: four\n")
	r = e.fails(ctl.ExitFailed, "apply", "-f", y)
	assert.Equal(t, "tbsctl: "+y+`: line 4, column 1: schedule: taskType "x": threadNumber must be a number, got string`+"\n"+
		"tbsctl: 1 problem(s); nothing was written\n", r.err)

	e.ok("apply", "-f", file(t, "rt.yaml", runtimeYAML))
	r = e.fails(ctl.ExitFailed, "pause", "orders")
	assert.Equal(t, `tbsctl: pause: strategy "orders" does not exist under `+e.root+
		`; "orders" is a task type; this command takes a strategy: the strategies running it are orders-base`+"\n", r.err)
	r = e.fails(ctl.ExitFailed, "resume", "nosuch")
	assert.Equal(t, `tbsctl: resume: strategy "nosuch" does not exist under `+e.root+`; "tbsctl strategies" lists the strategies`+"\n", r.err)
}

// TestHelpOnce: --help prints the help once, on standard output.
func TestHelpOnce(t *testing.T) {
	e := &env{t: t, vars: map[string]string{}}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"status", "--help"}} {
		r := e.run(args...)
		assert.Equal(t, 0, r.code, "%q", args)
		assert.Equal(t, 1, strings.Count(r.out, "Usage: tbsctl"), "%q: %s", args, r)
		assert.Empty(t, r.err, "%q", args)
	}
}

// TestDoctorReportsStoredUnknownFields: stored nodes are read leniently
// (another version may add fields), but doctor names the fields it does
// not know: a mis-cased one as a problem (the library uses the default in
// its place), any other as a warning.
func TestDoctorReportsStoredUnknownFields(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "rt.yaml", runtimeYAML))
	conn, _ := zktest.Shared(t).Connect(t, nil, 2*time.Second)
	_, err := conn.Set(e.root+"/strategy/orders-base",
		[]byte(`{"strategyName":"orders-base","kind":"Schedule","taskName":"orders","assignNum":1,"ipList":["10.0.0.9"],"sts":"pause"}`), -1)
	require.NoError(t, err)
	tt, _, err := conn.Get(e.root + "/baseTaskType/orders")
	require.NoError(t, err)
	_, err = conn.Set(e.root+"/baseTaskType/orders", append(tt[:len(tt)-1], []byte(`,"retryPolicy":"fast"}`)...), -1)
	require.NoError(t, err)

	// The library still reads both.
	st := e.ok("get", "strategy", "orders-base")
	assert.Contains(t, st, `"IPList": [`+"\n"+`    "127.0.0.1"`, "the mis-cased field is ignored")

	r := e.fails(ctl.ExitFailed, "doctor")
	assert.Contains(t, r.out, "PROBLEM [unknown field] "+e.root+`/strategy/orders-base: unknown field "ipList" (did you mean IPList?): tbschedule-go ignores it and uses the default of IPList`+"\n")
	assert.Contains(t, r.out, "WARNING [unknown field] "+e.root+`/baseTaskType/orders: unknown field "retryPolicy": tbschedule-go ignores it (written by another version or by hand?)`+"\n")
	assert.Contains(t, r.out, "1 problem(s) found; 1 warning(s)\n")

	// With the typo fixed, the warning alone does not fail doctor.
	_, err = conn.Set(e.root+"/strategy/orders-base",
		[]byte(`{"strategyName":"orders-base","kind":"Schedule","taskName":"orders","assignNum":1,"IPList":["10.0.0.9"],"sts":"pause"}`), -1)
	require.NoError(t, err)
	r = e.run("doctor")
	assert.Equal(t, ctl.ExitOK, r.code, "%s", r)
	assert.Contains(t, r.out, "no problems found; 1 warning(s)\n")
}
