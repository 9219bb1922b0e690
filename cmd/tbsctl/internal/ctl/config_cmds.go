package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// plan is what applying one entry does.
type plan struct {
	entry
	found   bool   // stored already
	corrupt bool   // stored but undecodable
	diff    string // "" when equal
}

type applyOpts struct {
	dryRun bool
}

// applyEntries validates every entry, compares it with the store, prints
// what changes and (unless dry run) writes the changes, task types first.
// Nothing is written when anything is wrong. parseErr holds the problems
// found while reading the file; they are reported with the others, and
// problems of the file alone are reported before connecting.
func (c *cli) applyEntries(ctx context.Context, es []entry, parseErr error, o applyOpts) error {
	errs := leafErrors(parseErr)
	seen := map[string]string{}
	fileTT := map[string]bool{}
	var valid []entry
	for _, e := range es {
		key := e.kind() + " " + e.name()
		if prev, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("%s: %s %q is also defined at %s", e.where, e.kind(), e.name(), prev))
		}
		seen[key] = e.where
		var err error
		if e.tt != nil {
			fileTT[e.tt.BaseTaskType] = true
			err = e.tt.Validate()
		} else {
			err = e.st.Validate()
		}
		if err != nil {
			errs = append(errs, leafErrors(placeFields(e.where, err, e.at))...)
			continue
		}
		valid = append(valid, e)
	}
	if len(errs) > 0 {
		return c.reportProblems(errs)
	}
	open := c.adminAPI
	if o.dryRun {
		open = c.readAdmin
	}
	admin, store, err := open(ctx)
	if err != nil {
		return err
	}
	var plans []plan
	for _, e := range valid {
		if problem := scheduleTaskMissing(ctx, store, e, fileTT); problem != nil {
			errs = append(errs, problem)
			continue
		}
		p, err := comparePlan(ctx, store, e)
		if err != nil {
			return err
		}
		plans = append(plans, p)
	}
	if len(errs) > 0 {
		return c.reportProblems(errs)
	}
	// Task types before strategies: a Schedule strategy needs its task type.
	sort.SliceStable(plans, func(i, j int) bool { return plans[i].tt != nil && plans[j].tt == nil })
	counts := map[string]int{}
	for _, p := range plans {
		verb := "unchanged"
		switch {
		case !p.found:
			verb = "created"
		case p.diff != "":
			verb = "updated: " + p.diff
		}
		if o.dryRun {
			if verb != "unchanged" {
				verb = "would be " + verb
			}
			c.out("%s %s: %s\n", p.kind(), p.name(), verb)
			continue
		}
		var changed bool
		var err error
		if p.tt != nil {
			changed, err = admin.ApplyTaskType(ctx, *p.tt)
		} else {
			changed, err = admin.ApplyStrategy(ctx, *p.st)
		}
		if err != nil {
			return fmt.Errorf("%s: %s %q: %w", p.where, p.kind(), p.name(), err)
		}
		if !changed {
			verb = "unchanged"
		}
		counts[strings.Fields(verb)[0]]++
		c.out("%s %s: %s\n", p.kind(), p.name(), verb)
	}
	if o.dryRun {
		c.out("dry run: nothing was written\n")
	} else {
		c.out("%d created, %d updated, %d unchanged\n", counts["created"], counts["updated:"], counts["unchanged"])
	}
	return nil
}

// configReader reads the stored task types and strategies.
type configReader interface {
	TaskType(ctx context.Context, name string) (schedule.TaskType, schedule.Version, error)
	Strategy(ctx context.Context, name string) (schedule.Strategy, schedule.Version, error)
}

// scheduleTaskMissing is the problem of a Schedule strategy whose task
// type is neither among have (the task types being written) nor stored;
// nil when there is none.
func scheduleTaskMissing(ctx context.Context, store configReader, e entry, have map[string]bool) error {
	if e.st == nil || e.st.Kind != schedule.KindSchedule {
		return nil
	}
	base, _, _ := schedule.SplitRuntimeName(e.st.TaskName)
	if have[base] {
		return nil
	}
	if _, _, err := store.TaskType(ctx, base); errors.Is(err, schedule.ErrNotFound) {
		return fmt.Errorf("%s: strategy %q: taskName %q: task type %q is neither in the file nor stored", e.where, e.st.StrategyName, e.st.TaskName, base)
	}
	return nil
}

