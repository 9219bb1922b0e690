package engine

import "github.com/tbschedule/tbschedule-go/processor"

// PauseReason says why a processor stopped fetching by itself for the rest of
// a Run.
type PauseReason string

// Pause reasons.
const (
	// PauseNoData: Config.PauseWhenNoData and SelectTasks returned no record.
	PauseNoData PauseReason = "no data"
	// PauseFetchLimit: Config.FetchDataCountEachSchedule SelectTasks calls were made.
	PauseFetchLimit PauseReason = "fetch limit"
)

// Status is a snapshot of a processor.
type Status struct {
	// Type is the processor's type.
	Type processor.Type
	// Running: a Run is in progress.
	Running bool
	// Fenced: Fence was called and Unfence not yet.
	Fenced bool
	// Paused is set once the processor stopped fetching by itself for the rest
	// of the Run; empty otherwise.
	Paused PauseReason
	// Items are the items the processor fetches for.
	Items []processor.TaskItem
	// Fetching: a SelectTasks call is in progress.
	Fetching bool
	// Queued counts fetched records not yet handed to a goroutine.
	Queued int
	// Unfinished counts fetched records not yet finished (queued, taken or
	// executing), the records Release and Fence wait for.
	Unfinished int
	// Executing counts goroutines executing records.
	Executing int
	// Stragglers counts goroutines still in user code after a Run returned
	// ErrStuck.
	Stragglers int
	// FailingKeys counts the keys the processor remembers as failing: their
	// records back off until they succeed. At most 10,000.
	FailingKeys int
	// Stats are the counters since New.
	Stats processor.Stats
}
