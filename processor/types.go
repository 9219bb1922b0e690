package processor

// Type selects how a processor's goroutines fetch and execute records. The
// values are TBSchedule's spelling.
type Type string

// Processor types.
const (
	// Sleep (TBSchedule "SLEEP"): the goroutines share one queue; when it is
	// empty, the last goroutine to go idle fetches while the others wait, so a
	// fetch never overlaps an execution of the group. Simple and duplicate-free,
	// but one slow record delays the next fetch for the whole group.
	Sleep Type = "SLEEP"
	// NotSleep (TBSchedule "NOTSLEEP"): any idle goroutine fetches as soon as
	// the queue is empty, while others may still execute; records whose key is
	// still queued or executing are not handed out again. Needs a key per task.
	NotSleep Type = "NOTSLEEP"
)
