package ctl

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tbschedule/tbschedule-go/schedule"
)

type importOpts struct {
	dryRun  bool
	force   bool // overwrite existing objects that differ
	partial bool // write the valid objects even if some are skipped
}

// outcome is what importing one object did or would do.
type outcome struct {
	plan
	// problems: why the object is skipped (none: it is written).
	problems []error
	verb     string // created, updated, unchanged (after the write)
}

func (o outcome) skipped() bool { return len(o.problems) > 0 }

// importEntries imports every entry on its own: each object is reported
// (created, updated, unchanged, or skipped with the reasons), the valid
// ones are written when nothing is skipped or with partial, and the error
// is errSilent when anything was skipped (exit code 1). parseErr holds the
// records that could not be read, each one skipped.
func (c *cli) importEntries(ctx context.Context, es []entry, parseErr error, o importOpts) error {
	unread := recordErrors(parseErr)
	outs := checkImport(es)
	if len(outs) == 0 { // nothing readable: report without connecting
		return c.reportImport(unread, nil, false, o)
	}
	open := c.adminAPI
	if o.dryRun {
		open = c.readAdmin // a dry run writes nothing, not even a missing root
	}
	_, store, err := open(ctx)
	if err != nil {
		return err
	}
	if err := planImport(ctx, store, outs, o.force); err != nil {
		return err
	}
	anySkipped := len(unread) > 0
	for _, u := range outs {
		anySkipped = anySkipped || u.skipped()
	}
	write := !o.dryRun && (!anySkipped || o.partial)
	if write {
		c.writeImport(ctx, outs)
	}
	return c.reportImport(unread, outs, write, o)
}

// checkImport validates every entry and finds the duplicates, task types
// first: the order of writing (a Schedule strategy needs its task type).
func checkImport(es []entry) []outcome {
	outs := make([]outcome, 0, len(es))
	seen := map[string]string{}
	for _, e := range es {
		u := outcome{plan: plan{entry: e}}
		key := e.kind() + " " + e.name()
		if prev, dup := seen[key]; dup {
			u.problems = append(u.problems, fmt.Errorf("%s: %s %q is also defined at %s", e.where, e.kind(), e.name(), prev))
		}
		seen[key] = e.where
		var err error
		if e.tt != nil {
			err = e.tt.Validate()
		} else {
			err = e.st.Validate()
		}
		u.problems = append(u.problems, leafErrors(placeFields(e.where, err, e.at))...)
		outs = append(outs, u)
	}
	sort.SliceStable(outs, func(i, j int) bool { return outs[i].tt != nil && outs[j].tt == nil })
	return outs
}

// planImport compares each valid object with the store. An existing one
// that differs is skipped unless force; a Schedule strategy is skipped
// when its task type is skipped, or neither imported nor stored.
func planImport(ctx context.Context, store configReader, outs []outcome, force bool) error {
	good := map[string]bool{}
	bad := map[string]bool{}
	for i := range outs {
		u := &outs[i]
		if u.tt != nil && u.skipped() {
			bad[u.tt.BaseTaskType] = true
			continue
		}
		if u.skipped() {
			continue
		}
		if u.st != nil && u.st.Kind == schedule.KindSchedule {
			base, _, _ := schedule.SplitRuntimeName(u.st.TaskName)
			if bad[base] {
				u.problems = append(u.problems, fmt.Errorf("%s: strategy %q: its task type %q is skipped", u.where, u.st.StrategyName, base))
				continue
			}
			if err := scheduleTaskMissing(ctx, store, u.entry, good); err != nil {
				u.problems = append(u.problems, err)
				continue
			}
		}
		p, err := comparePlan(ctx, store, u.entry)
		if err != nil {
			return err
		}
		u.plan = p
		if !force && p.found && p.diff != "" {
			u.problems = append(u.problems, fmt.Errorf("%s: %s %q exists and differs (%s): use --force to overwrite", u.where, u.kind(), u.name(), p.diff))
			continue
		}
		if u.tt != nil {
			good[u.tt.BaseTaskType] = true
		}
	}
	return nil
}

