package strategy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// RunNow asks every thread group of a task type to open its permit window
// once for the current cycle, as "startrun:" does at start: name is a
// Schedule strategy, a task type, or a runtime (base$ownSign; the request
// is the base task type's, for every ownSign). It records the request in
// the task type (TaskType.RunNowAt, cluster time, and RunNowBy: by, or the
// admin's operator when by is "") with a compare-and-set, and returns the
// task type as written. The managers see it through the configuration watch
// they already have: within one watch round trip, each whose window is
// closed opens it (a window that ends when no data is left closes when the
// run finds nothing; one with an end cron at its next end), and each whose
// window is open already does nothing new; both are events
// (schedule.EventRunNow). A request is consumed once per manager, and no
// longer applies once the window's regular start has come.
//
// A name that is neither is an error wrapping schedule.ErrNotFound naming
// it; a Bean strategy, or a task type without a permit window (its thread
// groups always run), is an error wrapping schedule.ErrInvalid.
func (a *Admin) RunNow(ctx context.Context, name, by string) (schedule.TaskType, error) {
	base, err := a.runNowTarget(ctx, name)
	if err != nil {
		return schedule.TaskType{}, err
	}
	if by == "" {
		by = a.cfg.Operator
	}
	for range casRetries {
		tt, v, err := a.store.TaskType(ctx, base)
		if err != nil {
			return schedule.TaskType{}, fmt.Errorf("strategy: run-now %q: task type %q: %w", name, base, err)
		}
		if tt.PermitRunStartTime == "" {
			return schedule.TaskType{}, fmt.Errorf("%w: run-now %q: task type %q has no permit window (permitRunStartTime is empty): its thread groups always run",
				schedule.ErrInvalid, name, base)
		}
		now, err := a.store.Now(ctx)
		if err != nil {
			return schedule.TaskType{}, err
		}
		tt.RunNowAt, tt.RunNowBy = now.UTC().Truncate(time.Millisecond), by // as stored
		_, err = a.store.UpdateTaskType(ctx, tt, v)
		if errors.Is(err, schedule.ErrConflict) {
			continue
		}
		if err != nil {
			return schedule.TaskType{}, fmt.Errorf("strategy: run-now %q: %w", name, err)
		}
		return tt, nil
	}
	return schedule.TaskType{}, fmt.Errorf("strategy: run-now %q: %w (%d concurrent changes in a row)", name, schedule.ErrConflict, casRetries)
}

// runNowTarget resolves name (a Schedule strategy, a task type or a
// runtime) to a base task type.
func (a *Admin) runNowTarget(ctx context.Context, name string) (string, error) {
	s, _, err := a.store.Strategy(ctx, name)
	switch {
	case err == nil && s.Kind != schedule.KindSchedule:
		return "", fmt.Errorf("%w: run-now %q: a %s strategy runs no task type", schedule.ErrInvalid, name, s.Kind)
	case err == nil:
		base, _, err := schedule.SplitRuntimeName(s.TaskName)
		return base, err
	case !errors.Is(err, schedule.ErrNotFound) && !errors.Is(err, schedule.ErrInvalid):
		return "", err
	}
	base, _, err := schedule.SplitRuntimeName(name)
	if err != nil {
		return "", fmt.Errorf("%w: run-now: %q is neither a strategy nor a task type", schedule.ErrNotFound, name)
	}
	if _, _, err := a.store.TaskType(ctx, base); err != nil {
		if errors.Is(err, schedule.ErrNotFound) || errors.Is(err, schedule.ErrInvalid) {
			return "", fmt.Errorf("%w: run-now: %q is neither a strategy nor a task type", schedule.ErrNotFound, name)
		}
		return "", err
	}
	return base, nil
}

// keepRunNow returns t with the run-now request of cur when t carries none
// (a document applied does not cancel or repeat a request).
func keepRunNow(t, cur schedule.TaskType) schedule.TaskType {
	if t.RunNowAt.IsZero() {
		t.RunNowAt, t.RunNowBy = cur.RunNowAt, cur.RunNowBy
	}
	return t
}
