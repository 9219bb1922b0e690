package strategy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// testLogger logs to stderr when TBS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

const sessionTimeout = 2 * time.Second

// env is one in-memory "ZooKeeper" with an observer client and an admin.
type env struct {
	t     *testing.T
	srv   *memstore.Server
	obs   *memstore.Client
	admin *strategy.Admin
	ctx   context.Context
}

func newEnv(t *testing.T) *env {
	srv := memstore.New(memstore.Config{})
	obs := srv.Connect(memstore.ClientConfig{SessionTimeout: sessionTimeout})
	t.Cleanup(func() { _ = obs.Close() })
	return &env{t: t, srv: srv, obs: obs, admin: strategy.NewAdmin(obs, strategy.AdminConfig{Operator: "test"}), ctx: context.Background()}
}

// testConfig is a factory config with short retries, on host name.
func testConfig(host string) strategy.Config {
	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", host
	cfg.RefreshInterval = time.Second
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.ManagerConfig.ShutdownTimeout = time.Second
	return cfg
}

// proc is a factory "process": its own client and a running Factory.
type proc struct {
	host   string
	store  *memstore.Client
	f      *strategy.Factory
	cancel context.CancelFunc
	done   chan error
}

// setup registers deals and tasks before Run.
type setup func(f *strategy.Factory) error

func withTask(name string, t strategy.Task) setup {
	return func(f *strategy.Factory) error { return f.RegisterTask(name, t) }
}

// start runs a factory on host with the idle deal registered as "idle".
func (e *env) start(host string, setups ...setup) *proc {
	return e.startCfg(testConfig(host), setups...)
}

func (e *env) startCfg(cfg strategy.Config, setups ...setup) *proc {
	e.t.Helper()
	return e.startOn(cfg, nil, setups...)
}

// startCounted starts a factory whose store counts its refreshes.
func (e *env) startCounted(cfg strategy.Config, setups ...setup) (*proc, *countingStore) {
	e.t.Helper()
	var cs *countingStore
	p := e.startOn(cfg, func(c *memstore.Client) storekit.Store { cs = &countingStore{Store: c}; return cs }, setups...)
	return p, cs
}

// startOn starts a factory on its own client, wrapped by wrap if not nil.
func (e *env) startOn(cfg strategy.Config, wrap func(*memstore.Client) storekit.Store, setups ...setup) *proc {
	t := e.t
	t.Helper()
	c := e.srv.Connect(memstore.ClientConfig{SessionTimeout: sessionTimeout})
	t.Cleanup(func() { _ = c.Close() })
	var store storekit.Store = c
	if wrap != nil {
		store = wrap(c)
	}
	f, err := strategy.NewFactory(store, cfg, strategy.WithLogger(testLogger().With("host", cfg.HostName)))
	require.NoError(t, err)
	require.NoError(t, f.RegisterDeal("idle", idleDeal()))
	for _, s := range setups {
		require.NoError(t, s(f))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{host: cfg.HostName, store: c, f: f, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- f.Run(ctx) }()
	t.Cleanup(func() { p.stop(t) })
	waitFor(t, 10*time.Second, func() (bool, string) {
		return f.Status().Factory != "", "factory " + cfg.HostName + " registered"
	})
	return p
}

// stop cancels Run and waits for it; it returns Run's error.
func (p *proc) stop(t *testing.T) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("factory %s did not stop within 30s", p.host)
		return nil
	}
}

// idleDeal finds no data.
func idleDeal() processor.Deal {
	return processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))
}

// taskType returns a fast task type named name with n items and the idle deal.
func taskType(name string, n int) schedule.TaskType {
	tt := schedule.DefaultTaskType(name)
	tt.DealBeanName = "idle"
	tt.HeartBeatRate = 100 * time.Millisecond
	tt.JudgeDeadInterval = time.Second
	tt.SleepTimeNoData = 50 * time.Millisecond
	tt.ThreadNumber = 1
	for i := range n {
		tt.TaskItems = append(tt.TaskItems, fmt.Sprint(i))
	}
	return tt
}

func scheduleStrategy(name, task string, assignNum, perServer int) schedule.Strategy {
	s := schedule.DefaultStrategy(name)
	s.TaskName, s.AssignNum, s.NumOfSingleServer = task, assignNum, perServer
	return s
}

func beanStrategy(name, task string, assignNum int) schedule.Strategy {
	s := schedule.DefaultStrategy(name)
	s.Kind, s.TaskName, s.AssignNum = schedule.KindBean, task, assignNum
	return s
}

func (e *env) applyTaskType(tt schedule.TaskType) {
	e.t.Helper()
	_, err := e.admin.ApplyTaskType(e.ctx, tt)
	require.NoError(e.t, err)
}

func (e *env) applyStrategy(s schedule.Strategy) {
	e.t.Helper()
	_, err := e.admin.ApplyStrategy(e.ctx, s)
	require.NoError(e.t, err)
}

