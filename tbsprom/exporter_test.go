package tbsprom_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/tbsprom"
)

const rt = "orders$TEST" // task type orders, ownSign TEST

// exercise sends one event of every kind to e.
func exercise(e *tbsprom.Exporter) {
	st := e.Store()
	st.Request("get", false)
	st.Request("set", true)
	st.SessionState(schedule.SessionSuspect)
	e.ItemsOwned(rt, "s1", 3)
	e.ItemsGranted(rt, 2)
	e.LeaderChanged(rt, "s1", true)
	e.ItemReleased(rt, "7", 40*time.Millisecond)
	e.SessionState(rt, schedule.SessionExpired)
	e.WindowChanged(rt, true)
	e.Conflict(rt, "assign")
	e.Balanced(rt, 5, 2, 1)
	e.HoldEnded(rt, 3*time.Second)
	p := e.Processor(rt)
	p.Fetched(10, 2, 3*time.Millisecond, nil)
	p.Fetched(0, 0, time.Millisecond, errors.New("db down"))
	p.Dealt(7, 1, 2*time.Millisecond)
	p.Dropped(2, processor.DropFenced)
	p.Retrying(3, 1)
	e.StrategyLeader("s", true)
	e.Running("s", 2)
	e.Wanted("s", 3)
	e.StartFailed("s")
	e.MachineStopped(true)
}

// TestLint checks every metric against the Prometheus client's linter
// (naming conventions, units, _total on counters, help texts).
func TestLint(t *testing.T) {
	e := tbsprom.New()
	exercise(e)
	problems, err := testutil.CollectAndLint(e)
	require.NoError(t, err)
	assert.Empty(t, problems)
	promtoolCheck(t, mustFormat(t, e))
}

