package tbsprom_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/tbsprom"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// testLogger discards the library's logs unless TBS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

const (
	taskType  = "mtt"
	stratName = "mstrat"
	numItems  = 4
)

// node is one "process": a store, a factory and its exporter served over HTTP.
type node struct {
	store  *zkstore.Store
	cancel context.CancelFunc
	done   chan error
	srv    *httptest.Server
}

// startNode opens a store on the cluster and runs a factory with an
// exporter, served by an HTTP test server.
func startNode(t *testing.T, servers []string, root, host string) *node {
	t.Helper()
	exp := tbsprom.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(exp)
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger().With("host", host)
	store, err := zkstore.Open(ctx, zkstore.Config{Servers: servers, Root: root, SessionTimeout: 4 * time.Second},
		zkstore.WithMetrics(exp.Store()), zkstore.WithLogger(log))
	require.NoError(t, err)
	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", host
	f, err := strategy.NewFactory(store, cfg, strategy.WithMetrics(exp), strategy.WithLogger(log))
	require.NoError(t, err)
	require.NoError(t, f.RegisterDeal("mdeal", countingDeal()))
	n := &node{store: store, cancel: cancel, done: make(chan error, 1),
		srv: httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))}
	go func() { n.done <- f.Run(ctx) }()
	t.Cleanup(func() {
		n.stop()
		n.srv.Close()
	})
	return n
}

func (n *node) stop() {
	n.cancel()
	if n.done != nil {
		<-n.done
		n.done = nil
		n.store.Close()
	}
}

// countingDeal returns one record per item per fetch; every record
// succeeds. The task type's SleepTimeInterval paces the fetches.
func countingDeal() processor.Deal {
	return processor.SingleFunc(func(_ context.Context, req processor.SelectRequest) ([]string, error) {
		out := make([]string, 0, len(req.Items))
		for _, it := range req.Items {
			out = append(out, it.ID)
		}
		return out, nil
	}, func(context.Context, string, string) error { return nil })
}

// scrape reads the node's /metrics over HTTP and parses it.
func (n *node) scrape(t *testing.T) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	resp, err := http.Get(n.srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return fams, body
}

// value sums the samples of family name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

var base = map[string]string{"task_type": taskType, "own_sign": "BASE"}

