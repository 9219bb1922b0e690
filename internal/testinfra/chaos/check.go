package chaos

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Freeze is a span during which a worker process was stopped (SIGSTOP to
// SIGCONT): it could not run any code, self-fencing included.
type Freeze struct {
	Worker   string
	From, To int64 // Mono() ns
}

// Input is everything the checker looks at.
type Input struct {
	Logs    []WorkerLog
	Freezes []Freeze
	// Need is, per item that exists at the end, how many leading records
	// must have been committed (records available when the faults stopped).
	Need map[string]int64
	// Stored is, per item, how many leading records the database holds as
	// committed at the end: it vouches for a record whose only execution was
	// killed between its commit and its end line.
	Stored map[string]int64
	// ResumeGrace is how long after a SIGCONT an execution of the frozen
	// worker may still end (its deal sees its cancelled context only once it
	// runs again). Only uncommitted executions get it.
	ResumeGrace time.Duration
	// InWindow, if set, reports whether an execution may start at the given
	// Mono() time (the task type's permit window, evaluated on true time).
	InWindow func(mono int64) bool
	// OwnedAfter is how long after the faults stopped every item was owned
	// by a live server (negative: never, within the driver's wait); OwnBound
	// is the promise (session timeout + a few seconds).
	OwnedAfter, OwnBound time.Duration
	// Leaks are findings of the leak check (stale nodes, goroutines left in
	// a worker, unclean exits), one line each.
	Leaks []string
}

// Violation is one broken guarantee with its evidence.
type Violation struct {
	Check    string // "a" .. "f"
	Evidence string
}

// Result is the outcome of Check.
type Result struct {
	Executions  int // executions read from the logs
	Records     int // distinct (item, record) executed
	Committed   int // executions that committed
	Cancelled   int // executions whose context was cancelled (fenced, moved, stopped)
	Refused     int // commits refused by the epoch check (stale)
	Killed      int // executions ended by a kill -9
	Checked     int // records whose completion (b) was checked
	Fetches     int // fetch starts (per item) read from the logs
	FrozenSpans int // overlaps explained by a SIGSTOP of the older execution
	// FrozenCommitted counts the FrozenSpans whose older execution committed:
	// before the newer epoch reached the database, so it was not refused.
	FrozenCommitted int
	FrozenStart     int // window starts explained by a SIGSTOP (late by at most the grace)
	// MaxThawLag is the longest time after a SIGCONT that an excused
	// execution went on (it must stay within Input.ResumeGrace).
	MaxThawLag time.Duration
	// KilledCommitted counts records whose commit only the database shows
	// (the worker was killed before its end line).
	KilledCommitted int
	// ResumedStarts and ResumedFetches count the executions and the
	// fetches that started after a SIGCONT of their worker under an epoch
	// already superseded (violations of (c)); StaleFetches counts every
	// fetch under a superseded epoch, after a resume or not.
	ResumedStarts, ResumedFetches, StaleFetches int
	MaxEpoch                                    int64
	Violations                                  []Violation
}

// Checks names the checks, for the summary.
var Checks = []struct{ ID, What string }{
	{"a", "no record executed by two executions at overlapping times"},
	{"b", "every record committed once healthy (none missed)"},
	{"c", "epochs only grow; no deal or fetch starts under a stale epoch once a newer one started"},
	{"d", "every item owned within the bound after the faults stopped"},
	{"e", "no leaked goroutines or stale nodes"},
	{"f", "no execution starts outside the permit window (cluster time)"},
}

// excused reports whether e ran on past instant at (when a newer owner
// started) only because its worker was frozen: e began before a freeze of
// its worker that began by at, e ended within the grace after that freeze's
// SIGCONT, and its commit did not land under a newer owner: e committed
// nothing (its epoch was refused), or it committed before the newer epoch
// reached the database (reached: see newerReached). A frozen process cannot
// run its self-fencing; the epoch is what protects the data then, from the
// moment the newer owner's claim is granted. The newer owner's fetch starts
// before that: its claim can wait for the item's lock, which the frozen
// worker may hold until its SIGCONT. An execution that began after the
// SIGCONT is never excused: the lease, judged before every record, must
// have stopped it.
func excused(in Input, e Exec, at, reached int64) bool {
	if e.Outcome == OutcomeDone && e.End >= reached {
		return false
	}
	for _, f := range in.Freezes {
		if f.Worker == e.Worker && e.Start < f.From && f.From <= at && e.End <= f.To+int64(in.ResumeGrace) {
			return true
		}
	}
	return false
}

// resumed reports whether worker had been frozen and resumed by t.
func resumed(in Input, worker string, t int64) bool {
	for _, f := range in.Freezes {
		if f.Worker == worker && f.To <= t {
			return true
		}
	}
	return false
}

// thawLag is how long after the SIGCONT of the freeze that excuses e (the
// latest one that began by at) e ended; 0 if it ended before.
func thawLag(in Input, e Exec, at int64) time.Duration {
	lag := time.Duration(-1)
	for _, f := range in.Freezes {
		if f.Worker == e.Worker && e.Start < f.From && f.From <= at && e.End <= f.To+int64(in.ResumeGrace) {
			l := max(0, time.Duration(e.End-f.To))
			if lag < 0 || l < lag {
				lag = l
			}
		}
	}
	return max(lag, 0)
}

// thawing reports whether e started while its worker was frozen or within
// the grace after the SIGCONT: it could not see a window close on time.
func thawing(in Input, e Exec) bool {
	for _, f := range in.Freezes {
		if f.Worker == e.Worker && f.From <= e.Start && e.Start <= f.To+int64(in.ResumeGrace) {
			return true
		}
	}
	return false
}

// Check runs every check over the merged logs.
func Check(in Input) Result {
	var r Result
	var all []Exec
	for _, wl := range in.Logs {
		all = append(all, wl.Execs...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Start < all[j].Start })
	r.Executions = len(all)
	type rk struct {
		item string
		rec  int64
	}
	byRec := map[rk][]Exec{}
	byItem := map[string][]Exec{}
	for _, e := range all {
		byRec[rk{e.Item, e.Rec}] = append(byRec[rk{e.Item, e.Rec}], e)
		byItem[e.Item] = append(byItem[e.Item], e)
		switch e.Outcome {
		case OutcomeDone:
			r.Committed++
		case OutcomeCancelled:
			r.Cancelled++
		case OutcomeStale:
			r.Refused++
		case "":
			if e.End != math.MaxInt64 {
				r.Killed++
			}
		}
		r.MaxEpoch = max(r.MaxEpoch, e.Epoch)
	}
	r.Records = len(byRec)
	claims := map[string][]Claim{}
	for _, wl := range in.Logs {
		for _, c := range wl.Claims {
			claims[c.Item] = append(claims[c.Item], c)
		}
	}
	reached := newerReached(byItem, claims)
	excuse := func(e Exec, at int64) bool {
		if !excused(in, e, at, reached(e.Item, e.Epoch)) {
			return false
		}
		r.FrozenSpans++
		r.MaxThawLag = max(r.MaxThawLag, thawLag(in, e, at))
		if e.Outcome == OutcomeDone {
			r.FrozenCommitted++
		}
		return true
	}
	add := func(check, format string, a ...any) {
		r.Violations = append(r.Violations, Violation{check, fmt.Sprintf(format, a...)})
	}

	// (a) Overlapping executions of one record.
	for k, es := range byRec {
		for i := range es {
			for j := i + 1; j < len(es); j++ {
				x, y := es[i], es[j] // x.Start <= y.Start
				if y.Start >= x.End {
					continue
				}
				older, newer := x, y // by epoch
				if y.Epoch < x.Epoch {
					older, newer = y, x
				}
				if older.Epoch < newer.Epoch && excuse(older, newer.Start) {
					continue
				}
				add("a", "item %s record %d: %s ran it [%s] while %s ran it [%s]",
					k.item, k.rec, x.Worker, span(x), y.Worker, span(y))
			}
		}
	}

	// (b) Every needed record committed.
	for item, need := range in.Need {
		var missing []int64
		done := map[int64]bool{}
		for _, e := range byItem[item] {
			if e.Outcome == OutcomeDone {
				done[e.Rec] = true
			}
		}
		killed := map[int64]bool{}
		for _, e := range byItem[item] {
			if e.Outcome == "" {
				killed[e.Rec] = true
			}
		}
		for n := int64(0); n < need; n++ {
			r.Checked++
			switch {
			case done[n]:
			case killed[n] && n < in.Stored[item]:
				// Committed, then killed before its end line: the
				// database has it.
				r.KilledCommitted++
			default:
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			add("b", "item %s: %d of %d records never committed: %s", item, len(missing), need, firstN(missing, 10))
		}
	}

	// (c) Epochs.
	fetches := map[string][]Fetch{}
	for _, wl := range in.Logs {
		for _, x := range wl.Fetches {
			fetches[x.Item] = append(fetches[x.Item], x)
			r.Fetches++
		}
	}
	checkEpochs(in, byItem, fetches, &r, excuse, add)

	// (d) Ownership after the faults.
	switch {
	case in.OwnedAfter < 0:
		add("d", "items not all owned by live servers within the driver's wait")
	case in.OwnBound > 0 && in.OwnedAfter > in.OwnBound:
		add("d", "items all owned %v after the faults stopped, more than %v", in.OwnedAfter, in.OwnBound)
	}

	// (e) Leaks, and logs that show a worker lost executions.
	for _, l := range in.Leaks {
		add("e", "%s", l)
	}
	for _, wl := range in.Logs {
		if wl.Stopped && wl.Open > 0 {
			add("e", "%s stopped gracefully with %d executions never ended", wl.Worker, wl.Open)
		}
	}

	// (f) Permit window.
	if in.InWindow != nil {
		n, example := 0, ""
		for _, e := range all {
			if !in.InWindow(e.Start) {
				if thawing(in, e) {
					r.FrozenStart++
					continue
				}
				if n == 0 {
					example = fmt.Sprintf("%s record %s/%d at %d", e.Worker, e.Item, e.Rec, e.Start)
				}
				n++
			}
		}
		if n > 0 {
			add("f", "%d executions started outside the permit window, first: %s", n, example)
		}
	}
	sort.SliceStable(r.Violations, func(i, j int) bool { return r.Violations[i].Check < r.Violations[j].Check })
	return r
}

// checkEpochs is check (c): per item, no execution and no fetch starts
// under an epoch older than one that already started (an execution or a
// fetch), and no execution under an older epoch is still running when a
// newer one starts, unless its worker's freeze excuses it.
func checkEpochs(in Input, byItem map[string][]Exec, fetches map[string][]Fetch, r *Result,
	excuse func(e Exec, at int64) bool, add func(check, format string, a ...any)) {
	items := map[string]bool{}
	for item := range byItem {
		items[item] = true
	}
	for item := range fetches {
		items[item] = true
	}
	for item := range items {
		es, fs := byItem[item], fetches[item]
		newer := newerEpoch(es, fs)
		for _, e := range es {
			if n, at, ok := newer(e.Epoch, e.Start); ok {
				if excuse(e, at) {
					continue
				}
				if resumed(in, e.Worker, e.Start) {
					r.ResumedStarts++
				}
				add("c", "item %s: %s started record %d under epoch %d at %d, after epoch %d started at %d",
					item, e.Worker, e.Rec, e.Epoch, e.Start, n, at)
				continue
			}
			if n, at, ok := newer(e.Epoch, e.End); ok && at > e.Start {
				if excuse(e, at) {
					continue
				}
				add("c", "item %s: %s ran record %d under epoch %d [%s], still running when epoch %d started at %d (outcome %q)",
					item, e.Worker, e.Rec, e.Epoch, span(e), n, at, e.Outcome)
			}
		}
		for _, x := range fs {
			if n, at, ok := newer(x.Epoch, x.Start); ok {
				r.StaleFetches++
				if resumed(in, x.Worker, x.Start) {
					r.ResumedFetches++
				}
				add("c", "item %s: %s fetched under epoch %d at %d, after epoch %d started at %d",
					item, x.Worker, x.Epoch, x.Start, n, at)
			}
		}
	}
}

// newerReached returns reached(item, ep): when an epoch of item newer than
// ep first reached the database, as the logs show it: the first claim
// granted under it (C lines) or the first execution under it (its fetch's
// claim was granted before), whichever came first; math.MaxInt64 if none
// did.
func newerReached(byItem map[string][]Exec, claims map[string][]Claim) func(item string, ep int64) int64 {
	return func(item string, ep int64) int64 {
		first := int64(math.MaxInt64)
		for _, e := range byItem[item] {
			if e.Epoch > ep && e.Start < first {
				first = e.Start
			}
		}
		for _, c := range claims[item] {
			if c.Epoch > ep && c.At < first {
				first = c.At
			}
		}
		return first
	}
}

// newerEpoch returns newer(ep, t): the first epoch newer than ep that
// started (an execution or a fetch under it) before t, and when.
func newerEpoch(es []Exec, fs []Fetch) func(ep, t int64) (int64, int64, bool) {
	first := map[int64]int64{}
	note := func(ep, at int64) {
		if s, ok := first[ep]; !ok || at < s {
			first[ep] = at
		}
	}
	for _, e := range es {
		note(e.Epoch, e.Start)
	}
	for _, x := range fs {
		note(x.Epoch, x.Start)
	}
	epochs := make([]int64, 0, len(first))
	for ep := range first {
		epochs = append(epochs, ep)
	}
	sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })
	return func(ep, t int64) (int64, int64, bool) {
		for _, n := range epochs {
			if n > ep && first[n] < t {
				return n, first[n], true
			}
		}
		return 0, 0, false
	}
}

