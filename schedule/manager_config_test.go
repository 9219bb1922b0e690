package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultManagerConfig(t *testing.T) {
	c := DefaultManagerConfig()
	require.NoError(t, c.Validate())
	assert.NotEmpty(t, c.IP)
	assert.Equal(t, 30*time.Second, c.ShutdownTimeout)
	assert.Equal(t, time.Second, c.CancelGrace)
	assert.Equal(t, 10*time.Second, c.StopTimeout)
	assert.Equal(t, 32, c.WriteParallelism)
	assert.Zero(t, c.FenceAfter, "zero: a third of the session timeout")
	assert.Zero(t, c.ResyncInterval, "zero: the task type's judgeDeadInterval")
}

func TestManagerConfigValidate(t *testing.T) {
	c := ManagerConfig{IP: "a/b", HostName: "h$x", StopTimeout: -1, FenceAfter: -1, ResyncInterval: -1, WriteParallelism: -1}
	err := c.Validate()
	require.Error(t, err)
	for _, field := range []string{"IP", "HostName", "StopTimeout", "FenceAfter", "ResyncInterval", "WriteParallelism"} {
		assert.Contains(t, err.Error(), "ManagerConfig."+field)
	}
	assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 6)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.NoError(t, ManagerConfig{}.Validate(), "the zero config is the default")
	assert.NoError(t, ManagerConfig{ShutdownTimeout: -1, CancelGrace: -1, LockDelay: -1}.Validate(), "negative: none")
}

// TestManagerConfigZeroMeansDefault: a zero field is its default, negative
// "none" values survive withDefaults (which is idempotent), and the
// processor gets the same meaning: the zero ShutdownTimeout is 30s, not
// "cancel at once", and a task type's zero sleepTimeNoData is no pause.
func TestManagerConfigZeroMeansDefault(t *testing.T) {
	assert.Equal(t, DefaultManagerConfig(), ManagerConfig{}.withDefaults())
	none := ManagerConfig{ShutdownTimeout: -1, CancelGrace: -1, LockDelay: -1}.withDefaults()
	assert.Equal(t, time.Duration(-1), none.ShutdownTimeout)
	assert.Equal(t, time.Duration(-1), none.CancelGrace)
	assert.Equal(t, time.Duration(-1), none.LockDelay)
	for _, c := range []ManagerConfig{{}, none, {IP: "10.0.0.1", StopTimeout: time.Minute}} {
		d := c.withDefaults()
		assert.Equal(t, d, d.withDefaults())
	}

	tt := DefaultTaskType("t")
	tt.TaskItems, tt.DealBeanName = []string{"0"}, "d"
	for _, tc := range []struct {
		name                                string
		cfg                                 ManagerConfig
		sleepNoData                         time.Duration
		wantShutdown, wantGrace, wantNoData time.Duration
	}{
		{"zero config", ManagerConfig{}, 500 * time.Millisecond, 30 * time.Second, time.Second, 500 * time.Millisecond},
		{"none", ManagerConfig{ShutdownTimeout: -1, CancelGrace: -1}, 0, -1, -1, -1},
		{"set", ManagerConfig{ShutdownTimeout: time.Minute, CancelGrace: 2 * time.Second}, time.Second, time.Minute, 2 * time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt.SleepTimeNoData = tc.sleepNoData
			pc := processorConfig(tt, "BASE", 1, tc.cfg.withDefaults())
			assert.Equal(t, tc.wantShutdown, pc.ShutdownTimeout)
			assert.Equal(t, tc.wantGrace, pc.CancelGrace)
			assert.Equal(t, tc.wantNoData, pc.SleepTimeNoData)
			require.NoError(t, pc.Validate())
		})
	}
	assert.Equal(t, 7*time.Second, ManagerConfig{}.resyncInterval(TaskType{JudgeDeadInterval: 7 * time.Second}))
	assert.Equal(t, time.Second, ManagerConfig{ResyncInterval: time.Second}.resyncInterval(TaskType{JudgeDeadInterval: 7 * time.Second}))
}
