package schedule

import (
	"errors"
	"fmt"
	"testing"
)

func TestAgainAtOnce(t *testing.T) {
	lost := fmt.Errorf("register: %w", ErrSessionLost)
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
		{"closed", ErrClosed, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := againAtOnce(tc.err, tc.served); got != tc.want {
				t.Errorf("againAtOnce(%v, %v) = %v, want %v", tc.err, tc.served, got, tc.want)
			}
		})
	}
}
