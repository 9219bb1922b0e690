package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

func runNowCmd() command {
	return command{
		name:    "run-now",
		args:    "STRATEGY|TASKTYPE",
		summary: "open a task type's permit window once for the current cycle, as startrun: does at start",
		help: `The request is recorded in the task type (runNowAt, runNowBy) and reaches
every thread group through the configuration watch it already has: each
whose window is closed opens it within one watch round trip and runs until
the window's end (when no data is left, or its end cron); each whose window
is open already does nothing new. A request is consumed once per thread
group and no longer applies once the window's regular start has come. Each
thread group records what it did as an event (Status.Events, /events).`,
		example: "  tbsctl run-now orders-base\n  tbsctl run-now orders",
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			by := fs.String("by", "", "who asks, recorded as runNowBy (default: this user@host)")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("run-now", args, 1, 1, "one strategy or task type name"); err != nil {
					return err
				}
				admin, store, err := c.adminAPI(ctx)
				if err != nil {
					return err
				}
				tt, err := admin.RunNow(ctx, args[0], *by)
				if errors.Is(err, schedule.ErrNotFound) {
					return fmt.Errorf("run-now: %w", c.missing(err, "strategy or task type", args[0], runNowHint(ctx, store, args[0])))
				}
				if err != nil {
					return fmt.Errorf("run-now: %w", err)
				}
				c.out("run-now %s: task type %s, asked by %s at %s\n", args[0], tt.BaseTaskType, tt.RunNowBy,
					fmtTime(schedule.Time{Time: tt.RunNowAt}))
				return c.reportRunNow(ctx, store, tt)
			}
		},
	}
}

// reportRunNow says, per runtime of tt, what its thread groups will do
// with the request, from the window states they published last.
func (c *cli) reportRunNow(ctx context.Context, store *zkstore.Store, tt schedule.TaskType) error {
	rts, err := store.Runtimes(ctx, tt.BaseTaskType)
	if err != nil {
		return err
	}
	found := false
	for _, rt := range rts {
		svs, err := store.Servers(ctx, rt)
		if err != nil {
			return err
		}
		if len(svs) == 0 {
			continue
		}
		found = true
		closed, open := 0, 0
		for _, sv := range svs {
			if sv.WindowState == "open" {
				open++
			} else {
				closed++
			}
		}
		c.out("  %s: %d thread group(s): %d open their window now, %d open already (nothing new)\n", rt, len(svs), closed, open)
	}
	if !found {
		c.out("  no thread group runs it now: nothing runs until one starts in this cycle\n")
	}
	if tt.Sts == schedule.StsPause {
		c.out("  note: the task type is paused (sts: pause): nothing is fetched until it is resumed\n")
	}
	return nil
}

// runNowHint suggests the nearest strategy or task type name.
func runNowHint(ctx context.Context, store *zkstore.Store, name string) string {
	var known []string
	if sts, err := store.Strategies(ctx); err == nil {
		for _, s := range sts {
			known = append(known, s.StrategyName)
		}
	}
	if tts, err := store.TaskTypes(ctx); err == nil {
		for _, t := range tts {
			known = append(known, t.BaseTaskType)
		}
	}
	if near, _ := nearestName(name, known); near != "" {
		return fmt.Sprintf("did you mean %s?", near)
	}
	return `"tbsctl strategies" lists the strategies`
}
