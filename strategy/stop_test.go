package strategy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// A manager whose deal ignores its context cannot finish its graceful stop;
// the factory's Run says so (schedule.ErrStopIncomplete) instead of
// returning nil as if everything had been handed over.
func TestFactoryRunReportsIncompleteManagerStop(t *testing.T) {
	e := newEnv(t)
	tt := taskType("stuck", 1)
	tt.DealBeanName = "stuck"
	e.applyTaskType(tt)
	e.applyStrategy(scheduleStrategy("stuck-s", "stuck", 1, 1))
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(ctx context.Context, n int, ownSign string) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-release // ignores ctx
			return nil
		})
	cfg := testConfig("a")
	cfg.ManagerConfig.ShutdownTimeout, cfg.ManagerConfig.CancelGrace, cfg.ManagerConfig.StopTimeout =
		50*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond
	p := e.startCfg(cfg, func(f *strategy.Factory) error { return f.RegisterDeal("stuck", deal) })
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the deal never ran")
	}
	err := p.stop(t)
	require.ErrorIs(t, err, schedule.ErrStopIncomplete)
	require.ErrorContains(t, err, "a deal that ignores its context still runs")
}
