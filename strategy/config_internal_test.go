package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestZeroMeansDefault: a zero field of Config or AdminConfig is its
// default, set fields are kept, and withDefaults is idempotent.
func TestZeroMeansDefault(t *testing.T) {
	assert.Equal(t, DefaultConfig(), Config{}.withDefaults())
	c := Config{}.withDefaults()
	assert.NotEmpty(t, c.IP)
	assert.NotEmpty(t, c.HostName)
	assert.Equal(t, c, c.withDefaults())
	set := Config{IP: "10.0.0.1", HostName: "h", RefreshInterval: time.Second, ShutdownTimeout: time.Second,
		RetryMin: time.Minute, EventHistory: 3}.withDefaults()
	assert.Equal(t, Config{IP: "10.0.0.1", HostName: "h", RefreshInterval: time.Second, ShutdownTimeout: time.Second,
		RetryMin: time.Minute, RetryMax: time.Minute, EventHistory: 3}, set, "RetryMax is at least RetryMin")

	a := AdminConfig{}.withDefaults()
	assert.Contains(t, a.Operator, "@")
	assert.Equal(t, DefaultForceWait, a.ForceWait)
	assert.Equal(t, a, a.withDefaults())
	assert.Equal(t, AdminConfig{Operator: "ops", ForceWait: -1}, AdminConfig{Operator: "ops", ForceWait: -1}.withDefaults(),
		"negative: no wait")
}
