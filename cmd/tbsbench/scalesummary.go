package main

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// summary prints, for each phase of the timeline, where the time went: when
// the last factory registered, when each runtime's servers registered and
// its leader first granted, the handover cycles (asked → released →
// acquired) and the slowest one's chain, the store calls' latencies, the
// suspect sessions, and how late the observer saw the balance.
func (t *timeline) summary(w io.Writer) {
	t.mu.Lock()
	recs := slices.Clone(t.recs)
	t.mu.Unlock()
	slices.SortStableFunc(recs, func(a, b tlRec) int { return int(a.at - b.at) })
	fmt.Fprintf(w, "  timeline: %d records\n", len(recs))
	var starts []int
	for i, r := range recs {
		if r.src == "phase" {
			starts = append(starts, i)
		}
	}
	for k, i := range starts {
		end := len(recs)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		summarizePhase(w, recs[i], recs[i:end])
	}
}

// summarizePhase prints one phase; ph is its start mark, recs its records.
func summarizePhase(w io.Writer, ph tlRec, recs []tlRec) {
	t0 := ph.at
	off := func(at time.Duration) string { return fmt.Sprintf("+%.2f s", (at - t0).Seconds()) }
	fmt.Fprintf(w, "  ── %s (at %.2f s of the run)\n", ph.what, t0.Seconds())
	var seen *tlRec
	lastMove := time.Duration(-1)
	var looks []tlRec
	for i, r := range recs {
		switch {
		case r.src == "seen":
			if seen == nil {
				seen = &recs[i]
			}
		case r.src == "look" && seen == nil:
			looks = append(looks, r)
		case r.src == "event" && seen == nil && isOwnership(r.what):
			lastMove = r.at
		}
	}
	if seen != nil {
		fmt.Fprintf(w, "    %s: at ≤ %s, known at %s", seen.what, secs(seen.dur), off(seen.at))
		if lastMove >= 0 {
			fmt.Fprintf(w, "; the last ownership change was at %s: the observer's bound %s after it, its decision %s",
				off(lastMove), secs(t0+seen.dur-lastMove), secs(seen.at-lastMove))
		}
		longest := time.Duration(0)
		for _, l := range looks {
			longest = max(longest, l.dur)
		}
		fmt.Fprintf(w, " (%d looks, the longest %s; a look follows %v without a change noticed, at most %v after the last)\n",
			len(looks), secs(longest), quietBeforeLook, fallbackLook)
	}
	if seen != nil {
		recs = slices.DeleteFunc(slices.Clone(recs), func(r tlRec) bool { return r.at > seen.at })
	}
	milestones(w, recs, off)
	registrations(w, recs, off)
	cycles(w, recs, off)
	suspects(w, recs)
	callLatencies(w, recs)
}

func isOwnership(kind string) bool {
	switch kind {
	case "grant", "handover", "release", "acquire":
		return true
	}
	return false
}

// milestones prints the first and last time of the log lines that mark the
// start path, per strategy or runtime where they name one.
func milestones(w io.Writer, recs []tlRec, off func(time.Duration) string) {
	type span struct {
		first, last time.Duration
		n           int
	}
	marks := []struct{ label, msg, key string }{
		{"factories registered", "INFO factory registered", ""},
		{"registered under the strategy", "INFO registered under the strategy", "strategy"},
		{"leader distributed thread groups", "INFO thread groups distributed", "strategy"},
		{"managers started", "INFO started manager", "strategy"},
		{"servers registered", "INFO server registered", "task"},
		{"items built by the leader", "INFO task items built", "task"},
		{"leader rounds that wrote items", "DEBUG items balanced", "task"},
	}
	for _, m := range marks {
		spans := map[string]*span{}
		for _, r := range recs {
			if r.src != "log" || !strings.HasPrefix(r.what, m.msg) {
				continue
			}
			k := attr(r.detail, m.key)
			sp := spans[k]
			if sp == nil {
				sp = &span{first: r.at}
				spans[k] = sp
			}
			sp.last, sp.n = r.at, sp.n+1
		}
		for _, k := range slices.Sorted(maps.Keys(spans)) {
			sp := spans[k]
			label := m.label
			if k != "" {
				label += " (" + k + ")"
			}
			fmt.Fprintf(w, "    %-55s %3d: first %s, last %s\n", label, sp.n, off(sp.first), off(sp.last))
		}
	}
	firstGrant := map[string]time.Duration{}
	for _, r := range recs {
		if r.src == "event" && r.what == "grant" {
			if _, ok := firstGrant[r.runtime]; !ok {
				firstGrant[r.runtime] = r.at
			}
		}
	}
	for _, rt := range slices.Sorted(maps.Keys(firstGrant)) {
		fmt.Fprintf(w, "    %-55s      %s\n", "first grant by the leader ("+rt+")", off(firstGrant[rt]))
	}
}

