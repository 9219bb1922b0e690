package itest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// idleDeal selects nothing: thread groups that cost nothing while the
// tests count them.
func idleDeal() processor.Deal {
	return processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return nil, nil },
		func(ctx context.Context, n int, ownSign string) error { return nil },
		processor.WithKey(func(n int) int { return n }))
}

// factoryConfig is the config of the tests' factories on host.
func factoryConfig(host string) strategy.Config {
	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", host
	cfg.RefreshInterval = 5 * time.Second
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, time.Second
	cfg.ShutdownTimeout = 20 * time.Second
	cfg.ManagerConfig.ShutdownTimeout = 2 * time.Second
	return cfg
}

// runningFactory is a factory running in this process on its own client.
type runningFactory struct {
	host   string
	store  storekit.Store
	f      *strategy.Factory
	cancel context.CancelFunc
	done   chan error
}

// startFactory runs a factory on host on a new client of b, with the idle
// deal registered as "recorder" (testTaskType's deal) and the given tasks.
func startFactory(t *testing.T, b backend, host string, tasks map[string]strategy.Task) *runningFactory {
	t.Helper()
	return startFactoryOn(t, b, b.open(t), host, tasks)
}

// startFactoryOn is startFactory on a given client (e.g. one behind a
// fault proxy).
func startFactoryOn(t *testing.T, b backend, store storekit.Store, host string, tasks map[string]strategy.Task) *runningFactory {
	t.Helper()
	f, err := strategy.NewFactory(store, factoryConfig(host),
		strategy.WithLogger(testLogger().With("factory", host)), strategy.WithClock(b.clock))
	require.NoError(t, err)
	require.NoError(t, f.RegisterDeal("recorder", idleDeal()))
	for name, task := range tasks {
		require.NoError(t, f.RegisterTask(name, task))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningFactory{host: host, store: store, f: f, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	waitUntil(t, 30*time.Second, func() (bool, string) {
		return f.Status().Factory != "", "factory " + host + " registered"
	})
	return r
}

func (r *runningFactory) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		require.NoError(t, err, "factory %s", r.host)
	case <-time.After(60 * time.Second):
		t.Fatalf("factory %s did not stop within 60s", r.host)
	}
}

// waitUntil polls cond every 10ms until it holds and returns how long that
// took, or fails with cond's last explanation after within.
func waitUntil(t testing.TB, within time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, why := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hostOfFactory returns the host name part of a factory id
// ("<ip>$<hostName>$<uuid>$<seq>").
func hostOfFactory(id schedule.FactoryID) string {
	parts := strings.Split(string(id), "$")
	if len(parts) < 2 {
		return string(id)
	}
	return parts[1]
}

// spread is what an observer reads of a Schedule strategy: requestNum per
// host, and the live servers of its runtime per host.
type spread struct {
	request, current, servers map[string]int
}

func readSpread(t testing.TB, s interface {
	storekit.ServerStore
	storekit.FactoryStore
}, strategyName, runtime string) spread {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rts, err := s.StrategyRuntimes(ctx, strategyName)
	require.NoError(t, err)
	svs, err := s.Servers(ctx, runtime)
	require.NoError(t, err)
	sp := spread{request: map[string]int{}, current: map[string]int{}, servers: map[string]int{}}
	for _, rt := range rts {
		sp.request[hostOfFactory(rt.UUID)] = rt.RequestNum
		sp.current[hostOfFactory(rt.UUID)] = rt.CurrentNum
	}
	for _, sv := range svs {
		sp.servers[sv.HostName]++
	}
	return sp
}

// is reports whether the spread is want everywhere (requestNum, currentNum
// and live servers; hosts with 0 may be absent from the servers).
func (sp spread) is(want map[string]int) bool {
	return sameCounts(sp.request, want) && sameCounts(sp.current, want) && sameCounts(sp.servers, nonZeroCounts(want))
}

func (sp spread) String() string {
	return fmt.Sprintf("requestNum %v, currentNum %v, live servers %v", sp.request, sp.current, sp.servers)
}

func sameCounts(a, b map[string]int) bool {
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

func nonZeroCounts(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// waitSpread waits until the strategy's spread is want and returns how long
// that took.
func waitSpread(t testing.TB, s interface {
	storekit.ServerStore
	storekit.FactoryStore
}, strategyName, runtime string, want map[string]int, within time.Duration) time.Duration {
	t.Helper()
	return waitUntil(t, within, func() (bool, string) {
		sp := readSpread(t, s, strategyName, runtime)
		return sp.is(want), fmt.Sprintf("%v; want %v", sp, want)
	})
}
