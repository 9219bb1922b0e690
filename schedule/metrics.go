package schedule

import (
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
)

// Metrics receives the events of a thread group's manager worth counting or
// graphing (strategy.WithMetrics hands it to every thread group), and
// hands out the receiver of its processors' events. All methods must be cheap
// and safe for concurrent use.
//
// Implementations must embed NopMetrics (or strategy.NopMetrics): methods may
// be added to this interface in later versions, and the embedded no-op
// implements them until the implementation catches up.
type Metrics interface {
	// ItemsOwned reports how many items the server owns now.
	ItemsOwned(runtime string, server ServerID, n int)
	// ItemsGranted counts items newly granted to the server, each grant
	// with a new, larger epoch (an item it already owned under an older
	// epoch and got again counts too).
	ItemsGranted(runtime string, n int)
	// LeaderChanged reports whether this server leads its runtime now.
	LeaderChanged(runtime string, server ServerID, leader bool)
	// ItemReleased reports a handover at a batch boundary and how long the
	// release waited for in-flight records.
	ItemReleased(runtime string, item ItemID, wait time.Duration)
	// SessionState reports a session state change seen by the manager.
	SessionState(runtime string, st SessionState)
	// WindowChanged reports the permit window opening or closing.
	WindowChanged(runtime string, open bool)
	// Conflict counts a lost compare-and-set (a concurrent change; retried).
	Conflict(runtime string, op string)
	// Balanced reports a leader's balancing round: the item writes it made
	// (grants and handover requests), the items it holds back for the lock
	// delay of vanished servers, and the items beyond the live servers'
	// capacity left unassigned.
	Balanced(runtime string, writes, held, unassigned int)
	// HoldEnded reports the end of a lock-delay hold of a vanished server's
	// items (they were granted again, or the server came back) and how long
	// it lasted since the leader first saw the server gone.
	HoldEnded(runtime string, d time.Duration)
	// Processor returns the receiver of the events of the runtime's
	// processors (records fetched, executed, failed, dropped), or nil for
	// none. The manager calls it once, when it is created.
	Processor(runtime string) processor.Metrics
}

// NopMetrics is a Metrics that records nothing; embed it in an
// implementation.
type NopMetrics struct{}

func (NopMetrics) ItemsOwned(string, ServerID, int)           {}
func (NopMetrics) LeaderChanged(string, ServerID, bool)       {}
func (NopMetrics) ItemReleased(string, ItemID, time.Duration) {}
func (NopMetrics) SessionState(string, SessionState)          {}
func (NopMetrics) WindowChanged(string, bool)                 {}
func (NopMetrics) Conflict(string, string)                    {}

// Balanced implements Metrics; it does nothing.
func (NopMetrics) Balanced(string, int, int, int) {}

// ItemsGranted implements Metrics; it does nothing.
func (NopMetrics) ItemsGranted(string, int) {}

// HoldEnded implements Metrics; it does nothing.
func (NopMetrics) HoldEnded(string, time.Duration) {}

// Processor implements Metrics; it returns nil (no processor metrics).
func (NopMetrics) Processor(string) processor.Metrics { return nil }
