package strategy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// hookLog is a WithEvents hook that can be blocked.
type hookLog struct {
	mu    sync.Mutex
	evs   []schedule.Event
	first uint64        // the Seq of the first event the hook was handed
	gate  chan struct{} // nil: never blocks; else every call waits for it to close
}

func (h *hookLog) hook(e schedule.Event) {
	h.mu.Lock()
	if h.first == 0 {
		h.first = e.Seq
	}
	h.mu.Unlock()
	if h.gate != nil {
		<-h.gate
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.evs = append(h.evs, e)
}

func (h *hookLog) events() []schedule.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]schedule.Event(nil), h.evs...)
}

// blockedOn is the Seq of the first event the hook was handed (0: none yet).
func (h *hookLog) blockedOn() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first
}

func hasEvent(evs []schedule.Event, kind schedule.EventKind, strategyName string) bool {
	for _, e := range evs {
		if e.Kind == kind && e.Strategy == strategyName {
			return true
		}
	}
	return false
}

// runFactory runs a factory on e with opts and the idle deal; it stops it
// at the end of the test and checks Run's error.
func runFactory(t *testing.T, e *env, cfg strategy.Config, opts ...strategy.Option) *strategy.Factory {
	c := e.srv.Connect(memstore.ClientConfig{SessionTimeout: sessionTimeout})
	t.Cleanup(func() { _ = c.Close() })
	f, err := strategy.NewFactory(c, cfg, append([]strategy.Option{strategy.WithLogger(testLogger())}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, f.RegisterDeal("idle", idleDeal()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return f
}

// One hook given to the factory hears the managers (with the strategy's
// name) and the factory's own failed starts; Status and /events show the
// same events.
func TestFactoryEvents(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("evt", 2))
	bad := taskType("evbad", 1)
	bad.DealBeanName = "nodeal"
	e.applyTaskType(bad)
	e.applyStrategy(scheduleStrategy("evt-s", "evt", 1, 1))
	e.applyStrategy(scheduleStrategy("evbad-s", "evbad", 1, 1))
	h := &hookLog{}
	f := runFactory(t, e, testConfig("a"), strategy.WithEvents(h.hook))
	waitFor(t, 10*time.Second, func() (bool, string) {
		evs := h.events()
		return hasEvent(evs, schedule.EventAcquire, "evt-s") && hasEvent(evs, schedule.EventStartFailed, "evbad-s"),
			"the hook heard the grant of evt-s and the failed start of evbad-s"
	})
	st := f.Status().Events
	require.NotEmpty(t, st)
	for i, ev := range st {
		assert.Equal(t, uint64(i+1), ev.Seq, "numbered from 1, oldest first")
	}
	heard := h.events()
	assert.Equal(t, st[:len(heard)], heard, "the hook hears the ring's events in order")

	srv := httptest.NewServer(f.Health())
	defer srv.Close()
	get := func(q string) (int, []schedule.Event) {
		resp, err := http.Get(srv.URL + "/events" + q)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body struct {
			Events []json.RawMessage `json:"events"`
		}
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		out := make([]schedule.Event, len(body.Events))
		for i, raw := range body.Events {
			var v struct {
				Seq      uint64 `json:"seq"`
				Kind     string `json:"kind"`
				Strategy string `json:"strategy"`
			}
			require.NoError(t, json.Unmarshal(raw, &v))
			out[i] = schedule.Event{Seq: v.Seq, Strategy: v.Strategy}
			for k := schedule.EventGrant; k <= schedule.EventRecordRecovered; k++ {
				if k.String() == v.Kind {
					out[i].Kind = k
				}
			}
		}
		return http.StatusOK, out
	}
	code, all := get("")
	require.Equal(t, http.StatusOK, code)
	assert.True(t, hasEvent(all, schedule.EventStartFailed, "evbad-s"))
	code, later := get("?since=1")
	require.Equal(t, http.StatusOK, code)
	require.NotEmpty(t, later)
	assert.Equal(t, uint64(2), later[0].Seq, "since=1 starts at 2")
	code, _ = get("?since=x")
	assert.Equal(t, http.StatusBadRequest, code)
}

// A hook that blocks never stalls the factory: its managers take their
// items while it waits, the ring keeps the last events, and once the hook
// returns it hears what the ring still holds, in order (a gap in Seq for
// what it missed).
func TestFactoryEventsSlowHook(t *testing.T) {
	e := newEnv(t)
	tt := taskType("slow", 4)
	// A window that opens every second and closes when the idle deal finds
	// no data: each thread group adds events every second, so the ring
	// overflows whatever event the blocked hook holds.
	tt.PermitRunStartTime = "* * * * * ?"
	e.applyTaskType(tt)
	e.applyStrategy(scheduleStrategy("slow-s", "slow", 2, 2))
	h := &hookLog{gate: make(chan struct{})}
	cfg := testConfig("a")
	cfg.EventHistory = 3
	f := runFactory(t, e, cfg, strategy.WithEvents(h.hook))
	var blocked uint64
	waitFor(t, 10*time.Second, func() (bool, string) {
		n := 0
		for _, m := range mustStrategy(t, f, "slow-s").Managers {
			n += len(m.Owned)
		}
		// The hook takes one event at a time and is blocked on the first
		// it was handed (not always event 1: under load the ring may
		// move on before the hook's goroutine runs). Once the ring's
		// oldest is past the next one, that next one was dropped.
		blocked = h.blockedOn()
		ev := f.Status().Events
		return n == 4 && blocked > 0 && len(ev) == 3 && ev[0].Seq > blocked+1,
			"both thread groups own their items while the hook is blocked, and the ring dropped events"
	})
	st := f.Status().Events
	assert.Len(t, st, 3, "the ring keeps the last 3")
	assert.Empty(t, h.events(), "the hook is still blocked")
	close(h.gate)
	waitFor(t, 10*time.Second, func() (bool, string) {
		heard := h.events()
		return len(heard) > 0 && heard[len(heard)-1].Seq >= st[2].Seq, "the hook caught up"
	})
	heard := h.events()
	for i := 1; i < len(heard); i++ {
		assert.Greater(t, heard[i].Seq, heard[i-1].Seq, "in order")
	}
	require.Greater(t, len(heard), 1)
	assert.Equal(t, blocked, heard[0].Seq, "the event it was blocked on")
	assert.Greater(t, heard[1].Seq, blocked+1, "a gap in Seq: the ring dropped the event after it")
}

func mustStrategy(t *testing.T, f *strategy.Factory, name string) strategy.StrategyStatus {
	s, _ := f.Status().Strategy(name)
	return s
}

// Without a hook the factory still keeps its events for Status.
func TestFactoryEventsWithoutHook(t *testing.T) {
	e := newEnv(t)
	e.applyTaskType(taskType("nohook", 1))
	e.applyStrategy(scheduleStrategy("nohook-s", "nohook", 1, 1))
	f := runFactory(t, e, testConfig("a"))
	waitFor(t, 10*time.Second, func() (bool, string) {
		return hasEvent(f.Status().Events, schedule.EventAcquire, "nohook-s"), "the grant is in Status.Events"
	})
}
