package processor

import (
	"errors"
	"fmt"
	"time"
)

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

// Config holds the tunables of one processor (one thread group). The zero
// value is not valid: start from DefaultConfig. The manager fills it from the
// task type (TBSchedule's baseTaskType fields of the same names).
type Config struct {
	// Type is Sleep or NotSleep. Default Sleep.
	Type Type
	// ThreadNumber is the number of worker goroutines. Must be at least 1.
	// Default 5. Too few starve a slow deal; each costs one goroutine.
	ThreadNumber int
	// FetchDataNumber is passed to SelectTasks as SelectRequest.FetchNum, a hint
	// of how many records to return. Must be at least 1. Default 500. Small
	// values mean many SelectTasks calls; large ones delay handover (Release
	// waits for every record of a fetch).
	FetchDataNumber int
	// ExecuteNumber is the largest batch handed to ExecuteBatch of a multi
	// deal. Must be at least 1. Default 1. Single deals ignore it (as
	// TBSchedule does). A batch never mixes records of two fetches.
	ExecuteNumber int
	// SleepTimeNoData is the pause after a SelectTasks call that returned no
	// record (unless PauseWhenNoData). Must not be negative. Default 500ms.
	// Zero makes an idle processor call SelectTasks in a tight loop.
	SleepTimeNoData time.Duration
	// SleepTimeInterval is the pause before every SelectTasks call. Must not be
	// negative. Default 0.
	SleepTimeInterval time.Duration
	// ShutdownTimeout is how long Run, once its context is cancelled, lets
	// running deals finish before cancelling their contexts. Must not be
	// negative. Default 5s. Zero cancels them at once.
	ShutdownTimeout time.Duration
	// CancelGrace is how long Run waits, after cancelling the contexts of deals
	// still running at ShutdownTimeout, before it returns ErrStuck naming the
	// deals that ignored the cancellation. Must not be negative. Default 1s.
	CancelGrace time.Duration
	// TaskParameter is passed to every SelectTasks call.
	TaskParameter string
	// OwnSign is the environment tag passed to every user call. Default "BASE".
	OwnSign string
	// TaskItemNum is the total number of task items of the task type, passed to
	// SelectTasks (for "mod(id, taskItemNum) in (...)"). Must not be negative.
	TaskItemNum int
	// FetchDataCountEachSchedule caps the SelectTasks calls of one Run: when the
	// cap is reached the processor stops fetching, finishes what it fetched and
	// reports PauseFetchLimit to OnPause. -1 (default) or 0: no cap.
	// Counted per processor, not per goroutine (TBSchedule counted per thread).
	FetchDataCountEachSchedule int
	// RetryMin is the backoff of a record after its first failure (the deal
	// returned an error or panicked): a later SelectTasks that returns a record
	// with the same key gets it held back (Stats.Deferred) until a delay drawn
	// from [RetryMin/2, RetryMin] has passed; each further failure in a row
	// doubles it, up to RetryMax; a success forgets the key. Records of other
	// keys are not slowed. Without a key, the fetch backs off instead (see the
	// package doc). Must not be negative; zero means the default, 100ms. Too
	// small lets a record that keeps failing load the deal's dependencies
	// (and the logs) many times a second; too large delays a record that
	// failed once for a transient reason.
	RetryMin time.Duration
	// RetryMax caps the backoff of a record that keeps failing. Must not be
	// negative, and not less than RetryMin; zero means the default, 30s (or
	// RetryMin if that is larger). Too
	// small retries a poisoned record often forever; too large delays a
	// record for that long after its cause was fixed.
	RetryMax time.Duration
	// PauseWhenNoData: when true, a SelectTasks call that returns no record
	// (while the processor owns items) stops fetching for the rest of the Run,
	// and the processor reports PauseNoData to OnPause once what it fetched is
	// finished. For windows without an end ("pause when no data").
	PauseWhenNoData bool

	// OnNoData, if set, is called after every SelectTasks call that returned
	// no record (fetches happen only while the processor owns items). Not a
	// tunable but a hook: it runs on the fetching goroutine without locks held,
	// before the SleepTimeNoData pause; a panic in it is recovered and logged.
	// The manager uses it to close a window without an end.
	OnNoData func()
	// OnPause, if set, is called once per Run when the processor has stopped
	// fetching by itself (PauseWhenNoData or FetchDataCountEachSchedule) and
	// every record it fetched is finished: the thread group is drained and
	// the Run may be stopped until the next window. Same calling rules as
	// OnNoData.
	OnPause func(PauseReason)
}

