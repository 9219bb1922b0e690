package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/internal/dealrun"
	"github.com/tbschedule/tbschedule-go/processor"
)

// TestDefaultConfig pins every documented default.
func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	assert.Equal(t, processor.Sleep, c.Type)
	assert.Equal(t, 5, c.ThreadNumber)
	assert.Equal(t, 500, c.FetchDataNumber)
	assert.Equal(t, 1, c.ExecuteNumber)
	assert.Equal(t, 500*time.Millisecond, c.SleepTimeNoData)
	assert.Equal(t, time.Duration(0), c.SleepTimeInterval)
	assert.Equal(t, 5*time.Second, c.ShutdownTimeout)
	assert.Equal(t, time.Second, c.CancelGrace)
	assert.Equal(t, "BASE", c.OwnSign)
	assert.Equal(t, "", c.TaskParameter)
	assert.Equal(t, 0, c.TaskItemNum)
	assert.Equal(t, -1, c.FetchDataCountEachSchedule)
	assert.False(t, c.PauseWhenNoData)
	assert.Nil(t, c.OnNoData)
	assert.Nil(t, c.OnPause)
	assert.Equal(t, 100*time.Millisecond, c.RetryMin)
	assert.Equal(t, 30*time.Second, c.RetryMax)
	require.NoError(t, c.Validate())
}

// TestZeroMeansDefault: a zero field is its default, the zero Config is
// DefaultConfig, negative "none" values survive, and withDefaults is
// idempotent (its result means what its input meant).
func TestZeroMeansDefault(t *testing.T) {
	assert.Equal(t, DefaultConfig(), Config{}.withDefaults())
	none := Config{SleepTimeNoData: -1, ShutdownTimeout: -1, CancelGrace: -1}.withDefaults()
	assert.Equal(t, time.Duration(-1), none.SleepTimeNoData)
	assert.Equal(t, time.Duration(-1), none.ShutdownTimeout)
	assert.Equal(t, time.Duration(-1), none.CancelGrace)
	for _, c := range []Config{{}, none, {ThreadNumber: 2, RetryMin: time.Minute}} {
		d := c.withDefaults()
		assert.Equal(t, d, d.withDefaults())
	}
}

