package processor

import "github.com/tbschedule/tbschedule-go/internal/apierr"

// errInvalid and panicError are schedule.ErrInvalid and schedule.PanicError
// (package schedule imports this one, so they live in an internal package
// both use): a deal built from nil parts carries an error wrapping
// ErrInvalid, which the manager reports, and a recovered panic of user code
// is a *schedule.PanicError.
var errInvalid = apierr.ErrInvalid

type panicError = apierr.PanicError