// waitFor polls cond until it holds, failing with its last explanation.
func waitFor(t testing.TB, within time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	var why string
	for {
		var ok bool
		if ok, why = cond(); ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// healthLoop returns the main loop's phase that f's health check reports.
func healthLoop(t testing.TB, f *strategy.Factory) string {
	t.Helper()
	rec := httptest.NewRecorder()
	f.Health().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var body struct {
		Loop string `json:"loop"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body.Loop
}

// hostOf returns the host name part of a factory id.
func hostOf(id schedule.FactoryID) string {
	parts := strings.Split(string(id), "$")
	if len(parts) < 2 {
		return string(id)
	}
	return parts[1]
}

// requestNums reads every registration under the strategy: host → requestNum.
func (e *env) requestNums(name string) map[string]int {
	e.t.Helper()
	rts, err := e.obs.StrategyRuntimes(e.ctx, name)
	require.NoError(e.t, err)
	out := map[string]int{}
	for _, rt := range rts {
		out[hostOf(rt.UUID)] = rt.RequestNum
	}
	return out
}

// currentNums reads every registration: host → currentNum.
func (e *env) currentNums(name string) map[string]int {
	e.t.Helper()
	rts, err := e.obs.StrategyRuntimes(e.ctx, name)
	require.NoError(e.t, err)
	out := map[string]int{}
	for _, rt := range rts {
		out[hostOf(rt.UUID)] = rt.CurrentNum
	}
	return out
}

// servers reads the live servers of a runtime: host → count.
func (e *env) servers(runtime string) map[string]int {
	e.t.Helper()
	svs, err := e.obs.Servers(e.ctx, runtime)
	require.NoError(e.t, err)
	out := map[string]int{}
	for _, s := range svs {
		out[s.HostName]++
	}
	return out
}

func (e *env) serverIDs(runtime string) []schedule.ServerID {
	e.t.Helper()
	svs, err := e.obs.Servers(e.ctx, runtime)
	require.NoError(e.t, err)
	var ids []schedule.ServerID
	for _, s := range svs {
		ids = append(ids, s.UUID)
	}
	return ids
}

// waitRunning waits until the strategy's registrations ask for want
// (host → requestNum, hosts not listed absent) and the runtime's live
// servers match it, and every registration reports it runs what it is
// asked.
func (e *env) waitRunning(strategyName, runtime string, want map[string]int, within time.Duration) time.Duration {
	e.t.Helper()
	return waitFor(e.t, within, func() (bool, string) {
		req, cur, svs := e.requestNums(strategyName), e.currentNums(strategyName), e.servers(runtime)
		if !mapsEqual(req, want) || !mapsEqual(cur, want) || !mapsEqual(svs, nonZero(want)) {
			return false, fmt.Sprintf("requestNum %v, currentNum %v, servers %v; want %v", req, cur, svs, want)
		}
		return true, ""
	})
}

func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// copyLog records the runs of Bean copies (start and end on this
// process's monotonic clock) and the most copies running at once.
type copyLog struct {
	mu      sync.Mutex // guards the fields below
	runs    []copyRun
	running int
	most    int
}

type copyRun struct {
	host       string
	start, end time.Time // end is zero while running
}

// task returns the Task of host: it runs until cancelled.
func (l *copyLog) task(host string) strategy.Task {
	return strategy.TaskFunc(func(ctx context.Context, strategyName, param string) error {
		l.mu.Lock()
		i := len(l.runs)
		l.runs = append(l.runs, copyRun{host: host, start: time.Now()})
		l.running++
		l.most = max(l.most, l.running)
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		l.runs[i].end = time.Now()
		l.running--
		l.mu.Unlock()
		return nil
	})
}

// runningOn returns host → copies running now.
func (l *copyLog) runningOn() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, r := range l.runs {
		if r.end.IsZero() {
			out[r.host]++
		}
	}
	return out
}

func (l *copyLog) max() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.most
}

// overlaps lists pairs of runs on different hosts that overlapped in time
// (meaningful with assignNum 1).
func (l *copyLog) overlaps() []string {
	l.mu.Lock()
	runs := append([]copyRun(nil), l.runs...)
	l.mu.Unlock()
	sort.Slice(runs, func(i, j int) bool { return runs[i].start.Before(runs[j].start) })
	var bad []string
	var last copyRun // the run that ends last among those started so far
	for i, r := range runs {
		if i > 0 && (last.end.IsZero() || last.end.After(r.start)) {
			bad = append(bad, fmt.Sprintf("%s ran until %v, %s started at %v", last.host, last.end, r.host, r.start))
		}
		if i == 0 || r.end.IsZero() || (!last.end.IsZero() && r.end.After(last.end)) {
			last = r
		}
	}
	return bad
}
