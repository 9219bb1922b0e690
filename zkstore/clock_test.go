package zkstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// shiftedClock is the system clock, off by shift (a host whose clock is wrong).
type shiftedClock struct {
	schedule.Clock
	shift time.Duration
}

func (c shiftedClock) Now() time.Time { return c.Clock.Now().Add(c.shift) }

// systimeNodes lists the calibration nodes left under root.
func systimeNodes(t *testing.T, s *Store) []string {
	t.Helper()
	children, err := s.children(ctxT(t, time.Minute), s.p.rootPath())
	require.NoError(t, err)
	var out []string
	for _, c := range children {
		if strings.HasPrefix(c, nodeSystime) {
			out = append(out, c)
		}
	}
	return out
}

// TestClusterTime: on one host the calibrated offset is small and the round
// trip positive, calibration leaves no node behind, and it is repeated
// every CalibrationInterval.
func TestClusterTime(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	cfg := testConfig(c, c.UniqueRoot(t), testAuth)
	cfg.CalibrationInterval = time.Second
	s := openStore(t, cfg)
	ctx := ctxT(t, time.Minute)
	now, err := s.Now(ctx)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), now, time.Second)
	info := s.ClockInfo()
	assert.Less(t, info.Offset.Abs(), time.Second, "offset on one host")
	assert.Positive(t, info.RTT)
	assert.WithinDuration(t, time.Now(), info.At, 10*time.Second)
	t.Logf("calibration: offset %v, rtt %v", info.Offset, info.RTT)

	// Re-calibrated in the background.
	waitFor(t, 10*time.Second, "a second calibration", func() error {
		if s.ClockInfo().At.Equal(info.At) {
			return fmt.Errorf("still %v", info.At)
		}
		return nil
	})
	waitFor(t, 10*time.Second, "no calibration node left", func() error {
		if nodes := systimeNodes(t, s); len(nodes) > 0 {
			return fmt.Errorf("left: %v", nodes)
		}
		return nil
	})
	// Cluster time never goes back between reads.
	prev := now
	for range 100 {
		n, err := s.Now(ctx)
		require.NoError(t, err)
		require.False(t, n.Before(prev.Add(-5*time.Millisecond)), "cluster time went back: %v then %v", prev, n)
		prev = n
	}
}

// TestClusterTimeSkewedHost: a host whose clock is 5 minutes fast still
// reads the cluster's time, and the offset says by how much it is off.
func TestClusterTimeSkewedHost(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	shift := 5 * time.Minute
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth), WithClock(shiftedClock{schedule.SystemClock(), shift}))
	ctx := ctxT(t, time.Minute)
	now, err := s.Now(ctx)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), now, time.Second, "cluster time on a skewed host")
	info := s.ClockInfo()
	assert.InDelta(t, float64(-shift), float64(info.Offset), float64(time.Second), "offset %v", info.Offset)
	// Items are stamped with cluster time too.
	_, err = s.CreateTaskType(ctx, sampleTaskType("t1", 1))
	require.NoError(t, err)
	srv, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	snap, err := s.BuildItems(ctx, "t1", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"0"})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), snap.Mark.BuiltAt.Time, time.Second, "the mark's time")
}

// TestClusterTimeSlowSample: a calibration whose round trip is slow (a
// leader election, a reconnect) does not replace a good one: its error
// would be up to half the round trip, and a permit window would open early
// by as much (found by the chaos suite: 2.1 s after a 4.8 s round trip).
func TestClusterTimeSlowSample(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	p := c.NewProxy(t)
	cfg := testConfig(c, c.UniqueRoot(t), testAuth)
	cfg.Servers = p.Servers()
	s := openStore(t, cfg)
	ctx := ctxT(t, time.Minute)
	_, err := s.Now(ctx)
	require.NoError(t, err)
	good := s.ClockInfo()
	require.Less(t, good.RTT, maxCalibrationRTT)

	p.Delay(maxCalibrationRTT) // each way
	err = s.calibrate(ctx, true)
	require.ErrorContains(t, err, "too slow")
	assert.Equal(t, good, s.ClockInfo(), "the previous calibration stays")

	p.Pass()
	require.NoError(t, s.calibrate(ctx, true))
	assert.NotEqual(t, good.At, s.ClockInfo().At, "a fast sample replaces it")
}
