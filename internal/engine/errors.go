package engine

import (
	"errors"

	"github.com/tbschedule/tbschedule-go/internal/apierr"
)

// Errors of the engine. The errors of New and Config.Validate wrap
// schedule.ErrInvalid (a NOTSLEEP deal without a key included), a second
// concurrent Run returns schedule.ErrRunning, and a recovered panic of user
// code is a *schedule.PanicError: the sentinels and the type every package
// of the library shares.
var (
	// ErrStuck: user code (a deal or SelectTasks) did not return within
	// Config.ShutdownTimeout plus Config.CancelGrace after Run's context was
	// cancelled; the error names the stuck goroutines and the items they work on.
	ErrStuck = errors.New("processor: user code did not return at shutdown")
)

// errInvalid, errRunning and panicError are schedule.ErrInvalid,
// schedule.ErrRunning and schedule.PanicError (package schedule imports this
// one, so they live in an internal package both use).
var (
	errInvalid = apierr.ErrInvalid
	errRunning = apierr.ErrRunning
)

type panicError = apierr.PanicError
