package schedule

import (
	"fmt"
	"time"
)

// EventKind says what an Event is about.
type EventKind int

// The kinds of Event. Ownership: the leader grants and asks for handovers;
// owners acquire and release. Liveness: lock-delay holds, fences. Work:
// permit windows, run-now requests, failed starts and failing records.
const (
	// EventGrant: the leader granted Items (each with its new epoch) to
	// Server.
	EventGrant EventKind = iota + 1
	// EventHandover: the leader asked Server, the owner of Items, to hand
	// them over (Message names to whom, or that they are removed).
	EventHandover
	// EventAcquire: Server, this process's thread group, owns Items under
	// new epochs.
	EventAcquire
	// EventRelease: Server handed Items over at a batch boundary (Message
	// names to whom).
	EventRelease
	// EventHoldStart: the leader saw Server vanish while owning Items and
	// holds them for its lock delay (Message says until when).
	EventHoldStart
	// EventHoldEnd: the hold of the vanished Server's items ended (they
	// were released, granted again, or Server came back).
	EventHoldEnd
	// EventFence: Server stopped its work because its session is suspect
	// or lost (Message says why); EventUnfence: it works again.
	EventFence
	EventUnfence
	// EventWindowOpen and EventWindowClose: the permit window of Server
	// opened or closed.
	EventWindowOpen
	EventWindowClose
	// EventRunNow: an operator's run-now request opened the window once,
	// or was not needed (Message says which and who asked).
	EventRunNow
	// EventStartFailed: the factory failed to start a unit of Strategy
	// (retried with backoff; Message is the error).
	EventStartFailed
	// EventRecordFailing: the deal failed on a record key for the first time
	// (Message is the key and the error; later retries are not events);
	// EventRecordRecovered: a failing key succeeded.
	EventRecordFailing
	EventRecordRecovered
)

var eventKindNames = [...]string{"", "grant", "handover", "acquire", "release", "hold-start", "hold-end",
	"fence", "unfence", "window-open", "window-close", "run-now", "start-failed", "record-failing", "record-recovered"}

// String returns the kind's name, e.g. "grant" or "hold-start".
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// MarshalText writes the kind's name (for JSON).
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one change worth telling an operator: who owns which item and
// why it moved, holds, fences, windows, failed starts and failing records.
// Every thread group of a strategy.Factory delivers its events to the
// factory, which keeps the last ones of its process (Status.Events, the
// health JSON) and hands them to strategy.WithEvents.
type Event struct {
	// Seq numbers the events of a strategy.Factory from 1 (0 outside a
	// factory).
	Seq  uint64    `json:"seq,omitempty"`
	Time time.Time `json:"time"`
	Kind EventKind `json:"kind"`
	// Runtime is the task type's runtime (TaskType$ownSign), split into
	// TaskType and OwnSign; Strategy is set by the factory. All three are
	// empty for a factory event without a task type.
	Runtime  string `json:"runtime,omitempty"`
	TaskType string `json:"taskType,omitempty"`
	OwnSign  string `json:"ownSign,omitempty"`
	Strategy string `json:"strategy,omitempty"`
	// Server is the thread group concerned: the grantee of a grant, the
	// vanished server of a hold, this process's otherwise.
	Server ServerID `json:"server,omitempty"`
	// Items are the items concerned, with their epoch where one applies (a
	// grant or acquire: the new one; a release or handover: the one given
	// up). Parameter is not set.
	Items   []OwnedItem `json:"items,omitempty"`
	Message string      `json:"message,omitempty"`
}

// String formats the event on one line for logs and tbsctl.
func (e Event) String() string {
	s := e.Time.UTC().Format("2006-01-02T15:04:05.000Z") + " " + e.Kind.String()
	if e.Runtime != "" {
		s += " " + e.Runtime
	}
	if e.Server != "" {
		s += " server=" + string(e.Server)
	}
	if len(e.Items) > 0 {
		s += " items="
		for i, it := range e.Items {
			if i > 0 {
				s += ","
			}
			s += string(it.ID)
			if it.Epoch != 0 {
				s += fmt.Sprintf("@%d", it.Epoch)
			}
		}
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}
