package strategy

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func seqs(evs []schedule.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// The ring keeps the last size events, numbered from 1; a reader behind
// the ring learns how many it missed.
func TestHistoryRingBound(t *testing.T) {
	h := newHistory(3)
	evs, skipped := h.since(1)
	assert.Empty(t, evs)
	assert.Zero(t, skipped)
	for range 10 {
		h.add(schedule.Event{Kind: schedule.EventGrant})
	}
	evs, skipped = h.since(1)
	assert.Equal(t, []uint64{8, 9, 10}, seqs(evs), "the last 3 of 10")
	assert.Equal(t, uint64(7), skipped, "1..7 were dropped")
	evs, skipped = h.since(9)
	assert.Equal(t, []uint64{9, 10}, seqs(evs))
	assert.Zero(t, skipped)
	evs, _ = h.since(11)
	assert.Empty(t, evs, "nothing new")
	assert.Len(t, newHistory(0).ring, defaultEventHistory, "0 means the default")
	var none *history
	none.add(schedule.Event{})
	evs, _ = none.since(1)
	assert.Nil(t, evs, "a factory not made by NewFactory has no ring")
}

func TestConfigEventHistory(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", "h"
	assert.Equal(t, defaultEventHistory, cfg.EventHistory, "the default, which 0 means too")
	assert.Equal(t, defaultEventHistory, Config{}.withDefaults().EventHistory)
	cfg.EventHistory = -1
	err := cfg.Validate()
	require.Error(t, err)
	assert.True(t, errors.Is(err, schedule.ErrInvalid))
	assert.Contains(t, err.Error(), "Config.EventHistory (-1) must not be negative")
}

func TestStartFailedEvent(t *testing.T) {
	e := startFailedEvent("Schedule|t|x", errors.New("no deal\nstack"))
	assert.Equal(t, schedule.Event{Kind: schedule.EventStartFailed, Message: "Schedule|t|x: no deal"}, e)
	assert.Equal(t, "no deal", startFailedEvent("", errors.New("no deal")).Message)
}

// A blocked hook holds up only the event it was given: while it waits on
// event 1 the ring (3) moves on to 3..5, so after it returns it hears 3, 4
// and 5 and event 2 is skipped. (Taking the ring's whole contents at once
// hid the drop: the hook then heard 1..5 from a ring of 3.)
func TestDeliverTakesOneEventAtATime(t *testing.T) {
	f := &Factory{history: newHistory(3), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for range 3 {
		f.history.add(schedule.Event{Kind: schedule.EventGrant})
	}
	entered, gate := make(chan uint64, 10), make(chan struct{})
	var heard []uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		f.deliver(stop, func(e schedule.Event) {
			heard = append(heard, e.Seq)
			entered <- e.Seq
			if e.Seq == 1 {
				<-gate
			}
		})
	}()
	require.Equal(t, uint64(1), <-entered, "the hook is handed event 1 and blocks")
	f.history.add(schedule.Event{Kind: schedule.EventGrant})
	f.history.add(schedule.Event{Kind: schedule.EventGrant})
	close(gate)
	close(stop)
	<-done
	assert.Equal(t, []uint64{1, 3, 4, 5}, heard, "event 2 left the ring while the hook was blocked")
}