// TestEvents checks what each event does to its metric.
func TestEvents(t *testing.T) {
	e := tbsprom.New()
	exercise(e)
	exercise(e)
	lbl := `own_sign="TEST",task_type="orders"`
	tests := []struct {
		name, want string
	}{
		{"tbschedule_store_requests_total", `tbschedule_store_requests_total{kind="get"} 2
tbschedule_store_requests_total{kind="set"} 2`},
		{"tbschedule_store_request_errors_total", `tbschedule_store_request_errors_total{kind="set"} 2`},
		{"tbschedule_store_session_connected", `tbschedule_store_session_connected 0`},
		{"tbschedule_manager_items_owned", `tbschedule_manager_items_owned{` + lbl + `} 3`},
		{"tbschedule_manager_items_granted_total", `tbschedule_manager_items_granted_total{` + lbl + `} 4`},
		{"tbschedule_manager_leader", `tbschedule_manager_leader{` + lbl + `} 1`},
		{"tbschedule_manager_item_releases_total", `tbschedule_manager_item_releases_total{` + lbl + `} 2`},
		{"tbschedule_manager_session_state_changes_total", `tbschedule_manager_session_state_changes_total{own_sign="TEST",state="expired",task_type="orders"} 2`},
		{"tbschedule_manager_conflicts_total", `tbschedule_manager_conflicts_total{op="assign",` + lbl + `} 2`},
		{"tbschedule_manager_rebalance_rounds_total", `tbschedule_manager_rebalance_rounds_total{` + lbl + `} 2`},
		{"tbschedule_manager_item_assignments_total", `tbschedule_manager_item_assignments_total{` + lbl + `} 10`},
		{"tbschedule_manager_items_held", `tbschedule_manager_items_held{` + lbl + `} 2`},
		{"tbschedule_manager_items_unassigned", `tbschedule_manager_items_unassigned{` + lbl + `} 1`},
		{"tbschedule_processor_fetches_total", `tbschedule_processor_fetches_total{` + lbl + `} 4`},
		{"tbschedule_processor_fetch_errors_total", `tbschedule_processor_fetch_errors_total{` + lbl + `} 2`},
		{"tbschedule_processor_records_fetched_total", `tbschedule_processor_records_fetched_total{` + lbl + `} 20`},
		{"tbschedule_processor_duplicates_suppressed_total", `tbschedule_processor_duplicates_suppressed_total{` + lbl + `} 4`},
		{"tbschedule_processor_records_succeeded_total", `tbschedule_processor_records_succeeded_total{` + lbl + `} 14`},
		{"tbschedule_processor_records_failed_total", `tbschedule_processor_records_failed_total{` + lbl + `} 2`},
		{"tbschedule_processor_records_dropped_total", `tbschedule_processor_records_dropped_total{own_sign="TEST",reason="fenced",task_type="orders"} 4`},
		{"tbschedule_processor_records_retried_total", `tbschedule_processor_records_retried_total{` + lbl + `} 6`},
		{"tbschedule_processor_failing_keys", `tbschedule_processor_failing_keys{` + lbl + `} 1`},
		{"tbschedule_factory_units_running", `tbschedule_factory_units_running{strategy="s"} 2`},
		{"tbschedule_factory_units_wanted", `tbschedule_factory_units_wanted{strategy="s"} 3`},
		{"tbschedule_factory_strategy_leader", `tbschedule_factory_strategy_leader{strategy="s"} 1`},
		{"tbschedule_factory_start_failures_total", `tbschedule_factory_start_failures_total{strategy="s"} 2`},
		{"tbschedule_factory_machine_stopped", `tbschedule_factory_machine_stopped 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := testutil.CollectAndFormat(e, expfmt.TypeTextPlain, tc.name)
			require.NoError(t, err)
			var samples []string
			for _, l := range strings.Split(strings.TrimSpace(string(got)), "\n") {
				if !strings.HasPrefix(l, "#") {
					samples = append(samples, l)
				}
			}
			assert.Equal(t, tc.want, strings.Join(samples, "\n"))
		})
	}
}

// TestItemLabels checks that item ids label the release wait only when
// asked for.
func TestItemLabels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []tbsprom.Option
		withItem bool
	}{
		{"default", nil, false},
		{"WithItemLabels", []tbsprom.Option{tbsprom.WithItemLabels()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tbsprom.New(tc.opts...)
			e.ItemReleased(rt, "item-42", time.Second)
			out := string(mustFormat(t, e))
			assert.Equal(t, tc.withItem, strings.Contains(out, `item="item-42"`))
			assert.Contains(t, out, `tbschedule_manager_item_release_wait_seconds_count{`)
		})
	}
}

// mustFormat is every metric of e in the text format, as /metrics serves it.
func mustFormat(t *testing.T, e *tbsprom.Exporter) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(e))
	fams, err := reg.Gather()
	require.NoError(t, err)
	require.NotEmpty(t, fams)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		require.NoError(t, enc.Encode(f))
	}
	return buf.Bytes()
}

// TestDurationHistograms checks the processor's histograms: buckets are
// cumulative, a duration equal to a bound falls in that bound's bucket.
func TestDurationHistograms(t *testing.T) {
	e := tbsprom.New()
	exercise(e) // fetches of 3ms and 1ms, a deal of 2ms
	exercise(e)
	buckets := func(name string, counts [9]int) string {
		var b strings.Builder
		for i, le := range []string{"0.001", "0.004", "0.016", "0.064", "0.256", "1.024", "4.096", "16.384", "65.536"} {
			fmt.Fprintf(&b, "%s_bucket{own_sign=\"TEST\",task_type=\"orders\",le=\"%s\"} %d\n", name, le, counts[i])
		}
		return b.String()
	}
	want := `# HELP tbschedule_processor_deal_duration_seconds Duration of the execution of a group of records a goroutine took.
# TYPE tbschedule_processor_deal_duration_seconds histogram
` + buckets("tbschedule_processor_deal_duration_seconds", [9]int{0, 2, 2, 2, 2, 2, 2, 2, 2}) +
		`tbschedule_processor_deal_duration_seconds_bucket{own_sign="TEST",task_type="orders",le="+Inf"} 2
tbschedule_processor_deal_duration_seconds_sum{own_sign="TEST",task_type="orders"} 0.004
tbschedule_processor_deal_duration_seconds_count{own_sign="TEST",task_type="orders"} 2
# HELP tbschedule_processor_fetch_duration_seconds Duration of SelectTasks calls.
# TYPE tbschedule_processor_fetch_duration_seconds histogram
` + buckets("tbschedule_processor_fetch_duration_seconds", [9]int{2, 4, 4, 4, 4, 4, 4, 4, 4}) +
		`tbschedule_processor_fetch_duration_seconds_bucket{own_sign="TEST",task_type="orders",le="+Inf"} 4
tbschedule_processor_fetch_duration_seconds_sum{own_sign="TEST",task_type="orders"} 0.008
tbschedule_processor_fetch_duration_seconds_count{own_sign="TEST",task_type="orders"} 4
`
	require.NoError(t, testutil.CollectAndCompare(e, strings.NewReader(want),
		"tbschedule_processor_deal_duration_seconds", "tbschedule_processor_fetch_duration_seconds"))
}

// TestManagerHistograms checks the count and sum of the manager's
// histograms (client_golang's, with its buckets).
func TestManagerHistograms(t *testing.T) {
	e := tbsprom.New()
	exercise(e) // a hold of 3s, a release wait of 40ms
	exercise(e)
	out := string(mustFormat(t, e))
	for _, want := range []string{
		`tbschedule_manager_hold_duration_seconds_count{own_sign="TEST",task_type="orders"} 2`,
		`tbschedule_manager_hold_duration_seconds_sum{own_sign="TEST",task_type="orders"} 6`,
		`tbschedule_manager_hold_duration_seconds_bucket{own_sign="TEST",task_type="orders",le="1.024"} 0`,
		`tbschedule_manager_hold_duration_seconds_bucket{own_sign="TEST",task_type="orders",le="4.096"} 2`,
		`tbschedule_manager_item_release_wait_seconds_count{own_sign="TEST",task_type="orders"} 2`,
		`tbschedule_manager_item_release_wait_seconds_sum{own_sign="TEST",task_type="orders"} 0.08`,
	} {
		assert.Contains(t, out, want)
	}
}

// TestSeveralServersOfOneRuntime: a process may run several thread groups
// of one runtime; items owned is their sum, leader their count, and a
// server that stopped (reported zero) no longer counts.
func TestSeveralServersOfOneRuntime(t *testing.T) {
	e := tbsprom.New()
	sample := func(name string) string {
		out, err := testutil.CollectAndFormat(e, expfmt.TypeTextPlain, name)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return lines[len(lines)-1]
	}
	lbl := `{own_sign="TEST",task_type="orders"}`
	e.ItemsOwned(rt, "s1", 3)
	e.ItemsOwned(rt, "s2", 2)
	assert.Equal(t, "tbschedule_manager_items_owned"+lbl+" 5", sample("tbschedule_manager_items_owned"))
	e.ItemsOwned(rt, "s1", 0)
	assert.Equal(t, "tbschedule_manager_items_owned"+lbl+" 2", sample("tbschedule_manager_items_owned"))

	e.LeaderChanged(rt, "s1", true)
	e.LeaderChanged(rt, "s2", true) // the new leader reports before the old one
	e.LeaderChanged(rt, "s1", false)
	assert.Equal(t, "tbschedule_manager_leader"+lbl+" 1", sample("tbschedule_manager_leader"))
	e.LeaderChanged(rt, "s2", false)
	assert.Equal(t, "tbschedule_manager_leader"+lbl+" 0", sample("tbschedule_manager_leader"))
}
