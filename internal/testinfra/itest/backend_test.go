package itest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// backend is where a scenario runs: memstore on a fake clock, or real
// ZooKeeper. Every store it opens is a separate client with its own session
// on one shared backend and root.
type backend struct {
	name string
	// open returns a new client; it is closed in t.Cleanup.
	open func(t testing.TB) storekit.Store
	// expire ends a client's current session the backend's way.
	expire func(t testing.TB, s storekit.Store)
	// clock is the managers' clock.
	clock schedule.Clock
	// sessionTimeout of the clients open returns.
	sessionTimeout time.Duration
	// root is the ZooKeeper root of the stores ("" on memstore).
	root string
	// freeze stops the fake clock's moving forward until the test ends
	// (memstore only; nil on ZooKeeper): what happens next cannot be
	// waiting for time to pass.
	freeze func()
}

// testLogger logs warnings and worse to the test log when TBS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(discard{}, nil))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// memBackend runs on memstore with a fake clock that a background goroutine
// moves forward 20 times faster than real time, so heartbeats, resyncs and
// backoffs happen, quickly and on the test's terms.
func memBackend(t testing.TB) backend {
	clk := fakeclock.New(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var (
		mu     sync.Mutex // guards frozen, held across each Advance
		frozen bool
	)
	go func() {
		defer close(done)
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				mu.Lock()
				if !frozen {
					clk.Advance(20 * time.Millisecond)
				}
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	const timeout = 4 * time.Second
	return backend{
		name: "memstore",
		open: func(t testing.TB) storekit.Store {
			c := srv.Connect(memstore.ClientConfig{SessionTimeout: timeout})
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
		expire: func(t testing.TB, s storekit.Store) { srv.ExpireSession(s.(*memstore.Client)) },
		clock:  clk, sessionTimeout: timeout,
		freeze: func() { mu.Lock(); frozen = true; mu.Unlock() },
	}
}

// zkSessionTimeout is the session timeout of ZooKeeper clients in these tests.
const zkSessionTimeout = 2 * time.Second

// zkBackend runs on a real ZooKeeper cluster c under a fresh root.
func zkBackend(t testing.TB, c *zktest.Cluster) backend {
	root := c.UniqueRoot(t)
	return backend{
		name: "zookeeper",
		open: func(t testing.TB) storekit.Store {
			return openZK(t, c, c.Servers(), root)
		},
		expire: func(t testing.TB, s storekit.Store) {
			sess, err := s.Session(context.Background())
			require.NoError(t, err)
			c.ExpireSession(t, sess.ID())
		},
		clock: schedule.SystemClock(), sessionTimeout: zkSessionTimeout, root: root,
	}
}

func openZK(t testing.TB, c *zktest.Cluster, servers []string, root string) *zkstore.Store {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := zkstore.Config{Servers: servers, Root: root, SessionTimeout: zkSessionTimeout,
		Auth: zkstore.Digest("itest", "secret"), Dialer: c.Dialer(), CalibrationInterval: time.Minute}
	s, err := zkstore.Open(ctx, cfg, zkstore.WithLogger(testLogger()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eachBackend runs body on memstore and on the shared ZooKeeper server.
func eachBackend(t *testing.T, body func(t *testing.T, b backend)) {
	t.Run("memstore", func(t *testing.T) { body(t, memBackend(t)) })
	t.Run("zookeeper", func(t *testing.T) { body(t, zkBackend(t, zktest.Shared(t))) })
}
