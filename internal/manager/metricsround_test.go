package manager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TestEndedHolds: the holds whose end the leader reports (Metrics.HoldEnded).
func TestEndedHolds(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Second)
	tests := []struct {
		name          string
		before, after map[schedule.ServerID]time.Time
		want          []time.Duration
	}{
		{"none", nil, nil, nil},
		{"a hold begins", nil, map[schedule.ServerID]time.Time{"a": t0}, nil},
		{"a hold goes on", map[schedule.ServerID]time.Time{"a": t0}, map[schedule.ServerID]time.Time{"a": t0}, nil},
		{"a hold ends", map[schedule.ServerID]time.Time{"a": t0}, map[schedule.ServerID]time.Time{}, []time.Duration{10 * time.Second}},
		{"a hold ends, after is nil", map[schedule.ServerID]time.Time{"a": t0.Add(3 * time.Second)}, nil, []time.Duration{7 * time.Second}},
		{"two end, one goes on, one begins",
			map[schedule.ServerID]time.Time{"a": t0, "b": t0.Add(4 * time.Second), "c": t0.Add(time.Second)},
			map[schedule.ServerID]time.Time{"c": t0.Add(time.Second), "d": now},
			[]time.Duration{6 * time.Second, 10 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, endedHolds(tc.before, tc.after, now))
		})
	}
}

// TestNewGrants: the grants a server counts (Metrics.ItemsGranted).
func TestNewGrants(t *testing.T) {
	items := func(epochs map[schedule.ItemID]int64) map[schedule.ItemID]schedule.Item {
		out := map[schedule.ItemID]schedule.Item{}
		for id, e := range epochs {
			out[id] = schedule.Item{ID: id, Epoch: e}
		}
		return out
	}
	tests := []struct {
		name          string
		before, after map[schedule.ItemID]int64
		want          int
	}{
		{"nothing", nil, nil, 0},
		{"first grants", nil, map[schedule.ItemID]int64{"0": 5, "1": 6}, 2},
		{"kept", map[schedule.ItemID]int64{"0": 5}, map[schedule.ItemID]int64{"0": 5}, 0},
		{"lost", map[schedule.ItemID]int64{"0": 5, "1": 6}, map[schedule.ItemID]int64{"1": 6}, 0},
		{"granted again under a new epoch", map[schedule.ItemID]int64{"0": 5}, map[schedule.ItemID]int64{"0": 9}, 1},
		{"one kept, one new", map[schedule.ItemID]int64{"0": 5}, map[schedule.ItemID]int64{"0": 5, "2": 7}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, newGrants(items(tc.before), items(tc.after)))
		})
	}
}
