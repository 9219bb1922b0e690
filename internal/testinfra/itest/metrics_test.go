package itest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// chainMetrics is a manager's receiver that also hands out a processor
// receiver, counting what reaches each.
type chainMetrics struct {
	schedule.NopMetrics
	runtimes       atomic.Pointer[string] // the runtime Processor was asked for
	rounds, writes atomic.Int64
	procs          procCounts
}

type procCounts struct {
	processor.NopMetrics
	fetches, succeeded atomic.Int64
}

func (c *procCounts) Fetched(int, int, time.Duration, error) { c.fetches.Add(1) }
func (c *procCounts) Dealt(ok, _ int, _ time.Duration)       { c.succeeded.Add(int64(ok)) }

func (c *chainMetrics) Balanced(_ string, writes, _, _ int) {
	c.rounds.Add(1)
	c.writes.Add(int64(writes))
}

func (c *chainMetrics) Processor(runtime string) processor.Metrics {
	c.runtimes.Store(&runtime)
	return &c.procs
}

// TestManagerMetricsReachProcessor: the manager hands its receiver's
// processor part to every processor it starts (before, processor.New got
// no metrics from the manager), and reports the leader's rounds.
func TestManagerMetricsReachProcessor(t *testing.T) {
	b := memBackend(t)
	tt := testTaskType("chain", 3)
	createTaskType(t, b.open(t), tt)
	rec := newRecorder()
	met := &chainMetrics{}
	r := startManagerSign(t, b, b.open(t), tt, "s", "", rec.deal("s", time.Millisecond), manager.WithMetrics(met))
	require.Eventually(t, func() bool { return met.procs.succeeded.Load() > 0 }, 10*time.Second, 5*time.Millisecond,
		"the processor's records reach the factory's receiver")
	r.stop(t)
	got := met.runtimes.Load()
	require.NotNil(t, got)
	assert.Equal(t, r.m.Runtime(), *got)
	st := r.m.Status().Stats
	assert.Equal(t, st.Succeeded, met.procs.succeeded.Load(), "every executed record was reported")
	assert.Equal(t, st.FetchCalls, met.procs.fetches.Load(), "every fetch was reported")
	assert.Positive(t, met.rounds.Load())
	assert.GreaterOrEqual(t, met.writes.Load(), int64(3), "the leader granted the 3 items")
}
