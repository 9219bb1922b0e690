package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/processor"
)

// A stop that waits for a slow deal says what it waits for every few
// seconds, instead of ShutdownTimeout of silence.
func TestStopWaitIsLogged(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	d := processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(ctx context.Context, _ int, _ string) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-release // ignores ctx
			return nil
		})
	clk := newFakeClock()
	log, buf := newLogger()
	cfg := testConfig(processor.NotSleep, 1)
	cfg.ShutdownTimeout = 30 * time.Second
	p, err := New(d, cfg, WithClock(clk), WithLogger(log))
	require.NoError(t, err)
	p.SetItems(items("7"))
	r := start(t, p)
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	const line = "processor: stopping: waiting for running user calls"
	for i := 1; i <= 2; i++ {
		eventually(t, func() bool { return clk.Active() > 0 && !strings.Contains(buf.String(), "shutdown timeout") },
			"the stop waits on a timer")
		before := strings.Count(buf.String(), line)
		clk.Advance(stopLogEvery)
		eventually(t, func() bool { return strings.Count(buf.String(), line) == before+1 },
			"wait %d is logged", i)
	}
	assert.Contains(t, buf.String(), "in Execute for items [7]", "the log names what runs")
	close(release)
	require.NoError(t, <-stopped)
}