// TestRetryPolicyZeroMeansDefault: a Config built field by field (as the
// manager builds it) gets the documented backoff of failed records.
func TestRetryPolicyZeroMeansDefault(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		want     dealrun.RetryPolicy
	}{
		{"both zero", 0, 0, dealrun.RetryPolicy{Min: 100 * time.Millisecond, Max: 30 * time.Second}},
		{"min set", time.Second, 0, dealrun.RetryPolicy{Min: time.Second, Max: 30 * time.Second}},
		{"min above the default max", time.Minute, 0, dealrun.RetryPolicy{Min: time.Minute, Max: time.Minute}},
		{"max set", 0, time.Second, dealrun.RetryPolicy{Min: 100 * time.Millisecond, Max: time.Second}},
		{"both set", time.Millisecond, 2 * time.Millisecond, dealrun.RetryPolicy{Min: time.Millisecond, Max: 2 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{RetryMin: tt.min, RetryMax: tt.max}
			assert.Equal(t, tt.want, c.withDefaults().retryPolicy())
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings, one per expected problem
	}{
		{"default", func(*Config) {}, nil},
		{"notsleep", func(c *Config) { c.Type = processor.NotSleep }, nil},
		{"type", func(c *Config) { c.Type = "sleep" }, []string{`Config.Type ("sleep")`}},
		{"threads", func(c *Config) { c.ThreadNumber = -2 }, []string{"Config.ThreadNumber (-2) must be at least 1"}},
		{"threads zero is the default", func(c *Config) { c.ThreadNumber = 0 }, nil},
		{"fetch", func(c *Config) { c.FetchDataNumber = -3 }, []string{"Config.FetchDataNumber (-3)"}},
		{"execute", func(c *Config) { c.ExecuteNumber = -1 }, []string{"Config.ExecuteNumber (-1)"}},
		{"sleeps", func(c *Config) { c.SleepTimeNoData, c.SleepTimeInterval = -1, -time.Second },
			[]string{"Config.SleepTimeInterval (-1s)"}},
		{"negative timeouts mean none", func(c *Config) { c.ShutdownTimeout, c.CancelGrace = -1, -1 }, nil},
		{"itemnum", func(c *Config) { c.TaskItemNum = -1 }, []string{"Config.TaskItemNum (-1)"}},
		{"fetchcount", func(c *Config) { c.FetchDataCountEachSchedule = -2 }, []string{"Config.FetchDataCountEachSchedule (-2)"}},
		{"fetchcount zero ok", func(c *Config) { c.FetchDataCountEachSchedule = 0 }, nil},
		{"retry zero ok", func(c *Config) { c.RetryMin, c.RetryMax = 0, 0 }, nil},
		{"retry negative", func(c *Config) { c.RetryMin, c.RetryMax = -1, -time.Second },
			[]string{"Config.RetryMin (-1ns) must not be negative", "Config.RetryMax (-1s) must not be negative"}},
		{"retry max below min", func(c *Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond },
			[]string{"Config.RetryMax (1ms) must be at least processor.Config.RetryMin (1s)"}},
		{"retry max below default min", func(c *Config) { c.RetryMin, c.RetryMax = 0, time.Millisecond },
			[]string{"Config.RetryMax (1ms) must be at least processor.Config.RetryMin (100ms)"}},
		{"zero config", func(c *Config) { *c = Config{} }, nil},
		{"all at once", func(c *Config) {
			*c = Config{Type: "x", ThreadNumber: -1, FetchDataNumber: -1, ExecuteNumber: -1, SleepTimeInterval: -1}
		},
			[]string{"Config.Type", "Config.ThreadNumber (-1)", "Config.FetchDataNumber (-1)", "Config.ExecuteNumber (-1)", "Config.SleepTimeInterval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, errInvalid)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), len(tt.want))
		})
	}
}

func TestNewErrors(t *testing.T) {
	sel := func(context.Context, processor.SelectRequest) ([]int, error) { return nil, nil }
	exec := func(context.Context, int, string) error { return nil }
	type order struct{ ID int64 }
	type named int64
	tests := []struct {
		name string
		deal processor.Deal
		typ  processor.Type
		want error
		in   string
	}{
		{"sleep ok", processor.SingleFunc(sel, exec), processor.Sleep, nil, ""},
		{"nil deal", nil, processor.Sleep, errInvalid, "nil deal"},
		{"nil single", processor.Single[int](nil), processor.Sleep, errInvalid, "Single: nil deal"},
		{"nil multi", processor.Multi[int](nil), processor.Sleep, errInvalid, "Multi: nil deal"},
		{"nil funcs", processor.SingleFunc[int](nil, exec), processor.Sleep, errInvalid, "SingleFunc"},
		{"nil multi funcs", processor.MultiFunc[int](sel, nil), processor.Sleep, errInvalid, "MultiFunc"},
		{"notsleep int auto key", processor.SingleFunc(sel, exec), processor.NotSleep, nil, ""},
		{"notsleep struct no key", processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]order, error) { return nil, nil },
			func(context.Context, order, string) error { return nil }), processor.NotSleep, errInvalid, "single deal of engine.order (key: none)"},
		{"notsleep struct with key", processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]order, error) { return nil, nil },
			func(context.Context, order, string) error { return nil }, processor.WithKey(func(o order) int64 { return o.ID })), processor.NotSleep, nil, ""},
		{"notsleep pointer no key", processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]*order, error) { return nil, nil },
			func(context.Context, *order, string) error { return nil }), processor.NotSleep, errInvalid, "*engine.order"},
		{"notsleep named int auto key", processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]named, error) { return nil, nil },
			func(context.Context, named, string) error { return nil }), processor.NotSleep, nil, ""},
		{"notsleep nil key", processor.SingleFunc(sel, exec, processor.WithKey[int, int](nil)), processor.NotSleep, errInvalid, "nil WithKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Type = tt.typ
			p, err := New(tt.deal, cfg)
			if tt.want == nil {
				require.NoError(t, err)
				require.NotNil(t, p)
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "%v", err)
			assert.Contains(t, err.Error(), tt.in)
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	type order struct{ ID int64 }
	d := processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]order, error) { return nil, nil }, nil)
	cfg := DefaultConfig()
	cfg.Type, cfg.ThreadNumber = processor.NotSleep, -1
	_, err := New(d, cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, errInvalid)
	assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 3, "nil function, ThreadNumber, no key: %v", err)
	assert.Contains(t, err.Error(), "Config.ThreadNumber")
	assert.Contains(t, err.Error(), "SingleFunc: nil function")
}

func TestProcessorString(t *testing.T) {
	sel := func(context.Context, processor.SelectRequest) ([]string, error) { return nil, nil }
	d := processor.MultiFunc(sel, func(context.Context, []string, string) error { return nil })
	p, err := New(d, DefaultConfig())
	require.NoError(t, err)
	assert.Equal(t, "SLEEP processor of a multi deal of string (key: the record itself)", p.String())
}
