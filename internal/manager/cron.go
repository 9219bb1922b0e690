package manager

import (
	"errors"

	"github.com/tbschedule/tbschedule-go/internal/quartz"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// The permit window's crons parse with internal/quartz; a spec that does not
// parse is reported as a *schedule.CronError, as TaskType.Validate reports it.

// cronError turns the parser's error into a *schedule.CronError.
func cronError(err error) error {
	var qe *quartz.Error
	if errors.As(err, &qe) {
		return &schedule.CronError{Spec: qe.Spec, Field: qe.Field, Problem: qe.Problem}
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
