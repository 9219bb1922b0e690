package strategy

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// lapsableSess is a live session whose lease the test lapses, while its
// state stays Connected (nothing has noticed yet).
type lapsableSess struct {
	storekit.Session
	lapsed atomic.Bool
}

func (s *lapsableSess) Alive() bool { return !s.lapsed.Load() && s.Session.Alive() }

// A Bean copy does not start while the factory session's lease has lapsed,
// even though the session still reads Connected and its guard has not
// fenced; it starts once the lease holds again.
func TestNoBeanCopyUnderLapsedLease(t *testing.T) {
	srv := memstore.New(memstore.Config{})
	store := srv.Connect(memstore.ClientConfig{})
	defer store.Close()
	cfg := DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", "h1"
	f, err := NewFactory(store, cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	var starts atomic.Int64
	require.NoError(t, f.RegisterTask("bean", TaskFunc(func(ctx context.Context, _, _ string) error {
		starts.Add(1)
		<-ctx.Done()
		return nil
	})))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	real, err := store.Session(ctx)
	require.NoError(t, err)
	sess := &lapsableSess{Session: real}
	l := &loop{f: f, sess: sess, guard: newCopyGuard(f, sess)}
	_, start, err := l.prepare(ctx, &strat{name: "s", def: schedule.Strategy{StrategyName: "s", Kind: schedule.KindBean, TaskName: "bean"}})
	require.NoError(t, err)
	l.guard.lift() // a refresh confirmed the session

	sess.lapsed.Store(true)
	u, err := start(1)
	assert.ErrorIs(t, err, errHold, "a copy started under a lapsed lease")
	if u != nil {
		u.stop(errStopped)
		<-u.done
	}
	assert.Zero(t, starts.Load())

	sess.lapsed.Store(false)
	u, err = start(1)
	require.NoError(t, err)
	u.stop(errStopped)
	<-u.done
	assert.EqualValues(t, 1, starts.Load())
}
