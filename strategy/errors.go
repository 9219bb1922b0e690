package strategy

import "errors"

// Sentinel errors of package strategy. Errors of the store keep their own
// sentinels (schedule.ErrConflict, schedule.ErrNotFound...) reachable with
// errors.Is as well.
var (
	// ErrRunning: the call is not allowed once Run has been called
	// (RegisterDeal, RegisterTask, a second Run).
	ErrRunning = errors.New("strategy: factory already running")
	// ErrDuplicate: a deal or task is already registered under that name.
	ErrDuplicate = errors.New("strategy: duplicate name")
	// ErrUnknownDeal: a task type names a dealBeanName no RegisterDeal call
	// registered in this process.
	ErrUnknownDeal = errors.New("strategy: no deal registered under that name")
	// ErrUnknownTask: a Bean strategy names a task no RegisterTask call
	// registered in this process.
	ErrUnknownTask = errors.New("strategy: no task registered under that name")
	// ErrTaskReturned: a Bean task's Start returned before its copy was
	// stopped (a nil error counts too: a copy runs until it is cancelled).
	ErrTaskReturned = errors.New("strategy: task returned before it was stopped")
	// ErrTaskPanicked: a Bean task's Start panicked; the error carries the
	// panic value and the stack.
	ErrTaskPanicked = errors.New("strategy: task panicked")
	// ErrShutdownTimeout: Run's graceful stop did not finish within
	// Config.ShutdownTimeout (or ForceStop was called); the error names what
	// was still running.
	ErrShutdownTimeout = errors.New("strategy: shutdown timed out")
	// ErrInUse: an admin delete was refused because the object is in use
	// (live servers, live registrations, strategies naming a task type);
	// pass force to delete anyway.
	ErrInUse = errors.New("strategy: in use")
)