// registrations prints how long managers took from their start to their
// server's registration, how much of it their store's Watch calls took,
// and the slowest one's records.
func registrations(w io.Writer, recs []tlRec, off func(time.Duration) string) {
	type key struct {
		sess int
		task string
	}
	started := map[key]time.Duration{}
	type gap struct {
		k          key
		from, to   time.Duration
		watch      time.Duration
		slowestArm string
	}
	var gaps []gap
	for _, r := range recs {
		if r.src != "log" {
			continue
		}
		switch {
		case strings.HasPrefix(r.what, "INFO started manager of "):
			task := strings.Fields(strings.TrimPrefix(r.what, "INFO started manager of "))[0]
			started[key{r.sess, task}] = r.at
		case strings.HasPrefix(r.what, "INFO server registered"):
			k := key{r.sess, attr(r.detail, "task")}
			if from, ok := started[k]; ok {
				gaps = append(gaps, gap{k: k, from: from, to: r.at})
				delete(started, k)
			}
		}
	}
	if len(gaps) == 0 {
		return
	}
	for i := range gaps {
		g := &gaps[i]
		var slowest time.Duration
		for _, r := range recs {
			if r.sess == g.k.sess && r.src == "call" && r.what == "Watch" && r.at >= g.from && r.at < g.to &&
				(strings.Contains(r.detail, " "+g.k.task) || r.detail == "config") {
				g.watch += r.dur
				if r.dur > slowest {
					slowest, g.slowestArm = r.dur, r.detail
				}
			}
		}
	}
	d := make([]time.Duration, len(gaps))
	wd := make([]time.Duration, len(gaps))
	for i, g := range gaps {
		d[i], wd[i] = g.to-g.from, g.watch
	}
	fmt.Fprintf(w, "    manager started → its server registered (%d): %s; of it in the store's Watch calls: %s\n",
		len(gaps), stats(d), stats(wd))
	worst := slices.MaxFunc(gaps, func(a, b gap) int { return int((a.to - a.from) - (b.to - b.from)) })
	fmt.Fprintf(w, "      slowest: s%02d %s, %s → %s, Watch calls %s (longest: %s)\n", worst.k.sess, worst.k.task,
		off(worst.from), off(worst.to), secs(worst.watch), worst.slowestArm)
}

