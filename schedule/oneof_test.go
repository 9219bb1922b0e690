package schedule_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/engine"
	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// validTaskType is a task type that validates, for cases that break one
// other thing.
func validTaskType() schedule.TaskType {
	tt := schedule.DefaultTaskType("t")
	tt.DealBeanName, tt.TaskItems = "d", []string{"0"}
	return tt
}

func nopSelect(context.Context, processor.SelectRequest) ([]int, error) { return nil, nil }
func nopExec(context.Context, int, string) error                        { return nil }

// keylessDeal is a deal whose records (a struct) have no key: NOTSLEEP
// cannot run it.
func keylessDeal() processor.Deal {
	type rec struct{ ID int }
	return processor.SingleFunc(func(context.Context, processor.SelectRequest) ([]rec, error) { return nil, nil },
		func(context.Context, rec, string) error { return nil })
}

// TestErrInvalidEverywhere: every validation failure of every package, one
// bad input each, matches the one sentinel schedule.ErrInvalid.
func TestErrInvalidEverywhere(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(memstore.Config{}).Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = store.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		pkg, name string
		err       func() error
	}{
		{"schedule", "TaskType.Validate", func() error { return schedule.TaskType{}.Validate() }},
		{"schedule", "Strategy.Validate", func() error { return schedule.Strategy{}.Validate() }},
		{"schedule", "ManagerConfig.Validate", func() error { return schedule.ManagerConfig{WriteParallelism: -1}.Validate() }},
		{"schedule", "ValidateName", func() error { return schedule.ValidateName(schedule.NameTaskType, "a/b") }},
		{"schedule", "TaskType.Validate window", func() error {
			tt := schedule.DefaultTaskType("w")
			tt.DealBeanName, tt.TaskItems, tt.PermitRunStartTime = "d", []string{"0"}, "not a cron"
			return tt.Validate()
		}},
		{"schedule", "ParseItemDefs", func() error { _, err := schedule.ParseItemDefs([]string{"0", "0"}); return err }},
		{"schedule", "SplitRuntimeName", func() error { _, _, err := schedule.SplitRuntimeName("a$b$c"); return err }},
		{"schedule", "TaskType.UnmarshalJSON", func() error {
			var tt schedule.TaskType
			return json.Unmarshal([]byte(`{"threadNumber":"five"}`), &tt)
		}},
		{"schedule", "NewManager", func() error {
			_, err := manager.NewManager(nil, validTaskType(), "", processor.SingleFunc(nopSelect, nopExec), schedule.ManagerConfig{})
			return err
		}},
		{"schedule", "NewManager, keyless NOTSLEEP deal", func() error {
			tt := validTaskType()
			tt.ProcessorType = schedule.ProcessorNotSleep
			_, err := manager.NewManager(store, tt, "", keylessDeal(), schedule.ManagerConfig{}, manager.WithLogger(quiet))
			return err
		}},
		{"internal/engine", "Config.Validate", func() error { return engine.Config{ThreadNumber: -1}.Validate() }},
		{"internal/engine", "New, nil deal", func() error { _, err := engine.New(nil, engine.Config{}); return err }},
		{"internal/engine", "New, keyless NOTSLEEP deal", func() error {
			_, err := engine.New(keylessDeal(), engine.Config{Type: processor.NotSleep})
			return err
		}},
		{"internal/engine", "New, nil WithKey", func() error {
			_, err := engine.New(processor.SingleFunc(nopSelect, nopExec, processor.WithKey[int, int](nil)), engine.Config{})
			return err
		}},
		{"strategy", "Config.Validate", func() error { return strategy.Config{RefreshInterval: -1}.Validate() }},
		{"strategy", "NewFactory, nil store", func() error { _, err := strategy.NewFactory(nil, strategy.Config{}); return err }},
		{"strategy", "RegisterDeal, duplicate", func() error {
			f, err := strategy.NewFactory(store, strategy.Config{}, strategy.WithLogger(quiet))
			require.NoError(t, err)
			require.NoError(t, f.RegisterDeal("d", processor.SingleFunc(nopSelect, nopExec)))
			err = f.RegisterDeal("d", processor.SingleFunc(nopSelect, nopExec))
			assert.ErrorIs(t, err, strategy.ErrDuplicate, "and its own sentinel")
			return err
		}},
		{"strategy", "Admin.ApplyTaskType", func() error {
			_, err := strategy.NewAdmin(store, strategy.AdminConfig{}).ApplyTaskType(ctx, schedule.TaskType{})
			return err
		}},
		{"zkstore", "Config.Validate", func() error { return zkstore.Config{}.Validate() }},
		{"zkstore", "Open", func() error {
			_, err := zkstore.Open(ctx, zkstore.Config{Servers: []string{"zk1"}, Root: "no-slash"})
			return err
		}},
		{"schedule/memstore", "TaskType, bad name", func() error { _, _, err := store.TaskType(ctx, "a/b"); return err }},
		{"schedule/memstore", "CreateTaskType, invalid", func() error { _, err := store.CreateTaskType(ctx, schedule.TaskType{}); return err }},
		{"schedule/memstore", "Watch, unknown kind", func() error { _, err := store.Watch(ctx, storekit.WatchScope{Kind: 99}); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.pkg+"/"+tc.name, func(t *testing.T) {
			err := tc.err()
			require.Error(t, err)
			assert.ErrorIs(t, err, schedule.ErrInvalid)
		})
	}
}