func span(e Exec) string {
	end := "?"
	if e.End != math.MaxInt64 {
		end = fmt.Sprint(e.End)
	}
	out := e.Outcome
	if out == "" {
		out = "no end line"
	}
	return fmt.Sprintf("%d..%s epoch %d, %s", e.Start, end, e.Epoch, out)
}

func firstN(ns []int64, n int) string {
	var b strings.Builder
	for i, v := range ns {
		if i == n {
			fmt.Fprintf(&b, " ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, v)
	}
	return b.String()
}

// Count returns the violations of one check.
func (r Result) Count(check string) int {
	n := 0
	for _, v := range r.Violations {
		if v.Check == check {
			n++
		}
	}
	return n
}

// Print writes the summary table and up to maxEvidence violations per check.
func (r Result) Print(w io.Writer, maxEvidence int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "executions\t%d\n", r.Executions)
	fmt.Fprintf(tw, "fetch starts (per item)\t%d\n", r.Fetches)
	fmt.Fprintf(tw, "records executed\t%d\n", r.Records)
	fmt.Fprintf(tw, "records checked complete (b)\t%d\n", r.Checked)
	fmt.Fprintf(tw, "committed / cancelled / refused stale / killed\t%d / %d / %d / %d\n", r.Committed, r.Cancelled, r.Refused, r.Killed)
	fmt.Fprintf(tw, "records committed by a worker killed before its end line\t%d\n", r.KilledCommitted)
	fmt.Fprintf(tw, "overlaps explained by SIGSTOP: refused or cancelled / committed before the newer claim\t%d / %d\n",
		r.FrozenSpans-r.FrozenCommitted, r.FrozenCommitted)
	fmt.Fprintf(tw, "window starts explained by SIGSTOP\t%d\n", r.FrozenStart)
	fmt.Fprintf(tw, "longest run of an excused execution after its SIGCONT\t%v\n", r.MaxThawLag.Round(time.Microsecond))
	fmt.Fprintf(tw, "started under a superseded epoch after a SIGCONT: executions / fetches\t%d / %d\n", r.ResumedStarts, r.ResumedFetches)
	fmt.Fprintf(tw, "fetches under a superseded epoch (all)\t%d\n", r.StaleFetches)
	fmt.Fprintf(tw, "highest epoch\t%d\n", r.MaxEpoch)
	for _, c := range Checks {
		n := r.Count(c.ID)
		verdict := "ok"
		if n > 0 {
			verdict = fmt.Sprintf("FAIL (%d)", n)
		}
		fmt.Fprintf(tw, "(%s) %s\t%s\n", c.ID, c.What, verdict)
	}
	_ = tw.Flush()
	shown := map[string]int{}
	for _, v := range r.Violations {
		if shown[v.Check] < maxEvidence {
			fmt.Fprintf(w, "  (%s) %s\n", v.Check, v.Evidence)
		}
		shown[v.Check]++
	}
}