// cycles follows every item through the handovers: the leader asks its
// owner (handover), the owner releases it at its batch boundary (release),
// the new owner takes it (acquire). It prints the cycles' gaps and the
// slowest cycle's chain on the owner's side.
func cycles(w io.Writer, recs []tlRec, off func(time.Duration) string) {
	type state struct {
		asked, released time.Duration
		asks            int
		owner           int // the owner's session
	}
	type cycle struct {
		rt, item           string
		asked, rel, acq    time.Duration
		asks, owner, taker int
	}
	items := map[string]*state{}
	var done []cycle
	reasks := 0
	for _, r := range recs {
		if r.src != "event" {
			continue
		}
		for _, id := range r.ids {
			k := r.runtime + "/" + id
			st := items[k]
			switch r.what {
			case "handover":
				if st == nil || st.asked < 0 {
					items[k] = &state{asked: r.at, released: -1, asks: 1, owner: -1}
				} else {
					st.asks++
					reasks++
				}
			case "release":
				if st != nil && st.asked >= 0 {
					st.released, st.owner = r.at, r.sess
				}
			case "acquire":
				if st != nil && st.released >= 0 {
					done = append(done, cycle{rt: r.runtime, item: id, asked: st.asked, rel: st.released, acq: r.at,
						asks: st.asks, owner: st.owner, taker: r.sess})
					delete(items, k)
				}
			}
		}
	}
	if len(done) == 0 && reasks == 0 {
		return
	}
	a2r := make([]time.Duration, len(done))
	r2a := make([]time.Duration, len(done))
	for i, c := range done {
		a2r[i], r2a[i] = c.rel-c.asked, c.acq-c.rel
	}
	open := 0
	for _, st := range items {
		if st.asked >= 0 {
			open++
		}
	}
	fmt.Fprintf(w, "    handover cycles completed: %d (%d asks re-targeted before the release as servers joined; %d still open)\n",
		len(done), reasks, open)
	if len(done) == 0 {
		return
	}
	fmt.Fprintf(w, "      asked → released (owner notices, batch boundary, write): %s\n", stats(a2r))
	fmt.Fprintf(w, "      released → acquired (new owner notices):               %s\n", stats(r2a))
	worst := slices.MaxFunc(done, func(a, b cycle) int { return int((a.acq - a.asked) - (b.acq - b.asked)) })
	fmt.Fprintf(w, "      slowest: item %s of %s asked %s, released %s by s%02d, acquired %s by s%02d; the owner meanwhile:\n",
		worst.item, worst.rt, off(worst.asked), off(worst.rel), worst.owner, off(worst.acq), worst.taker)
	printed := 0
	for _, r := range recs {
		if r.sess != worst.owner || r.at < worst.asked || r.at > worst.rel || printed >= 12 {
			continue
		}
		if r.src == "event" || (r.src == "log" && strings.Contains(r.what, "item handed over")) {
			continue // its own events are the cycle's; one line per item handed over
		}
		if r.runtime != "" && r.runtime != worst.rt {
			continue
		}
		line := fmt.Sprintf("%s %s %s", off(r.at), r.src, r.what)
		if r.src == "call" || r.src == "look" {
			line += fmt.Sprintf(" (%s)", secs(r.dur))
		}
		if r.detail != "" && r.src != "event" {
			line += " " + shorten(r.detail, 70)
		}
		fmt.Fprintf(w, "        %s\n", line)
		printed++
	}
}

// suspects counts the sessions that turned suspect (no answer for a third
// of the session timeout): their managers stop fetching and skip rounds
// until it answers again.
func suspects(w io.Writer, recs []tlRec) {
	sessions := map[int]bool{}
	n := 0
	for _, r := range recs {
		if r.src == "log" && strings.Contains(r.what, "no answer from ZooKeeper; session suspect") {
			sessions[r.sess] = true
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(w, "    sessions suspect (ZooKeeper silent for a third of the session timeout): %d times, %d sessions\n", n, len(sessions))
	}
}

// callLatencies prints the store calls' latencies by method.
func callLatencies(w io.Writer, recs []tlRec) {
	by := map[string][]time.Duration{}
	for _, r := range recs {
		if r.src == "call" {
			by[r.what] = append(by[r.what], r.dur)
		}
	}
	if len(by) == 0 {
		return
	}
	failed, items := 0, 0
	var failedDur []time.Duration
	for _, r := range recs {
		if r.src == "call" && r.what == "UpdateItems" {
			if k, _ := strconv.Atoi(attr(r.detail, "failed")); k > 0 {
				failed, items = failed+1, items+k
				failedDur = append(failedDur, r.dur)
			}
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "    item writes that lost a race (version conflicts): %d calls, %d items, %s\n",
			failed, items, stats(failedDur))
	}
	fmt.Fprintf(w, "    store calls (latency):\n")
	for _, m := range slices.Sorted(maps.Keys(by)) {
		fmt.Fprintf(w, "      %-24s %5d: %s\n", m, len(by[m]), stats(by[m]))
	}
}

// stats is "median M, p90 P, max X".
func stats(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))] }
	return fmt.Sprintf("median %s, p90 %s, max %s", msOf(q(0.5)), msOf(q(0.9)), msOf(s[len(s)-1]))
}

func msOf(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

var attrRe = regexp.MustCompile(`(?:^| )([A-Za-z]+)=(\S+)`)

// attr returns the value of key in a log line's attributes ("" when key is
// "" or absent).
func attr(detail, key string) string {
	if key == "" {
		return ""
	}
	for _, m := range attrRe.FindAllStringSubmatch(detail, -1) {
		if m[1] == key {
			return m[2]
		}
	}
	return ""
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
