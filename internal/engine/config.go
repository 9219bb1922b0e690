package engine

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/dealrun"
	"github.com/tbschedule/tbschedule-go/processor"
)

// Config holds the tunables of one processor (one thread group). A zero
// field means its default, so Config{} is the default configuration (as is
// DefaultConfig(), which spells the defaults out); where "none" is a value
// of its own (no pause, no grace), a negative duration says it. The manager
// fills it from the task type (TBSchedule's baseTaskType fields of the same
// names).
type Config struct {
	// Type is Sleep or NotSleep. Default (""): Sleep.
	Type processor.Type
	// ThreadNumber is the number of worker goroutines. Default (0): 5. Too
	// few starve a slow deal; each costs one goroutine.
	ThreadNumber int
	// FetchDataNumber is passed to SelectTasks as SelectRequest.FetchNum, a hint
	// of how many records to return. Default (0): 500. Small values mean many
	// SelectTasks calls; large ones delay handover (Release waits for every
	// record of a fetch).
	FetchDataNumber int
	// ExecuteNumber is the largest batch handed to ExecuteBatch of a multi
	// deal. Default (0): 1. Single deals ignore it (as TBSchedule does). A
	// batch never mixes records of two fetches.
	ExecuteNumber int
	// SleepTimeNoData is the pause after a SelectTasks call that returned no
	// record (unless PauseWhenNoData). Default (0): 500ms. Negative: no
	// pause, which makes an idle processor call SelectTasks in a tight loop.
	SleepTimeNoData time.Duration
	// SleepTimeInterval is the pause before every SelectTasks call. Default
	// (0): none. Must not be negative.
	SleepTimeInterval time.Duration
	// ShutdownTimeout is how long Run, once its context is cancelled, lets
	// running deals finish before cancelling their contexts. Default (0): 5s.
	// Negative: cancel them at once.
	ShutdownTimeout time.Duration
	// CancelGrace is how long Run waits, after cancelling the contexts of deals
	// still running at ShutdownTimeout, before it returns ErrStuck naming the
	// deals that ignored the cancellation. Default (0): 1s. Negative: no
	// wait.
	CancelGrace time.Duration
	// TaskParameter is passed to every SelectTasks call.
	TaskParameter string
	// OwnSign is the environment tag passed to every user call. Default
	// (""): "BASE".
	OwnSign string
	// TaskItemNum is the total number of task items of the task type, passed to
	// SelectTasks (for "mod(id, taskItemNum) in (...)"). Must not be negative.
	TaskItemNum int
	// FetchDataCountEachSchedule caps the SelectTasks calls of one Run: when the
	// cap is reached the processor stops fetching, finishes what it fetched and
	// reports PauseFetchLimit to OnPause. Default (0), or -1: no cap.
	// Counted per processor, not per goroutine (TBSchedule counted per thread).
	FetchDataCountEachSchedule int
	// RetryMin is the backoff of a record after its first failure (the deal
	// returned an error or panicked): a later SelectTasks that returns a record
	// with the same key gets it held back (Stats.Deferred) until a delay drawn
	// from [RetryMin/2, RetryMin] has passed; each further failure in a row
	// doubles it, up to RetryMax; a success forgets the key. Records of other
	// keys are not slowed. Without a key, the fetch backs off instead (see the
	// package doc). Default (0): 100ms. Must not be negative. Too
	// small lets a record that keeps failing load the deal's dependencies
	// (and the logs) many times a second; too large delays a record that
	// failed once for a transient reason.
	RetryMin time.Duration
	// RetryMax caps the backoff of a record that keeps failing. Default (0):
	// 30s, or RetryMin if that is larger. Must not be negative, and not less
	// than RetryMin. Too small retries a poisoned record often forever; too
	// large delays a record for that long after its cause was fixed.
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

// Defaults of Config's fields.
const (
	defaultThreadNumber    = 5
	defaultFetchDataNumber = 500
	defaultExecuteNumber   = 1
	defaultSleepTimeNoData = 500 * time.Millisecond
	defaultShutdownTimeout = 5 * time.Second
	defaultCancelGrace     = time.Second
	defaultOwnSign         = "BASE"
	defaultRetryMin        = 100 * time.Millisecond
	defaultRetryMax        = 30 * time.Second
)

// DefaultConfig returns the defaults documented on each Config field: the
// configuration Config{} means, spelled out.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults returns c with every zero field set to its default: the one
// place defaults are applied (New and Validate use it). Negative "none"
// values are kept (readers take max(v, 0)), so withDefaults is idempotent
// and its result means what c means.
func (c Config) withDefaults() Config {
	c.Type = cmp.Or(c.Type, processor.Sleep)
	c.ThreadNumber = cmp.Or(c.ThreadNumber, defaultThreadNumber)
	c.FetchDataNumber = cmp.Or(c.FetchDataNumber, defaultFetchDataNumber)
	c.ExecuteNumber = cmp.Or(c.ExecuteNumber, defaultExecuteNumber)
	c.SleepTimeNoData = cmp.Or(c.SleepTimeNoData, defaultSleepTimeNoData)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, defaultShutdownTimeout)
	c.CancelGrace = cmp.Or(c.CancelGrace, defaultCancelGrace)
	c.OwnSign = cmp.Or(c.OwnSign, defaultOwnSign)
	c.FetchDataCountEachSchedule = cmp.Or(c.FetchDataCountEachSchedule, -1)
	c.RetryMin = cmp.Or(c.RetryMin, defaultRetryMin)
	c.RetryMax = cmp.Or(c.RetryMax, max(defaultRetryMax, c.RetryMin))
	return c
}

// retryPolicy returns the backoff of failed records (of a config with its
// defaults applied).
func (c Config) retryPolicy() dealrun.RetryPolicy {
	return dealrun.RetryPolicy{Min: c.RetryMin, Max: c.RetryMax}
}

// Validate reports every invalid field at once (zero fields take their
// defaults first), each error naming the field and wrapping
// schedule.ErrInvalid.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: processor.Config."+format, append([]any{errInvalid}, args...)...))
	}
	if c.Type != processor.Sleep && c.Type != processor.NotSleep {
		bad("Type (%q) must be %q or %q", c.Type, processor.Sleep, processor.NotSleep)
	}
	if c.ThreadNumber < 1 {
		bad("ThreadNumber (%d) must be at least 1", c.ThreadNumber)
	}
	if c.FetchDataNumber < 1 {
		bad("FetchDataNumber (%d) must be at least 1", c.FetchDataNumber)
	}
	if c.ExecuteNumber < 1 {
		bad("ExecuteNumber (%d) must be at least 1", c.ExecuteNumber)
	}
	if c.SleepTimeInterval < 0 {
		bad("SleepTimeInterval (%s) must not be negative", c.SleepTimeInterval)
	}
	if c.TaskItemNum < 0 {
		bad("TaskItemNum (%d) must not be negative", c.TaskItemNum)
	}
	if c.FetchDataCountEachSchedule < -1 {
		bad("FetchDataCountEachSchedule (%d) must be -1 (no cap) or more", c.FetchDataCountEachSchedule)
	}
	if c.RetryMin < 0 {
		bad("RetryMin (%s) must not be negative", c.RetryMin)
	}
	if c.RetryMax < 0 {
		bad("RetryMax (%s) must not be negative", c.RetryMax)
	}
	if c.RetryMin >= 0 && c.RetryMax >= 0 && c.RetryMax < c.RetryMin {
		bad("RetryMax (%s) must be at least processor.Config.RetryMin (%s)", c.RetryMax, c.RetryMin)
	}
	return errors.Join(errs...)
}