// TestScrapeFactoriesOnZooKeeper runs two factories on real ZooKeeper, each
// with its exporter served over HTTP, and checks that the scraped values
// follow the grants, the records processed and the death of one factory.
func TestScrapeFactoriesOnZooKeeper(t *testing.T) {
	c := zktest.Shared(t)
	root := c.UniqueRoot(t)
	setup(t, c.Servers(), root)

	a := startNode(t, c.Servers(), root, "h1")
	b := startNode(t, c.Servers(), root, "h2")
	owned := func(n *node) float64 {
		fams, _ := n.scrape(t)
		return value(fams, "tbschedule_manager_items_owned", base)
	}
	require.Eventually(t, func() bool { return owned(a) > 0 && owned(b) > 0 && owned(a)+owned(b) == numItems },
		30*time.Second, 20*time.Millisecond, "both factories own items, every item once")
	require.Eventually(t, func() bool {
		fams, _ := a.scrape(t)
		return value(fams, "tbschedule_processor_records_succeeded_total", base) > 0
	}, 30*time.Second, 20*time.Millisecond, "a's processor executes records")

	before, _ := a.scrape(t)
	assert.Equal(t, 1.0, value(before, "tbschedule_store_session_connected", nil))
	assert.Positive(t, value(before, "tbschedule_store_requests_total", map[string]string{"kind": "watch"}))
	assert.Positive(t, value(before, "tbschedule_processor_fetches_total", base))
	assert.Positive(t, value(before, "tbschedule_processor_deal_duration_seconds", base))
	assert.Equal(t, 1.0, value(before, "tbschedule_factory_units_running", map[string]string{"strategy": stratName}))
	assert.Equal(t, 1.0, value(before, "tbschedule_factory_units_wanted", map[string]string{"strategy": stratName}))
	leaders := value(before, "tbschedule_manager_leader", base)
	bFams, _ := b.scrape(t)
	leaders += value(bFams, "tbschedule_manager_leader", base)
	assert.Equal(t, 1.0, leaders, "one leader of the runtime")
	assignments := value(before, "tbschedule_manager_item_assignments_total", base) +
		value(bFams, "tbschedule_manager_item_assignments_total", base)
	assert.GreaterOrEqual(t, assignments, float64(numItems), "the leader granted every item")
	granted := value(before, "tbschedule_manager_items_granted_total", base) +
		value(bFams, "tbschedule_manager_items_granted_total", base)
	assert.GreaterOrEqual(t, granted, float64(numItems), "every item was granted")
	bOwned := value(bFams, "tbschedule_manager_items_owned", base)

	// Kill b: its store closes under its running factory. The survivor
	// leads, holds b's items for b's lock delay, then owns them all.
	b.store.Close()
	held := func() float64 {
		fams, _ := a.scrape(t)
		return value(fams, "tbschedule_manager_items_held", base)
	}
	require.Eventually(t, func() bool { return held() > 0 }, 30*time.Second, 20*time.Millisecond,
		"the survivor holds the dead factory's items for its lock delay")
	require.Eventually(t, func() bool { return owned(a) == numItems }, 30*time.Second, 20*time.Millisecond,
		"the survivor owns every item")
	// The leader forgets the vanished server (and observes the hold's
	// duration) in the round after the one that granted its items, which can
	// come after the survivor owns them.
	require.Eventually(t, func() bool {
		fams, _ := a.scrape(t)
		return value(fams, "tbschedule_manager_hold_duration_seconds", base) > 0
	}, 30*time.Second, 20*time.Millisecond, "the hold's end was observed")
	after, body := a.scrape(t)
	assert.Equal(t, 0.0, value(after, "tbschedule_manager_items_held", base), "no hold once the items are granted")
	assert.Equal(t, bOwned, value(after, "tbschedule_manager_items_granted_total", base)-
		value(before, "tbschedule_manager_items_granted_total", base),
		"the survivor got the dead factory's items, under new epochs")
	assert.Greater(t, value(after, "tbschedule_processor_records_succeeded_total", base),
		value(before, "tbschedule_processor_records_succeeded_total", base), "records executed grow")
	assert.Equal(t, 1.0, value(after, "tbschedule_manager_leader", base), "the survivor leads")
	assert.Greater(t, value(after, "tbschedule_manager_rebalance_rounds_total", base), 0.0)
	bAfter, _ := b.scrape(t)
	assert.Equal(t, 0.0, value(bAfter, "tbschedule_store_session_connected", nil), "the killed store is not connected")
	assert.Positive(t, value(bAfter, "tbschedule_store_session_state_changes_total", map[string]string{"state": "closed"}))
	promtoolCheck(t, body)
}

func setup(t *testing.T, servers []string, root string) {
	t.Helper()
	ctx := context.Background()
	store, err := zkstore.Open(ctx, zkstore.Config{Servers: servers, Root: root})
	require.NoError(t, err)
	defer store.Close()
	admin := strategy.NewAdmin(store, strategy.AdminConfig{})
	tt := schedule.DefaultTaskType(taskType)
	tt.DealBeanName = "mdeal"
	tt.SleepTimeInterval = 20 * time.Millisecond
	for i := range numItems {
		tt.TaskItems = append(tt.TaskItems, fmt.Sprint(i))
	}
	_, err = admin.ApplyTaskType(ctx, tt)
	require.NoError(t, err)
	s := schedule.DefaultStrategy(stratName)
	s.TaskName, s.AssignNum, s.NumOfSingleServer = taskType, 2, 1
	s.IPList = []string{"h1", "h2"}
	_, err = admin.ApplyStrategy(ctx, s)
	require.NoError(t, err)
}

// promtoolCheck writes a scrape to a file and runs "promtool check metrics"
// on it. Without promtool the test is skipped, unless TBS_REQUIRE_ZK=1 (the
// test command, CI): then it fails.
func promtoolCheck(t *testing.T, scrape []byte) {
	t.Helper()
	bin := promtool(t)
	path := filepath.Join(t.TempDir(), "scrape.prom")
	require.NoError(t, os.WriteFile(path, scrape, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = f
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	t.Logf("promtool check metrics: ok (%d bytes)", len(scrape))
}

// promtool is the path of promtool. Without it the test is skipped, unless
// TBS_REQUIRE_ZK=1 (the test command, CI): then it fails.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("TBS_REQUIRE_ZK") == "1" {
			t.Fatalf("promtool not found (Debian: apt-get install prometheus): %v", err)
		}
		t.Skipf("promtool not found (Debian: apt-get install prometheus); set TBS_REQUIRE_ZK=1 to fail instead")
	}
	return bin
}
