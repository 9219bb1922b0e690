package ctl

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// fakeConfig is a stored configuration for planImport.
type fakeConfig struct {
	tts map[string]schedule.TaskType
	sts map[string]schedule.Strategy
}

func (f fakeConfig) TaskType(_ context.Context, name string) (schedule.TaskType, schedule.Version, error) {
	if t, ok := f.tts[name]; ok {
		return t, 1, nil
	}
	return schedule.TaskType{}, 0, schedule.ErrNotFound
}

func (f fakeConfig) Strategy(_ context.Context, name string) (schedule.Strategy, schedule.Version, error) {
	if s, ok := f.sts[name]; ok {
		return s, 1, nil
	}
	return schedule.Strategy{}, 0, schedule.ErrNotFound
}

// TestPlanImport: each object is decided on its own; a strategy follows
// its task type's fate; an existing object that differs is skipped unless
// force.
func TestPlanImport(t *testing.T) {
	tt := func(name string, edit func(*schedule.TaskType)) entry {
		v := schedule.DefaultTaskType(name)
		v.DealBeanName, v.TaskItems = "d", []string{"0"}
		if edit != nil {
			edit(&v)
		}
		return entry{where: "f: " + name, tt: &v, hasSts: true}
	}
	st := func(name, task string, edit func(*schedule.Strategy)) entry {
		v := schedule.DefaultStrategy(name)
		v.TaskName = task
		if edit != nil {
			edit(&v)
		}
		return entry{where: "f: " + name, st: &v, hasSts: true}
	}
	stored := fakeConfig{
		tts: map[string]schedule.TaskType{"kept": *tt("kept", nil).tt},
		sts: map[string]schedule.Strategy{"changed": *st("changed", "kept", nil).st},
	}
	es := []entry{
		st("follows-bad", "bad", nil),
		tt("bad", func(v *schedule.TaskType) { v.ThreadNumber = 0 }),
		tt("good", nil),
		st("on-good", "good", nil),
		st("on-stored", "kept", nil),
		st("on-nothing", "nowhere", nil),
		st("changed", "kept", func(v *schedule.Strategy) { v.AssignNum = 5 }),
		st("on-good", "good", nil),
	}
	es[len(es)-1].where = "f: again"
	verdict := func(force bool) map[string]string {
		outs := checkImport(es)
		require.NoError(t, planImport(context.Background(), stored, outs, force))
		got := map[string]string{}
		for _, u := range outs {
			v := plannedVerb(u.plan)
			if u.skipped() {
				v = "skipped: " + joinErrs(u.problems)
			}
			got[u.kind()+" "+u.where] = v
		}
		return got
	}
	got := verdict(false)
	assert.Equal(t, "created", got["taskType f: good"])
	assert.Contains(t, got["taskType f: bad"], "skipped: f: bad: schedule: taskType \"bad\": threadNumber (0) must be at least 1")
	assert.Equal(t, `skipped: f: follows-bad: strategy "follows-bad": its task type "bad" is skipped`, got["strategy f: follows-bad"])
	assert.Equal(t, "created", got["strategy f: on-stored"])
	assert.Equal(t, `skipped: f: on-nothing: strategy "on-nothing": taskName "nowhere": task type "nowhere" is neither in the file nor stored`, got["strategy f: on-nothing"])
	assert.Equal(t, `skipped: f: changed: strategy "changed" exists and differs (assignNum 1 -> 5): use --force to overwrite`, got["strategy f: changed"])
	assert.Equal(t, "created", got["strategy f: on-good"])
	assert.Equal(t, `skipped: f: again: strategy "on-good" is also defined at f: on-good`, got["strategy f: again"], "the second definition is skipped")

	got = verdict(true)
	assert.Equal(t, "updated: assignNum 1 -> 5", got["strategy f: changed"])
}