// comparePlan compares an entry with what is stored. A document without
// sts takes the stored one.
func comparePlan(ctx context.Context, store configReader, e entry) (plan, error) {
	p := plan{entry: e}
	var cur, next any
	var rerr error
	if e.tt != nil {
		var t schedule.TaskType
		t, _, rerr = store.TaskType(ctx, e.tt.BaseTaskType)
		if rerr == nil && !e.hasSts {
			e.tt.Sts = t.Sts
		}
		cur, next = t, *e.tt
	} else {
		var s schedule.Strategy
		s, _, rerr = store.Strategy(ctx, e.st.StrategyName)
		if rerr == nil && !e.hasSts {
			e.st.Sts = s.Sts
		}
		cur, next = s, *e.st
	}
	switch {
	case rerr == nil:
		p.found = true
		p.diff = diffJSON(cur, next)
	case errors.Is(rerr, schedule.ErrNotFound):
	case errors.Is(rerr, schedule.ErrCorrupt):
		p.found, p.corrupt = true, true
		p.diff = "replaces undecodable data"
	default:
		return plan{}, rerr
	}
	return p, nil
}

// leafErrors splits joined errors (errors.Join, at any depth) into the
// problems they hold, so each is printed on its own line and counted once.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if u, ok := err.(*unreadable); ok {
		return leafErrors(u.err)
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leafErrors(e)...)
	}
	return out
}

// reportProblems prints every problem and fails.
func (c *cli) reportProblems(errs []error) error {
	for _, err := range errs {
		fmt.Fprintf(c.io.Err, "tbsctl: %v\n", err)
	}
	fmt.Fprintf(c.io.Err, "tbsctl: %d problem(s); nothing was written\n", len(errs))
	return errSilent
}

// diffJSON lists the fields that differ between two records, by their
// JSON names: `threadNumber 5 -> 10; sts "resume" -> "pause"`.
func diffJSON(cur, next any) string {
	a, b := fieldsOf(cur), fieldsOf(next)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		x, y := a[k], b[k]
		if bytes.Equal(x, y) {
			continue
		}
		if x == nil {
			x = []byte("(none)")
		}
		if y == nil {
			y = []byte("(none)")
		}
		parts = append(parts, fmt.Sprintf("%s %s -> %s", k, x, y))
	}
	return strings.Join(parts, "; ")
}

func fieldsOf(v any) map[string]json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	for k, raw := range m {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			m[k] = buf.Bytes()
		}
	}
	return m
}

// readFileArg checks that a command got -f and no arguments, and reads the
// file, or standard input for "-".
func (c *cli) readFileArg(cmd string, args []string, path string) ([]byte, error) {
	if err := needArgs(cmd, args, 0, 0, "no arguments (give the file with -f)"); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, usagef("%s: -f FILE is required", cmd)
	}
	if path == "-" {
		return io.ReadAll(c.io.In)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

func applyCmd() command {
	return command{
		name:    "apply",
		args:    "-f FILE",
		summary: "create or update task types and strategies from a YAML or JSON file",
		help: `
The file holds one task type or strategy, a list of them, or a map with the
lists "taskTypes" and "strategies" (the format of "tbsctl export"); YAML may
hold several documents separated by "---". Field names are TBSchedule's
(baseTaskType, heartBeatRate in ms, judgeDeadInterval, taskItems, IPList,
assignNum, numOfSingleServer, kind, taskName, sts...), exactly as spelled:
a field it does not know ("ipList", "threadNum") is an error naming its
line and column and the nearest known name. Every object is
validated first and nothing is written if any is invalid; each write is a
compare-and-set against the version just read. A document without "sts"
keeps the stored sts, so apply never resumes a paused strategy by accident.
It prints what changed, field by field. "-f -" reads standard input.`,
		example: `  cat > orders.yaml <<'YAML'
  taskTypes:
    - baseTaskType: orders
      dealBeanName: orderDeal
      heartBeatRate: 5000
      judgeDeadInterval: 60000
      threadNumber: 4
      taskItems: ["0", "1", "2", "3"]
  strategies:
    - strategyName: orders-base
      kind: Schedule
      taskName: orders
      assignNum: 2
      IPList: ["127.0.0.1"]
  YAML
  tbsctl apply -f orders.yaml --dry-run
  tbsctl apply -f orders.yaml`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			file := fs.String("f", "", "the file to apply (- for standard input)")
			dry := fs.Bool("dry-run", false, "validate and show what would change, write nothing")
			return func(ctx context.Context, c *cli, args []string) error {
				data, err := c.readFileArg("apply", args, *file)
				if err != nil {
					return err
				}
				es, _, perr := readEntries(*file, data, formatOurs)
				return c.applyEntries(ctx, es, perr, applyOpts{dryRun: *dry})
			}
		},
	}
}

