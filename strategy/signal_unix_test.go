//go:build unix

package strategy

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule/memstore"
)

// The first signal cancels Run's context (a graceful stop); the second
// forces the stop.
func TestStopOnSignal(t *testing.T) {
	store := memstore.New(memstore.Config{}).Connect(memstore.ClientConfig{})
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

// release waits for the goroutine that relays the signals: once it has
// returned, nothing of StopOnSignal runs any more (no log line, no cancel,
// no ForceStop). Here that goroutine is inside the logger, handling a
// signal, when release is called, and the logger lets it go only once
// release has cancelled the context: a release that did not wait returns
// while the goroutine is still logging.
func TestStopOnSignalReleaseWaits(t *testing.T) {
	store := memstore.New(memstore.Config{}).Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = store.Close() })
	cfg := DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", "signals"
	h := &gateHandler{entered: make(chan struct{}), gate: make(chan struct{})}
	f, err := NewFactory(store, cfg, WithLogger(slog.New(h)))
	require.NoError(t, err)
	ctx, release := f.StopOnSignal(context.Background(), syscall.SIGUSR1)
	defer context.AfterFunc(ctx, func() { close(h.gate) })()

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
	waitClosed(t, h.entered, "the signal reaches the logger")
	release()
	assert.True(t, h.done.Load(), "release returned while its goroutine was still logging the signal")
	release() // a second call returns too
}

// gateHandler holds the log line of the first signal until gate is closed.
type gateHandler struct {
	entered, gate chan struct{}
	done          atomic.Bool
}

func (h *gateHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *gateHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *gateHandler) WithGroup(string) slog.Handler            { return h }
func (h *gateHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "signal received") {
		close(h.entered)
		<-h.gate
		h.done.Store(true)
	}
	return nil
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}
