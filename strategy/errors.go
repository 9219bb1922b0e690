package strategy

import "errors"

// Sentinel errors of package strategy. Errors of the store keep their own
// sentinels (schedule.ErrConflict, schedule.ErrNotFound...) reachable with
// errors.Is as well. Invalid input wraps schedule.ErrInvalid; a call not
// allowed once Run has been called (RegisterDeal, RegisterTask, a second
// Run) wraps schedule.ErrRunning; a Bean task's Start that panicked is a
// *schedule.PanicError (Op "Start") in its copy's error.
var (
	// ErrDuplicate: a deal or task is already registered under that name
	// (the error wraps schedule.ErrInvalid too).
	ErrDuplicate = errors.New("strategy: duplicate name")
	// ErrUnknownDeal: a task type names a dealBeanName no RegisterDeal call
	// registered in this process (the error wraps schedule.ErrInvalid too,
	// as NewManager's for a nil deal does).
	ErrUnknownDeal = errors.New("strategy: no deal registered under that name")
	// ErrUnknownTask: a Bean strategy names a task no RegisterTask call
	// registered in this process (the error wraps schedule.ErrInvalid too).
	ErrUnknownTask = errors.New("strategy: no task registered under that name")
	// ErrTaskReturned: a Bean task's Start returned before its copy was
	// stopped (a nil error counts too: a copy runs until it is cancelled).
	ErrTaskReturned = errors.New("strategy: task returned before it was stopped")
	// ErrShutdownTimeout: Run's graceful stop did not finish within
	// Config.ShutdownTimeout (or ForceStop was called); the error names what
	// was still running.
	ErrShutdownTimeout = errors.New("strategy: shutdown timed out")
	// ErrInUse: an admin delete was refused because the object is in use
	// (live servers, live registrations, strategies naming a task type);
	// pass force to delete anyway.
	ErrInUse = errors.New("strategy: in use")
)
