package strategy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// Every documented default, pinned.
func TestDefaultConfig(t *testing.T) {
	c := strategy.DefaultConfig()
	mc := schedule.DefaultManagerConfig()
	assert.Equal(t, mc.IP, c.IP)
	assert.Equal(t, mc.HostName, c.HostName)
	assert.Equal(t, 10*time.Second, c.RefreshInterval)
	assert.Equal(t, time.Minute, c.ShutdownTimeout)
	assert.Equal(t, time.Duration(0), c.FenceAfter)
	assert.Equal(t, time.Second, c.RetryMin)
	assert.Equal(t, 30*time.Second, c.RetryMax)
	assert.Equal(t, 1000, c.EventHistory)
	assert.Zero(t, c.ManagerConfig, "the managers' defaults, applied by each manager")
	assert.Equal(t, 30*time.Second, strategy.DefaultForceWait)
	require.NoError(t, c.Validate())
	require.NoError(t, strategy.Config{}.Validate(), "the zero config is the default")
}

// Validate names every field at fault, all at once.
func TestConfigValidate(t *testing.T) {
	c := strategy.Config{
		IP: "a/b", HostName: "h$", RefreshInterval: -1, ShutdownTimeout: -1, FenceAfter: -time.Second,
		RetryMin: time.Second, RetryMax: time.Millisecond, EventHistory: -1,
		ManagerConfig: schedule.ManagerConfig{StopTimeout: -1},
	}
	err := c.Validate()
	require.Error(t, err)
	assert.True(t, errors.Is(err, schedule.ErrInvalid))
	want := []string{
		"strategy.Config.IP", "strategy.Config.HostName", "strategy.Config.RefreshInterval (-1ns) must not be negative",
		"strategy.Config.ShutdownTimeout (-1ns) must not be negative", "strategy.Config.FenceAfter (-1s) must not be negative",
		"strategy.Config.EventHistory (-1) must not be negative",
		"strategy.Config.RetryMax (1ms) must be at least RetryMin (1s)",
		"strategy.Config.ManagerConfig: schedule: invalid: ManagerConfig.StopTimeout (-1ns) must not be negative",
	}
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
	assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), len(want))
}
