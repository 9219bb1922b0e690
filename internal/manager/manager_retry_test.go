package manager

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestAgainAtOnce(t *testing.T) {
	lost := fmt.Errorf("register: %w", schedule.ErrSessionLost)
	gone := fmt.Errorf("heartbeat: %w", errRegistrationLost)
	tests := []struct {
		name   string
		err    error
		served bool
		want   bool
	}{
		{"session lost after registering", lost, true, true},
		{"registration lost after registering", gone, true, true},
		// A store that keeps handing out a dead session must not be asked
		// again at once, forever.
		{"session lost before registering", lost, false, false},
		{"registration lost before registering", gone, false, false},
		{"other failure", errors.New("connection loss"), true, false},
		{"closed", schedule.ErrClosed, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := againAtOnce(tc.err, tc.served); got != tc.want {
				t.Errorf("againAtOnce(%v, %v) = %v, want %v", tc.err, tc.served, got, tc.want)
			}
		})
	}
}

func TestRetryAtOnce(t *testing.T) {
	tests := []struct {
		name        string
		r           retryKind
		racesInARow int
		want        bool
	}{
		{"nothing asked", retryNone, 0, false},
		{"a lost race", retryRace, 0, true},
		{"lost races, below the limit", retryRace, raceRoundsAtOnce - 1, true},
		// A race lost again and again must not spin the loop.
		{"lost races, at the limit", retryRace, raceRoundsAtOnce, false},
		{"anything else waits for the backoff", retryLater, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryAtOnce(tc.r, tc.racesInARow); got != tc.want {
				t.Errorf("retryAtOnce(%v, %d) = %v, want %v", tc.r, tc.racesInARow, got, tc.want)
			}
		})
	}
}
