package zkstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// testSessionTimeout is the session timeout of the tests' clients.
const testSessionTimeout = 2 * time.Second

// testAuth is the digest identity of the tests' clients.
var testAuth = Digest("tbs", "s3cret")

// testLogger logs to t at Warn (Debug with ZKSTORE_DEBUG=1) until t's
// cleanups have run.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("ZKSTORE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	w := &tbWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct {
	t    testing.TB
	mu   sync.Mutex // guards done
	done bool
}

func (w *tbWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

var _ io.Writer = (*tbWriter)(nil)

// testConfig returns the configuration of a test client of c under root.
func testConfig(c *zktest.Cluster, root string, auth *DigestAuth) Config {
	return Config{
		Servers:             c.Servers(),
		Root:                root,
		SessionTimeout:      testSessionTimeout,
		ConnectTimeout:      30 * time.Second,
		Auth:                auth,
		CalibrationInterval: time.Minute,
		Dialer:              c.Dialer(),
	}
}

// openStore opens a store with cfg and closes it in t.Cleanup.
func openStore(t testing.TB, cfg Config, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithLogger(testLogger(t))}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg, opts...)
	require.NoError(t, err, "Open")
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// superConn returns a raw client of c authenticated as the super user.
func superConn(t testing.TB, c *zktest.Cluster) *zk.Conn {
	t.Helper()
	conn, _ := c.Connect(t, nil, 10*time.Second)
	require.NoError(t, conn.AddAuth(zktest.SuperAuth()))
	return conn
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sessionOf returns the current session of s.
func sessionOf(t testing.TB, s *Store) storekit.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := s.Session(ctx)
	require.NoError(t, err)
	return sess
}

// sampleTaskType is a valid task type named base with items "0".."n-1".
func sampleTaskType(base string, n int) schedule.TaskType {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	return schedule.TaskType{
		BaseTaskType:               base,
		HeartBeatRate:              time.Second,
		JudgeDeadInterval:          10 * time.Second,
		SleepTimeNoData:            time.Second,
		FetchDataNumber:            100,
		ExecuteNumber:              1,
		ThreadNumber:               2,
		ProcessorType:              schedule.ProcessorSleep,
		DealBeanName:               "deal",
		TaskItems:                  items,
		Sts:                        schedule.StsResume,
		FetchDataCountEachSchedule: -1,
		ExpireOwnSignInterval:      24 * time.Hour,
	}
}

// sampleServer is a server record of runtime rt on ip.
func sampleServer(rt, ip string) schedule.Server {
	base, ownSign, _ := schedule.SplitRuntimeName(rt)
	now := schedule.Time{Time: time.Now().Truncate(time.Millisecond).UTC()}
	return schedule.Server{
		TaskType: rt, BaseTaskType: base, OwnSign: ownSign, IP: ip, HostName: "host",
		ThreadNum: 2, RegisterTime: now, HeartBeatTime: now, IsRegister: true,
	}
}

// twoStores opens two stores on a new root of the shared server: other to
// make changes, s to watch and read them.
func twoStores(t *testing.T) (c *zktest.Cluster, other, s *Store) {
	t.Helper()
	c = sharedCluster(t)
	root := c.UniqueRoot(t)
	return c, openStore(t, testConfig(c, root, testAuth)), openStore(t, testConfig(c, root, testAuth))
}

// sharedCluster returns the standalone server the tests share (faults are
// injected through proxies or session expiry only, never into the server).
func sharedCluster(t testing.TB) *zktest.Cluster { return zktest.Shared(t) }

// ctxT returns a context bounded by d, cancelled in t.Cleanup.
func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
