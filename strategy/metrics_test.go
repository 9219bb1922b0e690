package strategy_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// factoryMetrics keeps the last value the factory reported of each gauge.
type factoryMetrics struct {
	strategy.NopMetrics
	mu               sync.Mutex
	wanted, running  map[string]int
	stopped, stopSet bool
}

func (m *factoryMetrics) Wanted(s string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wanted[s] = n
}

func (m *factoryMetrics) Running(s string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running[s] = n
}

func (m *factoryMetrics) MachineStopped(stopped bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped, m.stopSet = stopped, true
}

func (m *factoryMetrics) snapshot(s string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("wanted=%d running=%d stopped=%v(set %v)", m.wanted[s], m.running[s], m.stopped, m.stopSet)
}

// TestFactoryMetrics: the factory reports the units the cluster wants of it,
// those running, and the machine's stop flag as the operator sets it.
func TestFactoryMetrics(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("met", 4))
	e.applyStrategy(scheduleStrategy("met-s", "met", 2, 2))
	met := &factoryMetrics{wanted: map[string]int{}, running: map[string]int{}}
	c := e.srv.Connect(memstore.ClientConfig{SessionTimeout: sessionTimeout})
	t.Cleanup(func() { _ = c.Close() })
	f, err := strategy.NewFactory(c, testConfig("a"), strategy.WithLogger(testLogger()), strategy.WithMetrics(met))
	require.NoError(t, err)
	require.NoError(t, f.RegisterDeal("idle", idleDeal()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	expect := func(want string) {
		t.Helper()
		waitFor(t, 10*time.Second, func() (bool, string) {
			got := met.snapshot("met-s")
			return got == want, "metrics " + got + ", want " + want
		})
	}
	expect("wanted=2 running=2 stopped=false(set false)")
	require.NoError(t, e.admin.StopFactory(e.ctx, "127.0.0.1", "a", "maintenance"))
	expect("wanted=0 running=0 stopped=true(set true)")
	require.NoError(t, e.admin.StartFactory(e.ctx, "127.0.0.1", "a"))
	expect("wanted=2 running=2 stopped=false(set true)")
}