// writeImport writes every object not skipped, in order; a write that
// fails skips its object and the others are still written.
func (c *cli) writeImport(ctx context.Context, outs []outcome) {
	for i := range outs {
		u := &outs[i]
		if u.skipped() {
			continue
		}
		var changed bool
		var err error
		if u.tt != nil {
			changed, err = c.admin.ApplyTaskType(ctx, *u.tt)
		} else {
			changed, err = c.admin.ApplyStrategy(ctx, *u.st)
		}
		switch {
		case err != nil:
			u.problems = append(u.problems, fmt.Errorf("%s: %s %q: write failed: %w", u.where, u.kind(), u.name(), err))
		case !changed:
			u.verb = "unchanged"
		case u.found:
			u.verb = "updated: " + u.diff
		default:
			u.verb = "created"
		}
	}
}

// reportImport prints one line per object, with the notes of what was
// mapped, and a summary; the problems go to standard error. It returns
// errSilent when anything was skipped.
func (c *cli) reportImport(unread []error, outs []outcome, wrote bool, o importOpts) error {
	var problems []error
	for _, err := range unread {
		c.out("skipped: %s\n", joinErrs(leafErrors(err)))
		problems = append(problems, leafErrors(err)...)
	}
	counts := map[string]int{}
	for _, u := range outs {
		verb := u.verb
		switch {
		case u.skipped():
			verb = "skipped: " + joinErrs(u.problems)
			problems = append(problems, u.problems...)
		case !wrote:
			verb = plannedVerb(u.plan)
			if verb != "unchanged" {
				verb = "would be " + verb
			}
		}
		c.out("%s %s: %s\n", u.kind(), u.name(), verb)
		for _, n := range u.notes {
			c.out("  mapped: %s\n", n)
		}
		counts[strings.TrimSuffix(strings.Fields(verb)[0], ":")]++
	}
	skipped := len(unread) + counts["skipped"]
	if wrote {
		c.out("%d created, %d updated, %d unchanged, %d skipped\n", counts["created"], counts["updated"], counts["unchanged"], skipped)
	}
	for _, err := range problems {
		fmt.Fprintf(c.io.Err, "tbsctl: %v\n", err)
	}
	switch {
	case o.dryRun:
		c.out("dry run: nothing was written\n")
	case !wrote:
		fmt.Fprintf(c.io.Err, "tbsctl: %d problem(s); nothing was written", len(problems))
		if rest := len(outs) - counts["skipped"]; rest > 0 {
			fmt.Fprintf(c.io.Err, " (%d object(s) skipped; --partial writes the other %d)", skipped, rest)
		}
		fmt.Fprintln(c.io.Err)
	case skipped > 0:
		fmt.Fprintf(c.io.Err, "tbsctl: %d problem(s); %d object(s) skipped, the others were written (--partial)\n", len(problems), skipped)
	}
	if skipped > 0 {
		return errSilent
	}
	return nil
}

// unreadable is one record (a line, an object of a list) that could not
// be read: import skips it as one object, whatever number of problems it
// has.
type unreadable struct{ err error }

func (u *unreadable) Error() string { return u.err.Error() }
func (u *unreadable) Unwrap() error { return u.err }

// recordErrors splits joined errors down to the records they are about:
// an unreadable record is one error however many problems it holds.
func recordErrors(err error) []error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*unreadable); ok {
		return []error{err}
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, recordErrors(e)...)
	}
	return out
}

// plannedVerb is what writing a planned object would do.
func plannedVerb(p plan) string {
	switch {
	case !p.found:
		return "created"
	case p.diff != "":
		return "updated: " + p.diff
	}
	return "unchanged"
}

func joinErrs(errs []error) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}
