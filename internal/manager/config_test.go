package manager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TestManagerConfigZeroMeansDefault: a zero field is its default, negative
// "none" values survive withDefaults (which is idempotent), and the
// processor gets the same meaning: the zero ShutdownTimeout is 30s, not
// "cancel at once", and a task type's zero sleepTimeNoData is no pause.
func TestManagerConfigZeroMeansDefault(t *testing.T) {
	assert.Equal(t, schedule.DefaultManagerConfig(), withDefaults(schedule.ManagerConfig{}))
	none := withDefaults(schedule.ManagerConfig{ShutdownTimeout: -1, CancelGrace: -1, LockDelay: -1})
	assert.Equal(t, time.Duration(-1), none.ShutdownTimeout)
	assert.Equal(t, time.Duration(-1), none.CancelGrace)
	assert.Equal(t, time.Duration(-1), none.LockDelay)
	for _, c := range []schedule.ManagerConfig{{}, none, {IP: "10.0.0.1", StopTimeout: time.Minute}} {
		d := withDefaults(c)
		assert.Equal(t, d, withDefaults(d))
	}

	tt := schedule.DefaultTaskType("t")
	tt.TaskItems, tt.DealBeanName = []string{"0"}, "d"
	for _, tc := range []struct {
		name                                string
		cfg                                 schedule.ManagerConfig
		sleepNoData                         time.Duration
		wantShutdown, wantGrace, wantNoData time.Duration
	}{
		{"zero config", schedule.ManagerConfig{}, 500 * time.Millisecond, 30 * time.Second, time.Second, 500 * time.Millisecond},
		{"none", schedule.ManagerConfig{ShutdownTimeout: -1, CancelGrace: -1}, 0, -1, -1, -1},
		{"set", schedule.ManagerConfig{ShutdownTimeout: time.Minute, CancelGrace: 2 * time.Second}, time.Second, time.Minute, 2 * time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt.SleepTimeNoData = tc.sleepNoData
			pc := processorConfig(tt, "BASE", 1, withDefaults(tc.cfg))
			assert.Equal(t, tc.wantShutdown, pc.ShutdownTimeout)
			assert.Equal(t, tc.wantGrace, pc.CancelGrace)
			assert.Equal(t, tc.wantNoData, pc.SleepTimeNoData)
			require.NoError(t, pc.Validate())
		})
	}
	assert.Equal(t, 7*time.Second, resyncInterval(schedule.ManagerConfig{}, schedule.TaskType{JudgeDeadInterval: 7 * time.Second}))
	assert.Equal(t, time.Second, resyncInterval(schedule.ManagerConfig{ResyncInterval: time.Second}, schedule.TaskType{JudgeDeadInterval: 7 * time.Second}))
}
