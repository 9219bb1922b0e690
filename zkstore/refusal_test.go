package zkstore

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// TestRunRefusedRegistration: a store that may read but not write the tree
// (opened without the tree's credentials) used to run forever, logging
// "permission denied" at every retry and never appearing. Factory.Run and
// Manager.Run now return at once with ErrPermission naming the
// credentials; with the right ones they register.
func TestRunRefusedRegistration(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	root := c.UniqueRoot(t) + "/app"
	owner := openStore(t, testConfig(c, root, testAuth))
	ctx := ctxT(t, time.Minute)
	tt := sampleTaskType("orders", 2)
	_, err := owner.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	reader := openStore(t, testConfig(c, root, nil))
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))

	t.Run("factory", func(t *testing.T) {
		cfg := strategy.DefaultConfig()
		cfg.IP, cfg.HostName = "10.0.0.1", "w1"
		f, err := strategy.NewFactory(reader, cfg, strategy.WithLogger(testLogger(t)))
		require.NoError(t, err)
		err = f.Run(ctx)
		require.Error(t, err)
		t.Log(err)
		assert.ErrorIs(t, err, schedule.ErrPermission)
		assert.ErrorIs(t, err, zk.ErrNoAuth)
		assert.Contains(t, err.Error(), "strategy: the store refuses to register the factory: zkstore: register factory "+root+"/factory/")
		assert.Contains(t, err.Error(), "the store has no credentials (Config.Auth is nil)")
		assert.NoError(t, ctx.Err(), "Run returned because its context ended")
	})
	t.Run("manager", func(t *testing.T) {
		m, err := manager.NewManager(reader, tt, "", deal, schedule.ManagerConfig{}, manager.WithLogger(testLogger(t)))
		require.NoError(t, err)
		err = m.Run(ctx)
		require.Error(t, err)
		t.Log(err)
		assert.ErrorIs(t, err, schedule.ErrPermission)
		assert.Contains(t, err.Error(), "schedule: manager of orders: the store refuses to register the server: zkstore: create "+root+"/baseTaskType/orders/orders: schedule: permission denied")
		assert.NoError(t, ctx.Err(), "Run returned because its context ended")
	})
	t.Run("right credentials", func(t *testing.T) {
		cfg := strategy.DefaultConfig()
		cfg.IP, cfg.HostName = "10.0.0.2", "w2"
		f, err := strategy.NewFactory(owner, cfg, strategy.WithLogger(testLogger(t)))
		require.NoError(t, err)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- f.Run(rctx) }()
		waitFor(t, 30*time.Second, "the factory registered", func() error {
			if f.Status().Factory == "" {
				return assert.AnError
			}
			return nil
		})
		cancel()
		assert.NoError(t, <-done)
	})
}
