package manager_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// failFirstNotesWatch fails the first watch of a note box, as a watch
// armed while the manager is being stopped fails with its context.
type failFirstNotesWatch struct {
	storekit.Store
	failed atomic.Bool
}

func (s *failFirstNotesWatch) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	if scope.Kind == storekit.WatchNotes && s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("watch refused once")
	}
	return s.Store.Watch(ctx, scope)
}

// A note box's watch that fails once leaves no server node behind: the
// manager's session (shared with its factory) lives on, so a registration
// abandoned without unregistering would be a live server that processes
// nothing.
func TestNotesWatchFailureLeavesNoGhostServer(t *testing.T) {
	srv := memstore.New(memstore.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := srv.Connect(memstore.ClientConfig{})
	defer c.Close()
	tt := schedule.DefaultTaskType("ghost")
	tt.DealBeanName = "loadDeal"
	tt.TaskItems = []string{"0", "1"}
	_, err := c.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	m := newLoadManager(t, &failFirstNotesWatch{Store: c}, tt, "ghost", time.Second)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	require.Eventually(t, func() bool { return len(m.Status().Owned) == 2 }, 30*time.Second, time.Millisecond, "the manager never owned its items")
	servers, err := c.Servers(ctx, "ghost")
	require.NoError(t, err)
	require.Len(t, servers, 1, "a registration was left behind")
	cancel()
	require.NoError(t, <-done)
}
