package schedule

import "time"

// Metrics receives the events of a Manager worth counting or graphing. All
// methods must be cheap and safe for concurrent use. Embed NopMetrics to
// implement only some of them.
type Metrics interface {
	// ItemsOwned reports how many items the server owns now.
	ItemsOwned(runtime string, server ServerID, n int)
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
}

// NopMetrics is a Metrics that records nothing.
type NopMetrics struct{}

func (NopMetrics) ItemsOwned(string, ServerID, int)           {}
func (NopMetrics) LeaderChanged(string, ServerID, bool)       {}
func (NopMetrics) ItemReleased(string, ItemID, time.Duration) {}
func (NopMetrics) SessionState(string, SessionState)          {}
func (NopMetrics) WindowChanged(string, bool)                 {}
func (NopMetrics) Conflict(string, string)                    {}
