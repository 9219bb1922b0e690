package tbsprom_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/tbsprom"
)

// The operator's files of docs/monitoring: the alert rules, their unit
// tests and the Grafana dashboard.
var monitoringDir = filepath.Join("..", "docs", "monitoring")

// metricName matches a tbschedule metric name in a rule, a test series or
// a dashboard query.
var metricName = regexp.MustCompile(`\btbschedule_[a-z][a-z_]*[a-z]\b`)

// exportedNames is every name a scrape of the exporter holds once each
// event was sent: gauges and counters by their name, histograms by their
// _bucket, _sum and _count series.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	e := tbsprom.New()
	exercise(e)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(e))
	fams, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

// unknownNames returns the tbschedule metric names text uses that are not
// in known, sorted, and how many distinct names it uses.
func unknownNames(text string, known map[string]bool) (unknown []string, used int) {
	seen := map[string]bool{}
	for _, n := range metricName.FindAllString(text, -1) {
		if seen[n] {
			continue
		}
		seen[n] = true
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	return unknown, len(seen)
}

func TestUnknownNames(t *testing.T) {
	known := map[string]bool{"tbschedule_manager_leader": true}
	unknown, used := unknownNames(`tbschedule_manager_leader > 0 and tbschedule_manager_leeder
		or tbschedule_manager_leader`, known)
	assert.Equal(t, []string{"tbschedule_manager_leeder"}, unknown)
	assert.Equal(t, 2, used)
}

// TestMonitoringNames checks that the alert rules, their tests and the
// dashboard use only metrics the exporter exports: a renamed metric fails
// here, not silently in an operator's Prometheus.
func TestMonitoringNames(t *testing.T) {
	known := exportedNames(t)
	for _, file := range []string{"alerts.yml", "alerts_test.yml", "dashboard.json"} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(monitoringDir, file))
			require.NoError(t, err)
			unknown, used := unknownNames(string(b), known)
			assert.Empty(t, unknown, "metrics the exporter does not export")
			assert.GreaterOrEqual(t, used, 4, "too few tbschedule metrics: is this the right file?")
		})
	}
}

// dashboard is the part of a Grafana dashboard the test checks.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboard checks that dashboard.json is a Grafana dashboard with a
// task_type variable, unique panel ids and a query in every graph, and
// that every graph of a runtime's metrics follows the variable.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(monitoringDir, "dashboard.json"))
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(b, &d), "dashboard.json is not valid JSON")
	assert.NotEmpty(t, d.Title)
	assert.NotEmpty(t, d.UID)
	assert.Positive(t, d.SchemaVersion, "schemaVersion")
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	assert.Contains(t, vars, "task_type")
	ids := map[int]string{}
	graphs := 0
	for _, p := range d.Panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		graphs++
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, q := range p.Targets {
			assert.NotEmpty(t, q.Expr, "panel %q query %s", p.Title, q.RefID)
			if strings.Contains(q.Expr, "tbschedule_manager_") || strings.Contains(q.Expr, "tbschedule_processor_") {
				assert.Contains(t, q.Expr, `task_type=~"$task_type"`, "panel %q query %s ignores the task type", p.Title, q.RefID)
			}
		}
	}
	assert.GreaterOrEqual(t, graphs, 10)
}

// TestAlertRules runs promtool on the rules: "check rules" (syntax, PromQL,
// templates) and "test rules" on alerts_test.yml (the unowned-items,
// no-leader, session and failing-records alerts fire on synthetic series,
// and not before their for:).
func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", filepath.Join(monitoringDir, "alerts.yml")},
		{"test", "rules", filepath.Join(monitoringDir, "alerts_test.yml")},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		t.Logf("promtool %s: ok", strings.Join(args, " "))
	}
}
