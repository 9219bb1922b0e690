package ctl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// missingError says in one line that a named object does not exist, in
// place of the store's layered "zkstore: get PATH: schedule: not found (zk:
// node does not exist)". It still matches schedule.ErrNotFound.
type missingError struct{ msg string }

func (e *missingError) Error() string { return e.msg }
func (e *missingError) Unwrap() error { return schedule.ErrNotFound }

// missing turns a not-found error about kind name into one plain line
// (hint, if any, is added after it); other errors are returned as they are.
func (c *cli) missing(err error, kind, name, hint string) error {
	if !errors.Is(err, schedule.ErrNotFound) {
		return err
	}
	msg := fmt.Sprintf("%s %q does not exist under %s", kind, name, c.g.root)
	if hint != "" {
		msg += "; " + hint
	}
	return &missingError{msg: msg}
}

// strategyHint explains a name given where a strategy is wanted that names
// a task type instead, listing the strategies that run it.
func strategyHint(ctx context.Context, store *zkstore.Store, name string) string {
	if _, _, err := store.TaskType(ctx, name); err != nil {
		return `"tbsctl strategies" lists the strategies`
	}
	sts, err := store.Strategies(ctx)
	if err != nil {
		return ""
	}
	var runs []string
	for _, s := range sts {
		if base, _, _ := schedule.SplitRuntimeName(s.TaskName); s.Kind == schedule.KindSchedule && base == name {
			runs = append(runs, s.StrategyName)
		}
	}
	sort.Strings(runs)
	if len(runs) == 0 {
		return fmt.Sprintf("%q is a task type; this command takes a strategy, and no strategy runs it", name)
	}
	return fmt.Sprintf("%q is a task type; this command takes a strategy: the strategies running it are %s", name, strings.Join(runs, ", "))
}
