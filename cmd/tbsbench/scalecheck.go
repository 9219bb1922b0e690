package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// balance is what one observation of a task type's runtime says about its
// balance.
type balance struct {
	// Servers: registered servers (distinct). Active: items not removed.
	// Owned: active items whose owner is a registered server. Pending:
	// active items with a handover request.
	Servers, Active, Owned, Pending int
	// Min and Max are the lowest and highest load of a registered server.
	Min, Max int
}

// checkBalance reports whether a runtime is balanced over want servers:
// exactly want servers registered, no handover pending, every active item
// owned by one of them (with a cap maxPer > 0: min(active, want×maxPer)
// items, which with loads within ±1 keeps every server within the cap), and
// loads within ±1. It is pure: the caller reads servers and items.
func checkBalance(servers []schedule.ServerID, items []schedule.Item, want, maxPer int) (balance, bool) {
	load := make(map[schedule.ServerID]int, len(servers))
	for _, id := range servers {
		load[id] = 0
	}
	b := balance{Servers: len(load)}
	for _, it := range items {
		if it.Sts == schedule.ItemRemoved {
			continue
		}
		b.Active++
		if it.ReqServer != "" {
			b.Pending++
		}
		if n, ok := load[it.CurServer]; ok {
			load[it.CurServer] = n + 1
			b.Owned++
		}
	}
	first := true
	for _, n := range load {
		if first {
			b.Min, b.Max, first = n, n, false
		}
		b.Min, b.Max = min(b.Min, n), max(b.Max, n)
	}
	expect := b.Active
	if maxPer > 0 {
		expect = min(b.Active, want*maxPer)
	}
	ok := want > 0 && b.Servers == want && b.Active > 0 && b.Pending == 0 &&
		b.Owned == expect && b.Max-b.Min <= 1
	return b, ok
}

// watchCount is the watches of one session, by task type (those whose path
// has a segment equal to the task type's name) and the rest.
type watchCount struct {
	byType map[string]int
	other  int
}

// parseWchc reads ZooKeeper's wchc answer (each session id in hex at the
// start of a line, then its watched paths, one per line, indented) and
// counts every session's watches by task type.
func parseWchc(out string, types []string) (map[int64]*watchCount, error) {
	is := make(map[string]bool, len(types))
	for _, t := range types {
		is[t] = true
	}
	res := map[int64]*watchCount{}
	var cur *watchCount
	for line := range strings.Lines(out) {
		path := strings.TrimSpace(line)
		if path == "" {
			continue
		}
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			id, err := strconv.ParseUint(strings.TrimPrefix(path, "0x"), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("wchc: %q is neither a session id nor an indented path", path)
			}
			cur = &watchCount{byType: map[string]int{}}
			res[int64(id)] = cur
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("wchc: path %q before any session id", path)
		}
		found := false
		for _, seg := range strings.Split(path, "/") {
			if is[seg] {
				cur.byType[seg]++
				found = true
				break
			}
		}
		if !found {
			cur.other++
		}
	}
	return res, nil
}
