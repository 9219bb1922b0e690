package processor

import (
	"fmt"
	"time"
)

// Stats are the counters of a thread group's processing, TBSchedule's
// dealInfoDesc fields and a few more (schedule.Status.Stats sums them over
// the processors a manager ran). Records are counted one by one, also in
// multi deals.
type Stats struct {
	// FetchCalls counts SelectTasks calls (TBSchedule FetchDataCount).
	FetchCalls int64
	// FetchErrors counts SelectTasks calls that returned an error or panicked.
	FetchErrors int64
	// Fetched counts the records SelectTasks returned (FetchDataNum).
	Fetched int64
	// Succeeded counts records whose Execute (or batch) returned nil (DealDataSucess).
	Succeeded int64
	// Failed counts records whose deal returned an error or panicked, and
	// records dropped because their key panicked (DealDataFail).
	Failed int64
	// Panics counts recovered panics of deal calls and key functions (one per call).
	Panics int64
	// DealTime is the time spent executing records, summed over goroutines
	// (DealSpendTime). It is measured per group of records a goroutine takes.
	DealTime time.Duration
	// DuplicatesSuppressed counts fetched records not handed out because a
	// record with the same key was queued or executing (NOTSLEEP), TBSchedule's
	// otherCompareCount (which counted comparisons instead).
	DuplicatesSuppressed int64
	// Fenced counts fetched records dropped unexecuted because the thread
	// group was fenced (its session in doubt).
	Fenced int64
	// Dropped counts fetched records dropped unexecuted at shutdown.
	Dropped int64
	// Lapsed counts fetched records dropped unexecuted because the lease
	// (the session's) had lapsed when their turn came.
	Lapsed int64
	// Deferred counts fetched records not handed to the deal because a record
	// with their key failed and its backoff had not ended (see "Failed
	// records" in the package doc): they are executed when a later
	// SelectTasks returns them after it.
	Deferred int64
	// LastFetch is when the last SelectTasks call started; zero before the first.
	LastFetch time.Time
}

// DealInfoDesc formats s as TBSchedule's dealInfoDesc, e.g.
// "FetchDataCount=12,FetchDataNum=6000,DealDataSucess=6000,DealDataFail=0,DealSpendTime=31000,otherCompareCount=0"
// (DealSpendTime in milliseconds; the misspelling is TBSchedule's).
func (s Stats) DealInfoDesc() string {
	return fmt.Sprintf("FetchDataCount=%d,FetchDataNum=%d,DealDataSucess=%d,DealDataFail=%d,DealSpendTime=%d,otherCompareCount=%d",
		s.FetchCalls, s.Fetched, s.Succeeded, s.Failed, s.DealTime.Milliseconds(), s.DuplicatesSuppressed)
}

// Add returns the sum of s and o (LastFetch: the later one), for totals over
// successive processors.
func (s Stats) Add(o Stats) Stats {
	s.FetchCalls += o.FetchCalls
	s.FetchErrors += o.FetchErrors
	s.Fetched += o.Fetched
	s.Succeeded += o.Succeeded
	s.Failed += o.Failed
	s.Panics += o.Panics
	s.DealTime += o.DealTime
	s.DuplicatesSuppressed += o.DuplicatesSuppressed
	s.Fenced += o.Fenced
	s.Dropped += o.Dropped
	s.Lapsed += o.Lapsed
	s.Deferred += o.Deferred
	if o.LastFetch.After(s.LastFetch) {
		s.LastFetch = o.LastFetch
	}
	return s
}

// DropReason says why fetched records were dropped without being executed.
type DropReason string

// Drop reasons.
const (
	// DropFenced: the thread group was fenced (or the fetch ended after it).
	DropFenced DropReason = "fenced"
	// DropStopped: the thread group was stopped.
	DropStopped DropReason = "stopped"
	// DropLapsed: the session's lease had lapsed.
	DropLapsed DropReason = "lease lapsed"
)

// Metrics receives the events of a processor as they happen, for export to a
// metrics system. Methods are called on processor goroutines without locks
// held, concurrently; they must be fast and must not call back into the
// processor. A panic in them is recovered and logged. Embed NopMetrics to
// implement only some of them.
type Metrics interface {
	// Fetched is called after each SelectTasks call with the number of records
	// it returned, how many of them were suppressed as duplicates, its duration
	// and its error.
	Fetched(records, duplicates int, d time.Duration, err error)
	// Dealt is called after a goroutine executed a group of records: how many
	// succeeded and failed, and how long the group took.
	Dealt(succeeded, failed int, d time.Duration)
	// Dropped is called when fetched records are dropped without execution.
	Dropped(records int, reason DropReason)
	// Retrying is called after a goroutine's deal calls failed (error or
	// panic): records failed and will be retried after a backoff, and keys is
	// the number of keys now remembered as failing (at most 10,000). Its
	// sum counts failures, like Dealt's failed; a steady rate with a steady
	// keys is a record that keeps failing.
	Retrying(records, keys int)
}

// NopMetrics is a Metrics that records nothing. Embed it in an
// implementation: methods may be added to Metrics in later versions, and the
// embedded no-op implements them until the implementation catches up.
type NopMetrics struct{}

// Fetched implements Metrics; it does nothing.
func (NopMetrics) Fetched(int, int, time.Duration, error) {}

// Dealt implements Metrics; it does nothing.
func (NopMetrics) Dealt(int, int, time.Duration) {}

// Dropped implements Metrics; it does nothing.
func (NopMetrics) Dropped(int, DropReason) {}

// Retrying implements Metrics; it does nothing.
func (NopMetrics) Retrying(int, int) {}