// TestErrRunningEverywhere: a second Run of a Manager, a Factory or a
// processor (while one is in progress) is the one sentinel
// schedule.ErrRunning.
func TestErrRunningEverywhere(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := memstore.New(memstore.Config{})
	runTwice := func(t *testing.T, run func(context.Context) error) {
		// Two concurrent Runs: whichever comes second returns ErrRunning at
		// once; the other runs until ctx is cancelled.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errs := make(chan error, 2)
		go func() { errs <- run(ctx) }()
		go func() { errs <- run(ctx) }()
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, schedule.ErrRunning)
		case <-time.After(10 * time.Second):
			t.Fatal("neither Run returned")
		}
		cancel()
		select {
		case err := <-errs:
			assert.NotErrorIs(t, err, schedule.ErrRunning)
		case <-time.After(10 * time.Second):
			t.Fatal("the first Run did not return")
		}
	}
	t.Run("Manager", func(t *testing.T) {
		store := srv.Connect(memstore.ClientConfig{})
		t.Cleanup(func() { _ = store.Close() })
		tt := validTaskType()
		_, err := store.CreateTaskType(context.Background(), tt)
		require.NoError(t, err)
		m, err := manager.NewManager(store, tt, "", processor.SingleFunc(nopSelect, nopExec), schedule.ManagerConfig{}, manager.WithLogger(quiet))
		require.NoError(t, err)
		runTwice(t, m.Run)
	})
	t.Run("Factory", func(t *testing.T) {
		store := srv.Connect(memstore.ClientConfig{})
		t.Cleanup(func() { _ = store.Close() })
		f, err := strategy.NewFactory(store, strategy.Config{}, strategy.WithLogger(quiet))
		require.NoError(t, err)
		runTwice(t, f.Run)
	})
	t.Run("engine", func(t *testing.T) {
		p, err := engine.New(processor.SingleFunc(nopSelect, nopExec), engine.Config{}, engine.WithLogger(quiet))
		require.NoError(t, err)
		runTwice(t, p.Run)
	})
}

// TestPanicErrorEverywhere: a panic in user code that the library recovers
// is the one type *schedule.PanicError, whichever package recovered it.
func TestPanicErrorEverywhere(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	got := make(chan error, 1)
	var once atomic.Bool
	deal := processor.SingleFunc(
		func(context.Context, processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(context.Context, int, string) error { panic("boom") })
	p, err := engine.New(deal, engine.Config{ThreadNumber: 1}, engine.WithLogger(quiet),
		engine.WithFailing(func(_ string, err error) {
			if err != nil && once.CompareAndSwap(false, true) {
				got <- err
			}
		}))
	require.NoError(t, err)
	p.SetItems([]processor.TaskItem{{ID: "0"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no failing record reported")
	}
	cancel()
	<-done
	var pe *schedule.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "Execute", pe.Op)
	assert.Equal(t, "boom", pe.Value)
	assert.Contains(t, string(pe.Stack), "goroutine")

	wrapped := &schedule.PanicError{Op: "Start", Value: io.EOF}
	assert.ErrorIs(t, wrapped, io.EOF, "a panic(err) unwraps to err")
}
