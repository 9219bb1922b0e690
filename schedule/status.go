package schedule

import (
	"github.com/tbschedule/tbschedule-go/processor"
)

// OwnedItem is an item a server owns, with the epoch of its grant.
type OwnedItem struct {
	ID        ItemID `json:"id"`
	Parameter string `json:"parameter,omitempty"`
	Epoch     int64  `json:"epoch,omitempty"`
}

// WindowStatus says whether the permit window is open and when it changes.
type WindowStatus struct {
	// State is "open", "closed", "paused-no-data" (SelectTasks returned
	// nothing and the window ends on no data) or "paused" (the operator
	// paused the task type: sts pause; items stay owned, nothing is fetched).
	State     string
	NextStart Time
	NextEnd   Time
}

// Status is a snapshot of a thread group's manager for operators and tests
// (strategy.Status lists them per strategy).
type Status struct {
	Runtime string
	// Server is this server's id under its current session ("" if not registered).
	Server   ServerID
	Leader   ServerID
	IsLeader bool
	Session  SessionState
	// Owned are the items this server processes now; Releasing those it hands
	// over at the next batch boundary.
	Owned     []OwnedItem
	Releasing []ItemID
	// Servers and Items count the live servers and active items seen last.
	Servers, Items int
	// Unassigned counts items beyond the capacity of the live servers (leader only).
	Unassigned int
	// Held counts items of vanished servers that the leader does not grant
	// yet, waiting for their lock delay (Server.TakeoverDelay; leader only).
	Held   int
	Window WindowStatus
	Stats  processor.Stats
	// LastError is the last error the manager retried after ("" if none).
	LastError string
}
