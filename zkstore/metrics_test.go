package zkstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/internal/zkreq"
)

// TestRequestFailed: a request counts as failed for the metrics when it
// ended with an error other than an answer its caller expects.
func TestRequestFailed(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"ok", nil, false},
		{"no node", zk.ErrNoNode, false},
		{"node exists", zk.ErrNodeExists, false},
		{"bad version", zk.ErrBadVersion, false},
		{"not empty", zk.ErrNotEmpty, false},
		{"wrapped no node", fmt.Errorf("get /x: %w", zk.ErrNoNode), false},
		{"connection closed", zk.ErrConnectionClosed, true},
		{"no server", zk.ErrNoServer, true},
		{"session expired", zk.ErrSessionExpired, true},
		{"no auth", zk.ErrNoAuth, true},
		{"deadline", context.DeadlineExceeded, true},
		{"other", errors.New("boom"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, requestFailed(tc.err)) })
	}
}

// TestKindNames: every request kind has, for Metrics, the name
// zkreq.Stats.String uses.
func TestKindNames(t *testing.T) {
	var all zkreq.Stats
	all.Get, all.Children, all.Exists, all.Create, all.Set, all.Delete = 1, 1, 1, 1, 1, 1
	all.Multi, all.Sync, all.Watch, all.Probe, all.Auth = 1, 1, 1, 1, 1
	want := ""
	for k := range numKinds {
		assert.NotEmpty(t, kindNames[k], "kind %d", k)
		if want != "" {
			want += " "
		}
		want += kindNames[k] + "=1"
	}
	assert.Equal(t, want, all.String())
}