// DefaultConfig returns the defaults documented on each Config field.
func DefaultConfig() Config {
	return Config{
		Type:                       Sleep,
		ThreadNumber:               5,
		FetchDataNumber:            500,
		ExecuteNumber:              1,
		SleepTimeNoData:            500 * time.Millisecond,
		SleepTimeInterval:          0,
		ShutdownTimeout:            5 * time.Second,
		CancelGrace:                time.Second,
		OwnSign:                    "BASE",
		FetchDataCountEachSchedule: -1,
		RetryMin:                   defaultRetryMin,
		RetryMax:                   defaultRetryMax,
	}
}

// Defaults of RetryMin and RetryMax, also used when they are zero.
const (
	defaultRetryMin = 100 * time.Millisecond
	defaultRetryMax = 30 * time.Second
)

// retryPolicy returns the backoff of failed records, zero fields taking their
// defaults.
func (c Config) retryPolicy() retryPolicy {
	pol := retryPolicy{min: c.RetryMin, max: c.RetryMax}
	if pol.min == 0 {
		pol.min = defaultRetryMin
	}
	if pol.max == 0 {
		pol.max = max(defaultRetryMax, pol.min)
	}
	return pol
}

// Validate reports every invalid field at once, each error naming the field
// and wrapping ErrInvalid.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if c.Type != Sleep && c.Type != NotSleep {
		bad("Config.Type (%q) must be %q or %q", c.Type, Sleep, NotSleep)
	}
	if c.ThreadNumber < 1 {
		bad("Config.ThreadNumber (%d) must be at least 1", c.ThreadNumber)
	}
	if c.FetchDataNumber < 1 {
		bad("Config.FetchDataNumber (%d) must be at least 1", c.FetchDataNumber)
	}
	if c.ExecuteNumber < 1 {
		bad("Config.ExecuteNumber (%d) must be at least 1", c.ExecuteNumber)
	}
	if c.SleepTimeNoData < 0 {
		bad("Config.SleepTimeNoData (%s) must not be negative", c.SleepTimeNoData)
	}
	if c.SleepTimeInterval < 0 {
		bad("Config.SleepTimeInterval (%s) must not be negative", c.SleepTimeInterval)
	}
	if c.ShutdownTimeout < 0 {
		bad("Config.ShutdownTimeout (%s) must not be negative", c.ShutdownTimeout)
	}
	if c.CancelGrace < 0 {
		bad("Config.CancelGrace (%s) must not be negative", c.CancelGrace)
	}
	if c.TaskItemNum < 0 {
		bad("Config.TaskItemNum (%d) must not be negative", c.TaskItemNum)
	}
	if c.FetchDataCountEachSchedule < -1 {
		bad("Config.FetchDataCountEachSchedule (%d) must be -1 (no cap) or more", c.FetchDataCountEachSchedule)
	}
	if c.RetryMin < 0 {
		bad("Config.RetryMin (%s) must not be negative", c.RetryMin)
	}
	if c.RetryMax < 0 {
		bad("Config.RetryMax (%s) must not be negative", c.RetryMax)
	}
	if pol := c.retryPolicy(); c.RetryMin >= 0 && c.RetryMax >= 0 && pol.max < pol.min {
		bad("Config.RetryMax (%s) must be at least Config.RetryMin (%s)", pol.max, pol.min)
	}
	return errors.Join(errs...)
}
