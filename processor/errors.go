package processor

import "errors"

// Sentinel errors of the processor package. Errors returned by New, Run and
// Config.Validate wrap them, so callers test with errors.Is.
var (
	// ErrInvalid: a Config field or a deal is invalid; the error names every
	// field at fault.
	ErrInvalid = errors.New("processor: invalid")
	// ErrNoKey: a NOTSLEEP processor was asked to run a deal without a key per
	// task (see WithKey).
	ErrNoKey = errors.New("processor: NOTSLEEP needs a key per task")
	// ErrRunning: Run was called while another Run of the same processor is
	// still running.
	ErrRunning = errors.New("processor: already running")
	// ErrStuck: user code (a deal or SelectTasks) did not return within
	// Config.ShutdownTimeout plus Config.CancelGrace after Run's context was
	// cancelled; the error names the stuck goroutines and the items they work on.
	ErrStuck = errors.New("processor: user code did not return at shutdown")
	// ErrPanic: user code panicked; the error carries the panic value and the
	// stack (see PanicError).
	ErrPanic = errors.New("processor: panic in user code")
)

// PanicError is the error a recovered panic of user code becomes. It unwraps
// to ErrPanic.
type PanicError struct {
	// Op is the user call that panicked: "SelectTasks", "Execute",
	// "ExecuteBatch", "Key" or a hook name.
	Op string
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error implements error.
func (e *PanicError) Error() string {
	return "processor: panic in " + e.Op + ": " + sprint(e.Value)
}

// Unwrap returns ErrPanic, and the panic value when it is itself an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}
