package itest

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// logBook is a slog.Handler that keeps the messages at Info and above.
type logBook struct {
	mu   *sync.Mutex // guards msgs (shared by the handlers WithAttrs makes)
	msgs *[]string
}

func newLogBook() logBook { return logBook{mu: &sync.Mutex{}, msgs: &[]string{}} }

func (b logBook) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (b logBook) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	b.mu.Lock()
	*b.msgs = append(*b.msgs, line)
	b.mu.Unlock()
	return nil
}
func (b logBook) WithAttrs([]slog.Attr) slog.Handler { return b }
func (b logBook) WithGroup(string) slog.Handler      { return b }

// matching returns the kept messages that contain s.
func (b logBook) matching(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range *b.msgs {
		if strings.Contains(m, s) {
			out = append(out, m)
		}
	}
	return out
}

// Window lines name the server: two thread groups of one task type in one
// process must not log identical lines. The state at start is part of the
// registration line.
func TestWindowLogsNameTheServer(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 11, 21, 8, 59, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clk))
	obs := srv.Connect(memstore.ClientConfig{})
	t.Cleanup(func() { _ = obs.Close() })
	tt := testTaskType("windowlog", 2)
	tt.PermitRunStartTime, tt.PermitRunEndTime = "0 0 9 * * ?", "0 0 10 * * ?"
	createTaskType(t, obs, tt)
	book := newLogBook()
	rec := newRecorder()
	b := backend{clock: clk, open: func(t testing.TB) storekit.Store {
		c := srv.Connect(memstore.ClientConfig{})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}}
	var ids []schedule.ServerID
	for _, name := range []string{"m1", "m2"} {
		r := startManagerSign(t, b, b.open(t), tt, name, "", rec.deal(name, time.Millisecond), manager.WithLogger(slog.New(book)))
		require.Eventually(t, func() bool { return r.m.Status().Server != "" }, 10*time.Second, time.Millisecond)
		ids = append(ids, r.m.Status().Server)
	}
	for _, id := range ids {
		require.Eventually(t, func() bool {
			reg := book.matching("server registered server=" + string(id) + " ")
			later := book.matching("permit window closed reason=window closed server=" + string(id))
			return len(reg) == 1 && (strings.HasSuffix(reg[0], "window=closed") || len(later) == 1)
		}, 10*time.Second, time.Millisecond, "the window's state at start is logged with the server id: %v", book.matching(""))
	}
	clk.Advance(61 * time.Second) // 09:00:01: the window opens
	for _, id := range ids {
		require.Eventually(t, func() bool {
			return len(book.matching("permit window opened reason=window open server="+string(id))) == 1
		},
			10*time.Second, time.Millisecond, "server %s logs its window with its id", id)
	}
}

// The leader's logs say what happens to a vanished server's items: nothing
// about a hold when the server stopped gracefully and released them itself,
// and the grant after the lock delay when it vanished without releasing.
func TestLeaderLogsWhatHappensToVanishedItems(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("truthful", 6)
	createTaskType(t, obs, tt)
	rec := newRecorder()
	book := newLogBook()
	leader := startManagerSign(t, b, b.open(t), tt, "m1", "", rec.deal("m1", 5*time.Millisecond),
		manager.WithLogger(slog.New(book)))
	require.Eventually(t, func() bool { return leader.m.Status().IsLeader }, 20*time.Second, 5*time.Millisecond)
	// m2's lock delay is long, so that however slowly its releases arrive,
	// the leader can only have seen them, never the end of a hold.
	cfg := managerConfig("m2")
	cfg.LockDelay = time.Hour
	m2 := startManagerCfg(t, b, b.open(t), tt, "m2", "", rec.deal("m2", 5*time.Millisecond), cfg,
		manager.WithLogger(testLogger()))
	waitBalanced(t, obs, "truthful", 2, 6, 20*time.Second)

	m2.stop(t)
	waitBalanced(t, obs, "truthful", 1, 6, 20*time.Second)
	assert.Empty(t, book.matching("vanished"), "a graceful stop holds nothing and must not be logged as a hold")

	m3 := startManager(t, b, tt, "m3", rec.deal("m3", 5*time.Millisecond))
	waitBalanced(t, obs, "truthful", 2, 6, 20*time.Second)
	b.expire(t, m3.store) // vanishes without releasing; registers again under a new session
	require.Eventually(t, func() bool {
		return len(book.matching("vanished without releasing its items; granting them after its lock delay")) > 0
	}, 20*time.Second, 5*time.Millisecond, "the grant after the lock delay is logged")
	assert.Empty(t, rec.overlaps())
}

// syncBuf is a bytes.Buffer safe for concurrent writes.
type syncBuf struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A processor's lines under a manager name the ownSign once, not once from
// the manager's logger and again from the processor's own attributes.
func TestProcessorLinesNameOwnSignOnce(t *testing.T) {
	b := memBackend(t)
	obs := b.open(t)
	tt := testTaskType("ownsignlog", 1)
	tt.ThreadNumber = 1
	createTaskType(t, obs, tt)
	var out syncBuf
	log := slog.New(slog.NewTextHandler(&out, nil))
	var failed atomic.Bool
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int, error) { return []int{1}, nil },
		func(ctx context.Context, n int, ownSign string) error {
			if failed.CompareAndSwap(false, true) {
				return errors.New("the first record fails")
			}
			return nil
		})
	startManagerSign(t, b, b.open(t), tt, "m1", "", deal, manager.WithLogger(log))
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "processor: deal failed") }, 20*time.Second, time.Millisecond)
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "processor:") {
			assert.Equal(t, 1, strings.Count(line, "ownSign="), "%s", line)
		}
	}
}
