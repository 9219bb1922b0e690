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
