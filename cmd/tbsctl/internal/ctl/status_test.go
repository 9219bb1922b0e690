package ctl_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
)

// TestStatusNextWindowStart: status says when a task type's permit window
// next opens (in its time zone), or that it is always open.
func TestStatusNextWindowStart(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "w.yaml", `
taskTypes:
  - {baseTaskType: nightly, dealBeanName: idle, taskItems: ["0"], permitRunStartTime: "0 0 2 * * ?", permitRunEndTime: "0 0 4 * * ?", timeZone: Asia/Shanghai}
  - {baseTaskType: always, dealBeanName: idle, taskItems: ["0"]}
`))
	var doc struct {
		At        time.Time
		TaskTypes []struct {
			BaseTaskType    string
			NextWindowStart *time.Time
		}
	}
	require.NoError(t, json.Unmarshal([]byte(e.ok("status", "-o", "json")), &doc))
	// 02:00 in Shanghai (UTC+8, no daylight saving) is 18:00 UTC.
	at := doc.At.UTC()
	want := time.Date(at.Year(), at.Month(), at.Day(), 18, 0, 0, 0, time.UTC)
	if !want.After(at) {
		want = want.AddDate(0, 0, 1)
	}
	require.Len(t, doc.TaskTypes, 2)
	assert.Nil(t, doc.TaskTypes[0].NextWindowStart, "always")
	require.NotNil(t, doc.TaskTypes[1].NextWindowStart, "nightly")
	assert.Equal(t, want, doc.TaskTypes[1].NextWindowStart.UTC())

	text := e.ok("status")
	assert.Contains(t, text, "\ntaskType always: always open (no permit window)\n")
	assert.Contains(t, text, "\ntaskType nightly: next window start "+want.Format("2006-01-02T15:04:05.000Z")+"\n")
}

// TestDoctorBeanShortfallWords: a Bean strategy's shortfall speaks of
// copies of the Bean, not of thread groups (which only Schedule has).
func TestDoctorBeanShortfallWords(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "bean.json", `{"strategyName":"nobean","kind":"Bean","taskName":"missingBean","assignNum":1}`))
	e.startFactory("10.0.0.1", "worker-1")
	waitFor(t, 30*time.Second, "the factory reports it cannot start the Bean", func() bool {
		return strings.Contains(e.ok("strategies"), "missingBean")
	})
	fs := e.doctor(ctl.ExitFailed)
	st := findingsOf(fs, "strategy")
	require.Len(t, st, 1, "%+v", fs)
	assert.Contains(t, st[0].Detail, "factory runs 0 of the 1 copies of the Bean asked of it: ")
	assert.NotContains(t, st[0].Detail, "thread group")
}
