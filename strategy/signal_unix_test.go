//go:build unix

package strategy

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule/memstore"
)

// The first signal cancels Run's context (a graceful stop); the second
// forces the stop.
func TestStopOnSignal(t *testing.T) {
	store := memstore.New().Connect()
	t.Cleanup(func() { _ = store.Close() })
	cfg := DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", "signals"
	f, err := NewFactory(store, cfg)
	require.NoError(t, err)
	ctx, release := f.StopOnSignal(context.Background(), syscall.SIGUSR1)
	defer release()

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
	waitClosed(t, ctx.Done(), "the first signal cancels the context")
	select {
	case <-f.force:
		t.Fatal("the first signal must not force the stop")
	default:
	}
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
	waitClosed(t, f.force, "the second signal forces the stop")
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}
