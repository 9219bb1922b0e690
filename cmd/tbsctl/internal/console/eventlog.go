package console

import (
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// ringSize is how many events the console keeps per task type.
const ringSize = 200

// maxGoneRings is how many lists of deleted task types the console keeps.
const maxGoneRings = 64

// consoleEvent is one line of a task type's recent events.
type consoleEvent struct {
	// At is when the console saw the change; After, when set, is when it
	// had looked before: the change happened in between, while no page
	// made it look.
	At      time.Time  `json:"at"`
	After   *time.Time `json:"after,omitempty"`
	OwnSign string     `json:"ownSign,omitempty"`
	Kind    string     `json:"kind"`
	Text    string     `json:"text"`
	// Source is "seen" for a change read in the tree, "audit" for a change
	// made through this console (its audit record).
	Source string `json:"source"`
}

// eventRing is one task type's last events, oldest first.
type eventRing struct {
	since  time.Time
	events []consoleEvent
}

func (r *eventRing) add(e consoleEvent) {
	if len(r.events) == ringSize {
		r.events = slices.Delete(r.events, 0, 1)
	}
	r.events = append(r.events, e)
}

func (r *eventRing) last() time.Time {
	if len(r.events) == 0 {
		return r.since
	}
	return r.events[len(r.events)-1].At
}

// eventLog keeps what the console saw: the memory of its last reads of
// status, strategies and each task type's configuration, and per task type
// the events found between them (see events.go for how).
type eventLog struct {
	// gap is how long between two reads means no page made the console
	// look: the events found then say between which times they happened.
	gap time.Duration
	mu  sync.Mutex // guards the rest
	// The last read of each kind, and when it started (a read that started
	// before it and ended after it is older: it is dropped).
	status       statusMemory
	statusAt     time.Time
	strategies   strategyMemory
	strategiesAt time.Time
	configs      map[string]*configMemory
	configsAt    map[string]time.Time
	rings        map[string]*eventRing
}

func newEventLog(gap time.Duration) *eventLog {
	return &eventLog{gap: gap, configs: map[string]*configMemory{}, configsAt: map[string]time.Time{}, rings: map[string]*eventRing{}}
}

// observeRead takes a fresh read of the read cache: status and strategies
// are compared with the last ones.
func (l *eventLog) observeRead(args []string, started, at time.Time, res Result) {
	if !res.OK() {
		return
	}
	switch {
	case slices.Equal(args, statusArgs):
		var st statusView
		if json.Unmarshal([]byte(res.Out), &st) != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if started.Before(l.statusAt) {
			return
		}
		evs, next := statusEvents(l.status, st)
		for name := range next {
			l.ring(name, at)
		}
		l.record(evs, l.statusAt, at)
		l.status, l.statusAt = next, started
		l.dropGone()
	case slices.Equal(args, strategiesArgs):
		var list []strategyView
		if json.Unmarshal([]byte(res.Out), &list) != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if started.Before(l.strategiesAt) {
			return
		}
		evs, next := strategyEvents(l.strategies, list)
		l.record(evs, l.strategiesAt, at)
		l.strategies, l.strategiesAt = next, started
	}
}

// observeConfig takes a read of a task type's stored configuration.
func (l *eventLog) observeConfig(name string, doc []byte, version int32, started, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if started.Before(l.configsAt[name]) {
		return
	}
	evs, next, err := configEvents(l.configs[name], doc, version)
	if err != nil {
		return
	}
	for i := range evs {
		evs[i].TaskType = name
	}
	l.record(evs, l.configsAt[name], at)
	l.configs[name], l.configsAt[name] = next, started
}

// observeAudit takes a change made through the console.
func (l *eventLog) observeAudit(rec auditRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range auditTaskTypes(rec, l.strategies) {
		l.ring(name, rec.At).add(consoleEvent{At: rec.At, Kind: "console change", Text: auditText(rec), Source: "audit"})
	}
}

// record adds events seen at at, the last read having started at prev.
func (l *eventLog) record(evs []seenEvent, prev, at time.Time) {
	var after *time.Time
	if !prev.IsZero() && at.Sub(prev) > l.gap {
		after = &prev
	}
	for _, e := range evs {
		l.ring(e.TaskType, at).add(consoleEvent{At: at, After: after, OwnSign: e.OwnSign, Kind: e.Kind, Text: e.Text, Source: "seen"})
	}
}

// ring returns a task type's ring, made now if new.
func (l *eventLog) ring(name string, now time.Time) *eventRing {
	r := l.rings[name]
	if r == nil {
		r = &eventRing{since: now}
		l.rings[name] = r
	}
	return r
}

// dropGone forgets the events of the deleted task types beyond
// maxGoneRings, the longest quiet first.
func (l *eventLog) dropGone() {
	var gone []string
	for name := range l.rings {
		if _, ok := l.status[name]; !ok {
			gone = append(gone, name)
		}
	}
	if len(gone) <= maxGoneRings {
		return
	}
	slices.SortFunc(gone, func(a, b string) int { return l.rings[a].last().Compare(l.rings[b].last()) })
	for _, name := range gone[:len(gone)-maxGoneRings] {
		delete(l.rings, name)
	}
}

// events returns a task type's events, newest first (those seen at once
// in the order found), and since when the console has kept them (zero: it
// has seen nothing of it yet).
func (l *eventLog) events(name string) (time.Time, []consoleEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rings[name]
	if r == nil {
		return time.Time{}, []consoleEvent{}
	}
	out := make([]consoleEvent, 0, len(r.events))
	for end := len(r.events); end > 0; {
		start := end - 1
		for start > 0 && r.events[start-1].At.Equal(r.events[end-1].At) {
			start--
		}
		out = append(out, r.events[start:end]...)
		end = start
	}
	return r.since, out
}
