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
	assert.Equal(t, mc, c.ManagerConfig)
	assert.Equal(t, 30*time.Second, strategy.DefaultForceWait)
	require.NoError(t, c.Validate())
}

// Validate names every field at fault, all at once.
func TestConfigValidate(t *testing.T) {
	c := strategy.Config{
		IP: "a/b", HostName: "", RefreshInterval: -1, ShutdownTimeout: 0, FenceAfter: -time.Second,
		RetryMin: time.Second, RetryMax: time.Millisecond,
		ManagerConfig: schedule.ManagerConfig{ShutdownTimeout: -1},
	}
	err := c.Validate()
	require.Error(t, err)
	assert.True(t, errors.Is(err, schedule.ErrInvalid))
	for _, want := range []string{
		"Config.IP", "Config.HostName must not be empty", "Config.RefreshInterval (-1ns) must be positive",
		"Config.ShutdownTimeout (0s) must be positive", "Config.FenceAfter (-1s) must not be negative",
		"Config.RetryMax (1ms) must be at least RetryMin (1s)", "Config.ManagerConfig: schedule: invalid: ManagerConfig.ShutdownTimeout (-1ns) must not be negative",
	} {
		assert.Contains(t, err.Error(), want)
	}
}
