package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEndedHolds(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Second)
	tests := []struct {
		name          string
		before, after map[ServerID]time.Time
		want          []time.Duration
	}{
		{"none", nil, nil, nil},
		{"a hold begins", nil, map[ServerID]time.Time{"a": t0}, nil},
		{"a hold goes on", map[ServerID]time.Time{"a": t0}, map[ServerID]time.Time{"a": t0}, nil},
		{"a hold ends", map[ServerID]time.Time{"a": t0}, map[ServerID]time.Time{}, []time.Duration{10 * time.Second}},
		{"a hold ends, after is nil", map[ServerID]time.Time{"a": t0.Add(3 * time.Second)}, nil, []time.Duration{7 * time.Second}},
		{"two end, one goes on, one begins",
			map[ServerID]time.Time{"a": t0, "b": t0.Add(4 * time.Second), "c": t0.Add(time.Second)},
			map[ServerID]time.Time{"c": t0.Add(time.Second), "d": now},
			[]time.Duration{6 * time.Second, 10 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, endedHolds(tc.before, tc.after, now))
		})
	}
}