// objectKind normalizes the kind argument of get and delete.
func objectKind(cmd, s string) (string, error) {
	switch strings.ToLower(s) {
	case "tasktype", "tasktypes", "basetasktype", "tt":
		return "taskType", nil
	case "strategy", "strategies", "st":
		return "strategy", nil
	}
	return "", usagef("%s: unknown kind %q (taskType or strategy)", cmd, s)
}

func getCmd() command {
	return command{
		name:    "get",
		args:    "taskType|strategy NAME",
		summary: "print one task type or strategy as stored, ready to edit and apply",
		example: `  tbsctl get taskType orders
  tbsctl get strategy orders-base -o yaml > s.yaml && vi s.yaml && tbsctl apply -f s.yaml`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			out := outputFlag(fs, "json", "json", "yaml")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("get", args, 2, 2, "a kind and a name"); err != nil {
					return err
				}
				if err := checkOutput("get", *out, "json", "yaml"); err != nil {
					return err
				}
				kind, err := objectKind("get", args[0])
				if err != nil {
					return err
				}
				store, err := c.readStore(ctx)
				if err != nil {
					return err
				}
				var rec any
				if kind == "taskType" {
					rec, _, err = store.TaskType(ctx, args[1])
				} else {
					rec, _, err = store.Strategy(ctx, args[1])
				}
				if err != nil {
					return fmt.Errorf("get: %w", c.missing(err, kind, args[1], ""))
				}
				b, err := json.MarshalIndent(rec, "", "  ")
				if err != nil {
					return err
				}
				return writeJSONAs(c.io.Out, b, *out)
			}
		},
	}
}

func deleteCmd() command {
	return command{
		name:    "delete",
		args:    "taskType|strategy NAME",
		summary: "delete a task type (with its runtimes) or a strategy",
		help: `
A strategy with live registrations is refused unless --force: then the
strategy is paused, the factories stop its thread groups cleanly (their
items are handed over) and leave it, and the strategy is deleted once they
are gone (or after --wait). A task type is refused while one of its
runtimes has live servers or a strategy names it, unless --force.`,
		example: `  tbsctl delete strategy orders-test
  tbsctl delete strategy orders-base --force --wait 1m
  tbsctl delete taskType orders`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			force := fs.Bool("force", false, "delete even if in use (a strategy is paused and its registrations waited for first)")
			wait := fs.Duration("wait", strategy.DefaultForceWait, "with --force: how long to wait for the factories to leave a strategy")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("delete", args, 2, 2, "a kind and a name"); err != nil {
					return err
				}
				kind, err := objectKind("delete", args[0])
				if err != nil {
					return err
				}
				name := args[1]
				store, err := c.openStore(ctx)
				if err != nil {
					return err
				}
				admin := strategy.NewAdmin(store, strategy.AdminConfig{ForceWait: *wait})
				if kind == "taskType" {
					if _, _, err := store.TaskType(ctx, name); errors.Is(err, schedule.ErrNotFound) {
						return fmt.Errorf("delete: %w", c.missing(err, "taskType", name, ""))
					}
					if err := admin.DeleteTaskType(ctx, name, *force); err != nil {
						return fmt.Errorf("delete taskType %q: %w", name, err)
					}
					c.out("taskType %s: deleted with its runtimes\n", name)
					return nil
				}
				if _, _, err := store.Strategy(ctx, name); errors.Is(err, schedule.ErrNotFound) {
					return fmt.Errorf("delete: %w", c.missing(err, "strategy", name, ""))
				}
				if *force {
					if err := c.stopRegistrations(ctx, name, *wait); err != nil {
						return err
					}
					// Waited above; the admin's own wait is then a formality.
					admin = strategy.NewAdmin(store, strategy.AdminConfig{ForceWait: time.Millisecond})
				}
				if err := admin.DeleteStrategy(ctx, name, *force); err != nil {
					return fmt.Errorf("delete strategy %q: %w", name, err)
				}
				c.out("strategy %s: deleted\n", name)
				return nil
			}
		},
	}
}

