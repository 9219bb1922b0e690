// Package apierr holds the errors every public package shares: the one
// sentinel of invalid input, the one of a second Run, and the one type a
// recovered panic of user code becomes. Package schedule exports them
// (schedule.ErrInvalid, schedule.ErrRunning, schedule.PanicError); package
// processor, which schedule imports and so cannot import it back, uses them
// from here, so that errors.Is and errors.As work the same on the errors of
// every package.
package apierr

import (
	"errors"
	"fmt"
)

// ErrInvalid is schedule.ErrInvalid.
var ErrInvalid = errors.New("schedule: invalid")

// ErrRunning is schedule.ErrRunning.
var ErrRunning = errors.New("schedule: already running")

// PanicError is schedule.PanicError: a panic of user code (a deal, a key
// function, a hook, a Bean task), recovered by the library and turned into
// an error.
type PanicError struct {
	// Op is the user call that panicked: "SelectTasks", "Execute",
	// "ExecuteBatch", "Key", "Start" (a Bean task) or a hook name.
	Op string
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error implements error: "panic in <Op>: <Value>".
func (e *PanicError) Error() string {
	return fmt.Sprintf("panic in %s: %v", e.Op, e.Value)
}

// Unwrap returns the panic value when it is itself an error, so errors.Is
// sees through a panic(err).
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Invalidf returns an error wrapping ErrInvalid with the message format
// says: "schedule: invalid: <message>".
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
