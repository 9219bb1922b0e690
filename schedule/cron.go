package schedule

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tbschedule/tbschedule-go/internal/quartz"
)

// A task type's permit window is written in TBSchedule's Quartz-style cron
// dialect (internal/quartz documents it); the functions here parse it and
// report its errors as *CronError.

// CronError is a cron specification that does not parse. It wraps ErrInvalid.
type CronError struct {
	// Spec is the specification as given.
	Spec string
	// Field is the cron field at fault ("second", ..., "day-of-week",
	// "year"), or empty when the problem is the whole specification.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error returns `schedule: cron "<spec>": <field>: <problem>`.
func (e *CronError) Error() string {
	return fmt.Sprintf("schedule: cron %q: %s", e.Spec, e.detail())
}

// detail is the error without the prefix and the spec.
func (e *CronError) detail() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// Unwrap returns ErrInvalid.
func (e *CronError) Unwrap() error { return ErrInvalid }

// cronError turns the parser's error into a *CronError.
func cronError(err error) error {
	var qe *quartz.Error
	if errors.As(err, &qe) {
		return &CronError{Spec: qe.Spec, Field: qe.Field, Problem: qe.Problem}
	}
	return err
}

// parseCron parses a cron of the dialect.
func parseCron(spec string) (*quartz.Cron, error) {
	c, err := quartz.Parse(spec)
	return c, cronError(err)
}

// parseWindowStart parses a permitRunStartTime (see quartz.ParseStart).
func parseWindowStart(spec string) (c *quartz.Cron, runNow bool, err error) {
	c, runNow, err = quartz.ParseStart(spec)
	return c, runNow, cronError(err)
}

// isPauseWhenNoDataEnd reports whether a permitRunEndTime means "pause when
// SelectTasks returns nothing, resume at the next start": blank or "-1".
func isPauseWhenNoDataEnd(spec string) bool { return quartz.NoDataEnd(spec) }

// blankSpec reports whether s is empty or white space.
func blankSpec(s string) bool { return strings.TrimSpace(s) == "" }
