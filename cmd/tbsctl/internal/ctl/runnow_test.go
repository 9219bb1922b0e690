package ctl_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
)

const runNowYAML = `
taskTypes:
  - baseTaskType: nightly
    dealBeanName: idle
    heartBeatRate: 200
    judgeDeadInterval: 2000
    sleepTimeNoData: 50
    threadNumber: 1
    permitRunStartTime: "0 0 2 * * ?"
    permitRunEndTime: "0 0 3 * * ?"
    taskItems: ["0", "1"]
  - baseTaskType: always
    dealBeanName: idle
    taskItems: ["0"]
strategies:
  - strategyName: nightly-base
    kind: Schedule
    taskName: nightly
    assignNum: 1
    IPList: ["127.0.0.1"]
`

// TestRunNowCommand: run-now records who asked and when, says what the
// thread groups will do, and refuses unknown names (with the nearest
// name), task types without a window and Bean strategies.
func TestRunNowCommand(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "rn.yaml", runNowYAML))

	out := e.ok("run-now", "nightly")
	stamp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
	assert.Regexp(t, regexp.MustCompile(`^run-now nightly: task type nightly, asked by \S+ at `+stamp+"\n"), out)
	assert.Contains(t, out, "  no thread group runs it now: nothing runs until one starts in this cycle\n")

	e.startFactory("127.0.0.1", "worker-1")
	waitFor(t, 30*time.Second, "a thread group with its window closed", func() bool {
		for _, tt := range e.status("nightly").TaskTypes {
			for _, rt := range tt.Runtimes {
				if len(rt.Servers) == 1 {
					return true
				}
			}
		}
		return false
	})
	out = e.ok("run-now", "nightly-base", "--by", "console user op")
	assert.Contains(t, out, "run-now nightly-base: task type nightly, asked by console user op at ")
	assert.Contains(t, out, "  nightly: 1 thread group(s): ")
	assert.Contains(t, e.ok("status", "nightly"), "; last run-now by ")
	doctor := e.run("doctor")
	assert.NotContains(t, doctor.out, "runNow", "doctor knows the run-now fields:\n%s", doctor)
	exported := file(t, "export.json", e.ok("export"))
	assert.Contains(t, e.ok("import", "-f", exported, "--force"), "nightly", "an export with a run-now request imports again")
	tree := e.ok("tree")
	assert.Contains(t, tree, `"runNowBy"`, "the tree shows the request")
	assert.Contains(t, tree, `"runNowAt"`)

	r := e.fails(ctl.ExitFailed, "run-now", "nightly-bse")
	assert.Equal(t, `tbsctl: run-now: strategy or task type "nightly-bse" does not exist under `+e.root+
		"; did you mean nightly-base?\n", r.err)
	r = e.fails(ctl.ExitFailed, "run-now", "always")
	assert.True(t, strings.HasPrefix(r.err, `tbsctl: run-now: `), r.err)
	assert.Contains(t, r.err, `task type "always" has no permit window (permitRunStartTime is empty): its thread groups always run`)
	r = e.fails(ctl.ExitUsage, "run-now")
	assert.Contains(t, r.err, "run-now")
	require.Empty(t, e.fails(ctl.ExitUsage, "run-now", "a", "b").out)
}
