package strategy

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
)

// Run does not return while a unit's goroutine still runs, even after the
// unit has reported that it returned: the goroutine is held on its last
// step (unitExit) and Run must wait for it. The test runs in a synctest
// bubble: once every goroutine of it is blocked, Run has either returned
// or waits, which tells "Run waits" from "Run is slow".
func TestRunWaitsForUnitGoroutines(t *testing.T) {
	synctest.Test(t, testRunWaitsForUnitGoroutines)
}

func testRunWaitsForUnitGoroutines(t *testing.T) {
	srv := memstore.New(memstore.Config{})
	obs, store := srv.Connect(memstore.ClientConfig{}), srv.Connect(memstore.ClientConfig{})
	defer obs.Close()
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	def := schedule.DefaultStrategy("bean")
	def.Kind, def.TaskName, def.AssignNum = schedule.KindBean, "job", 1
	_, err := NewAdmin(obs, AdminConfig{Operator: "test"}).ApplyStrategy(ctx, def)
	require.NoError(t, err)

	cfg := DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", "h1"
	cfg.RefreshInterval = time.Second
	cfg.LockDelay = -1 // no hand-over wait: Run returns as soon as it may
	f, err := NewFactory(store, cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	started := make(chan struct{}, 1)
	require.NoError(t, f.RegisterTask("job", TaskFunc(func(ctx context.Context, _, _ string) error {
		started <- struct{}{}
		<-ctx.Done()
		return nil
	})))
	exiting, release := make(chan struct{}, 1), make(chan struct{})
	f.unitExit = func() {
		exiting <- struct{}{}
		<-release
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()

	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run returned before the copy started: %v", err)
	}
	stop()
	<-exiting // the copy returned; its goroutine is held on its last step
	synctest.Wait()
	select {
	case err := <-done:
		close(release)
		t.Fatalf("Run returned (%v) while a unit's goroutine still ran", err)
	default:
	}
	close(release)
	require.NoError(t, <-done)
}