// stopRegistrations pauses a strategy and waits (at most wait) until no
// factory is registered under it, reporting what it saw.
func (c *cli) stopRegistrations(ctx context.Context, name string, wait time.Duration) error {
	admin, store, err := c.adminAPI(ctx)
	if err != nil {
		return err
	}
	rts, err := store.StrategyRuntimes(ctx, name)
	if err != nil {
		return err
	}
	if len(rts) == 0 {
		return nil
	}
	start := time.Now()
	if _, err := admin.PauseStrategy(ctx, name); err != nil && !errors.Is(err, schedule.ErrCorrupt) {
		return fmt.Errorf("delete strategy %q: pause: %w", name, err)
	}
	var ids []string
	for _, rt := range rts {
		ids = append(ids, string(rt.UUID))
	}
	slices.Sort(ids)
	c.out("strategy %s: paused; waiting for %d registration(s) to stop: %s\n", name, len(rts), strings.Join(ids, ", "))
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	remaining := len(rts)
	for {
		left, err := store.StrategyRuntimes(wctx, name)
		if err == nil {
			remaining = len(left)
		}
		if err == nil && remaining == 0 {
			c.out("strategy %s: every registration stopped in %v\n", name, time.Since(start).Round(time.Millisecond))
			return nil
		}
		if err != nil && wctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			c.out("strategy %s: %d registration(s) still there after %v; deleting anyway (their factories stop them when they see the deletion)\n", name, remaining, wait)
			return nil
		case <-tick.C:
		}
	}
}

// readConfig reads every task type and strategy, sorted by name.
func (c *cli) readConfig(ctx context.Context) (configFile, error) {
	store, err := c.readStore(ctx)
	if err != nil {
		return configFile{}, err
	}
	tts, err := store.TaskTypes(ctx)
	if err != nil {
		return configFile{}, err
	}
	sts, err := store.Strategies(ctx)
	if err != nil {
		return configFile{}, err
	}
	sort.Slice(tts, func(i, j int) bool { return tts[i].BaseTaskType < tts[j].BaseTaskType })
	sort.Slice(sts, func(i, j int) bool { return sts[i].StrategyName < sts[j].StrategyName })
	if tts == nil {
		tts = []schedule.TaskType{}
	}
	if sts == nil {
		sts = []schedule.Strategy{}
	}
	return configFile{ExportedFrom: c.g.root, TaskTypes: tts, Strategies: sts}, nil
}

func exportCmd() command {
	return command{
		name:    "export",
		args:    "",
		summary: "write every task type and strategy, in our format or the Java console's",
		help: `
--format ours (default) writes the document "tbsctl apply" and "tbsctl
import" read (JSON, or YAML with -o yaml). --format java writes TBSchedule's
console export: one JSON line per node, {"rootPath","configType","name",
"value"}, which the Java console imports too.`,
		example: `  tbsctl export > backup.json
  tbsctl export --format java --out tbschedule-config.txt
  tbsctl -root /orders-staging import -f backup.json`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			format := fs.String("format", formatOurs, "ours or java")
			out := outputFlag(fs, "json", "json", "yaml")
			file := fs.String("out", "", "write to this file instead of standard output")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("export", args, 0, 0, "no arguments"); err != nil {
					return err
				}
				if err := checkOutput("export", *out, "json", "yaml"); err != nil {
					return err
				}
				if *format != formatOurs && *format != formatJava {
					return usagef("export: --format %q: must be ours or java", *format)
				}
				cf, err := c.readConfig(ctx)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if *format == formatJava {
					err = writeJava(&buf, c.g.root, cf)
				} else {
					err = writeOurs(&buf, cf, *out)
				}
				if err != nil {
					return err
				}
				if *file == "" {
					_, err = c.io.Out.Write(buf.Bytes())
					return err
				}
				if err := os.WriteFile(*file, buf.Bytes(), 0o644); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				fmt.Fprintf(c.io.Err, "exported %d task type(s) and %d strategy(ies) to %s\n", len(cf.TaskTypes), len(cf.Strategies), *file)
				return nil
			}
		},
	}
}
