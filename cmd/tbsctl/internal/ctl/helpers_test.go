package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// env is one ZooKeeper root driven by tbsctl.
type env struct {
	t       *testing.T
	servers string
	root    string
	vars    map[string]string
}

func newEnv(t *testing.T) *env {
	c := zktest.Shared(t)
	return &env{t: t, servers: strings.Join(c.Servers(), ","), root: c.UniqueRoot(t), vars: map[string]string{}}
}

// otherRoot returns an env on a fresh root of the same server.
func (e *env) otherRoot() *env {
	c := zktest.Shared(e.t)
	return &env{t: e.t, servers: e.servers, root: c.UniqueRoot(e.t), vars: e.vars}
}

// result is one run of tbsctl.
type result struct {
	code     int
	out, err string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.out, r.err)
}

// run runs tbsctl in-process with the env's connection in the environment.
func (e *env) run(args ...string) result {
	return e.runIn("", args...)
}

func (e *env) runIn(stdin string, args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	vars := map[string]string{ctl.EnvZK: e.servers, ctl.EnvRoot: e.root}
	for k, v := range e.vars {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := ctl.Main(ctx, args, ctl.IO{In: strings.NewReader(stdin), Out: &out, Err: &errb, Getenv: func(k string) string { return vars[k] }})
	return result{code: code, out: out.String(), err: errb.String()}
}

// ok runs tbsctl and requires exit 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	require.Equal(e.t, 0, r.code, "tbsctl %q:\n%s", args, r)
	return r.out
}

// fails runs tbsctl and requires the exit code.
func (e *env) fails(code int, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	require.Equal(e.t, code, r.code, "tbsctl %q:\n%s", args, r)
	return r
}

// file writes content to a file in a temporary directory.
func file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// store opens a store on the env's root (the way a service does).
func (e *env) store() *zkstore.Store {
	e.t.Helper()
	cfg := zkstore.Config{Servers: strings.Split(e.servers, ","), Root: e.root, SessionTimeout: 2 * time.Second}
	if a := e.vars[ctl.EnvAuth]; a != "" {
		u, p, _ := strings.Cut(a, ":")
		cfg.Auth = zkstore.Digest(u, p)
	}
	s, err := zkstore.Open(context.Background(), cfg, zkstore.WithLogger(quiet()))
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func quiet() *slog.Logger {
	if os.Getenv("TBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// factory is a running factory process (in-process) on the env's root.
type factory struct {
	f      *strategy.Factory
	store  *zkstore.Store
	cancel context.CancelFunc
	done   chan error
}

// startFactory runs a factory on host with the idle deal registered as
// "idle".
func (e *env) startFactory(ip, host string) *factory {
	e.t.Helper()
	return e.startFactoryWith(ip, host, nil)
}

// startFactoryWith is startFactory with edit applied to the configuration.
func (e *env) startFactoryWith(ip, host string, edit func(*strategy.Config)) *factory {
	t := e.t
	t.Helper()
	s := e.store()
	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = ip, host
	cfg.RefreshInterval = time.Second
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.ManagerConfig.ShutdownTimeout = time.Second
	if edit != nil {
		edit(&cfg)
	}
	f, err := strategy.NewFactory(s, cfg, strategy.WithLogger(quiet()))
	require.NoError(t, err)
	require.NoError(t, f.RegisterDeal("idle", processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))))
	ctx, cancel := context.WithCancel(context.Background())
	p := &factory{f: f, store: s, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("factory %s did not stop within 30s", host)
		}
	})
	waitFor(t, 15*time.Second, "factory "+host+" registered", func() bool { return f.Status().Factory != "" })
	return p
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statusOf runs status -o json.
type statusDoc struct {
	TaskTypes []struct {
		BaseTaskType string `json:"baseTaskType"`
		Runtimes     []struct {
			TaskType string `json:"taskType"`
			OwnSign  string `json:"ownSign"`
			Servers  []struct {
				UUID     string `json:"uuid"`
				HostName string `json:"hostName"`
				Leader   bool   `json:"leader"`
				Items    int    `json:"items"`
			} `json:"servers"`
			Items []struct {
				ID        string `json:"id"`
				CurServer string `json:"cur_server"`
				Epoch     int64  `json:"epoch"`
				Parameter string `json:"parameter"`
				Flag      string `json:"flag"`
			} `json:"items"`
			Unassigned int `json:"unassigned"`
			Orphaned   int `json:"orphaned"`
		} `json:"runtimes"`
	} `json:"taskTypes"`
}

func (e *env) status(args ...string) statusDoc {
	e.t.Helper()
	out := e.ok(append([]string{"status", "-o", "json"}, args...)...)
	var st statusDoc
	require.NoError(e.t, json.Unmarshal([]byte(out), &st), out)
	return st
}

// fastTaskType is a valid task type with the idle deal and n items.
func fastTaskType(name string, n int) schedule.TaskType {
	tt := schedule.DefaultTaskType(name)
	tt.DealBeanName = "idle"
	tt.HeartBeatRate = 200 * time.Millisecond
	tt.JudgeDeadInterval = 2 * time.Second
	tt.SleepTimeNoData = 50 * time.Millisecond
	tt.ThreadNumber = 1
	for i := range n {
		tt.TaskItems = append(tt.TaskItems, fmt.Sprint(i))
	}
	return tt
}
