package strategy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// defaultEventHistory is the ring's size when Config.EventHistory is 0.
const defaultEventHistory = 1000

// WithEvents sets a hook that receives every event of the factory and of
// its managers and their processors (schedule.Event): ownership changes,
// lock-delay holds, fences, windows, run-now requests, failed starts and
// failing records. Default none.
//
// The loops never wait for the hook: they append each event to the
// factory's ring (Config.EventHistory, shown in Status.Events and the health
// JSON), and one goroutine of Run's hands them to fn in order (Seq). A slow
// fn falls behind without slowing the loops; if it falls behind by more
// than the ring, it skips the events the ring dropped (a gap in Seq, and a
// warning in the log). A panic in fn is recovered and logged. Run delivers
// the events of its graceful stop before it returns, so a fn that never
// returns keeps Run from returning.
func WithEvents(fn func(schedule.Event)) Option {
	return func(o *options) { o.events = fn }
}

// history is the factory's ring of the last events, and the cursor of the
// hook's delivery.
type history struct {
	notify chan struct{} // coalescing: an event was added

	mu   sync.Mutex // guards the fields below
	ring []schedule.Event
	next uint64 // the Seq of the next event (from 1)
}

func newHistory(size int) *history {
	if size == 0 {
		size = defaultEventHistory
	}
	return &history{notify: make(chan struct{}, 1), ring: make([]schedule.Event, size), next: 1}
}

// add numbers e and keeps it, dropping the oldest when the ring is full.
// It never blocks for long: safe to call from any loop.
func (h *history) add(e schedule.Event) {
	if h == nil {
		return // a Factory not made by NewFactory (tests)
	}
	h.mu.Lock()
	e.Seq = h.next
	h.ring[int(h.next%uint64(len(h.ring)))] = e
	h.next++
	h.mu.Unlock()
	signal(h.notify)
}

// since returns the events kept with Seq >= from, oldest first, and how many
// events from that point were dropped from the ring before they were read.
func (h *history) since(from uint64) (evs []schedule.Event, skipped uint64) {
	if h == nil {
		return nil, 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := uint64(len(h.ring))
	oldest := uint64(1)
	if h.next > n {
		oldest = h.next - n
	}
	if from < oldest {
		skipped, from = oldest-from, oldest
	}
	for s := from; s < h.next; s++ {
		evs = append(evs, h.ring[int(s%n)])
	}
	return evs, skipped
}

// first returns the oldest event kept with Seq >= from (ok false when there
// is none yet), and how many events from that point were dropped from the
// ring before they were read.
func (h *history) first(from uint64) (e schedule.Event, skipped uint64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := uint64(len(h.ring))
	if h.next > n && from < h.next-n {
		skipped, from = h.next-n-from, h.next-n
	}
	if from >= h.next {
		return schedule.Event{}, skipped, false
	}
	return h.ring[int(from%n)], skipped, true
}

// deliver hands the events to fn in order until stop is closed, then hands
// over what is left and returns. It takes one event from the ring at a time,
// so a hook that blocks holds up only the event it was given: the ring alone
// decides what is dropped.
func (f *Factory) deliver(stop <-chan struct{}, fn func(schedule.Event)) {
	next := uint64(1)
	for {
		stopping := false
		select {
		case <-f.history.notify:
		case <-stop:
			stopping = true
		}
		for {
			e, skipped, ok := f.history.first(next)
			if skipped > 0 {
				f.log.Warn("the events hook fell behind; events dropped from the ring before it saw them",
					"skipped", skipped, "eventHistory", len(f.history.ring))
			}
			if !ok {
				break
			}
			f.callHook(fn, e)
			next = e.Seq + 1
		}
		if stopping {
			return
		}
	}
}

// callHook calls fn, recovering a panic.
func (f *Factory) callHook(fn func(schedule.Event), e schedule.Event) {
	defer func() {
		if r := recover(); r != nil {
			f.log.Error("the events hook panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn(e)
}

// startDelivery starts the hook's goroutine (none without a hook) and
// returns the function that ends it after a last delivery.
func (f *Factory) startDelivery() (stop func()) {
	if f.hook == nil {
		return func() {}
	}
	ch := make(chan struct{})
	f.goFunc(func() { f.deliver(ch, f.hook) })
	return func() { close(ch) }
}

// event keeps an event of the factory or of a manager of strategy.
func (f *Factory) event(strategy string, e schedule.Event) {
	e.Strategy = strategy
	if e.Time.IsZero() {
		e.Time = f.clock.Now()
	}
	f.history.add(e)
}

// managerEvents is the events hook of a manager of strategy.
func (f *Factory) managerEvents(strategy string) func(schedule.Event) {
	return func(e schedule.Event) { f.event(strategy, e) }
}

// lastEvents returns up to n of the last events (all kept when n <= 0), oldest
// first.
func (f *Factory) lastEvents(n int) []schedule.Event {
	evs, _ := f.history.since(0)
	if n > 0 && len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	return evs
}

// startFailedEvent describes a failed start of the unit key.
func startFailedEvent(key string, err error) schedule.Event {
	msg := firstLine(err.Error())
	if key != "" {
		msg = key + ": " + msg
	}
	return schedule.Event{Kind: schedule.EventStartFailed, Message: msg}
}

// eventsBody is the JSON answer of /events.
type eventsBody struct {
	Events []schedule.Event `json:"events"`
}

// serveEvents answers /events (see Health).
func (f *Factory) serveEvents(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			http.Error(w, fmt.Sprintf("since=%q: not a sequence number (a non-negative integer)", s), http.StatusBadRequest)
			return
		}
		since = n
	}
	evs, _ := f.history.since(since + 1)
	if evs == nil {
		evs = []schedule.Event{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_ = json.NewEncoder(w).Encode(eventsBody{Events: evs})
	}
}
