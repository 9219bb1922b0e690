package zkstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TestWatchHonoursContextWhileArming: the hub holds its arming lock across
// ZooKeeper calls (re-arming after a reconnect can take seconds while a
// connection hangs). A Watch that waits for that lock returns its
// context's error when the context ends, leaves no subscriber behind, and
// a later Watch arms once the lock is free.
func TestWatchHonoursContextWhileArming(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth))
	ctx := ctxT(t, time.Minute)
	_, err := s.CreateTaskType(ctx, sampleTaskType("t1", 2))
	require.NoError(t, err)
	scope := schedule.WatchScope{Kind: schedule.WatchServers, Name: "t1"}

	h := s.hub
	require.NoError(t, h.armMu.lock(ctx)) // as the hub does while re-arming
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	type result struct {
		ch  <-chan struct{}
		err error
	}
	got := make(chan result, 1)
	go func() {
		ch, err := s.Watch(short, scope)
		got <- result{ch, err}
	}()
	var r result
	select {
	case r = <-got:
	case <-ctx.Done():
		h.armMu.unlock()
		t.Fatal("Watch waited for the arming lock past its context's deadline")
	}
	h.armMu.unlock()
	require.ErrorIs(t, r.err, context.DeadlineExceeded)
	assert.Nil(t, r.ch)
	h.mu.Lock()
	_, left := h.scopes[scope]
	h.mu.Unlock()
	assert.False(t, left, "the abandoned Watch left its scope subscribed")

	ch, err := s.Watch(ctx, scope)
	require.NoError(t, err, "Watch once the lock is free")
	require.NotNil(t, ch)
}
