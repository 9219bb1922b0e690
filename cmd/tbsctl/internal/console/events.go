package console

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// The task type page's "recent events" are the changes the console saw in
// the tree between two of its reads: the processes' own events live in
// their memory (their /events), not in ZooKeeper. This file decides them:
// pure functions from what the console remembers of its last read and the
// new read to the events and what to remember next. eventlog.go keeps
// them.

// statusView is what the console reads of "status -o json".
type statusView struct {
	TaskTypes []taskTypeView `json:"taskTypes"`
}

type taskTypeView struct {
	BaseTaskType string        `json:"baseTaskType"`
	RunNowAt     *time.Time    `json:"runNowAt"`
	RunNowBy     string        `json:"runNowBy"`
	Runtimes     []runtimeView `json:"runtimes"`
}

type runtimeView struct {
	OwnSign    string       `json:"ownSign"`
	ItemsStamp string       `json:"itemsStamp"`
	Servers    []serverView `json:"servers"`
	Items      []itemView   `json:"items"`
	Holds      []holdView   `json:"holds"`
}

type serverView struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Factory     string `json:"factory"`
	Leader      bool   `json:"leader"`
	WindowState string `json:"windowState"`
}

type itemView struct {
	ID            string `json:"id"`
	CurServer     string `json:"cur_server"`
	ReqServer     string `json:"req_server"`
	Epoch         int64  `json:"epoch"`
	Sts           string `json:"sts"`
	OwnerName     string `json:"ownerName"`
	RequestedName string `json:"requestedName"`
}

type holdView struct {
	Server   string        `json:"server"`
	HostName string        `json:"hostName"`
	Items    int           `json:"items"`
	Until    schedule.Time `json:"until"`
}

// strategyView is what the console reads of one strategy of "strategies -o
// json".
type strategyView struct {
	StrategyName string `json:"strategyName"`
	Kind         string `json:"kind"`
	TaskName     string `json:"taskName"`
	Sts          string `json:"sts"`
	AssignNum    int    `json:"assignNum"`
}

// seenEvent is one change the console saw, before it is stamped with when.
type seenEvent struct {
	TaskType string // the base task type it belongs to
	OwnSign  string // the runtime, when it concerns one
	Kind     string
	Text     string
}

// statusMemory is what the console remembers of a status read: per base
// task type.
type statusMemory map[string]*taskTypeMemory

type taskTypeMemory struct {
	runNowAt time.Time
	runNowBy string
	runtimes map[string]*runtimeMemory // by ownSign
}

// runtimeMemory is one runtime as last read. Its maps are never changed
// once made, so the next memory may share them.
type runtimeMemory struct {
	stamp   string
	servers map[string]serverView // by uuid
	leader  string
	items   map[string]itemMemory
	holds   map[string]holdView // by vanished server
	// names are the short names of every server the runtime mentioned.
	names map[string]string
}

type itemMemory struct {
	cur, req string
	epoch    int64
	removed  bool
}

// statusEvents compares the console's memory of the last status read with
// a new one and returns the changes, in the order of the task types, and
// the memory of the new read. A nil memory is the first read: nothing is a
// change yet. The items of a runtime whose items stamp did not move are
// not compared again (the stamp moves with every write of them).
func statusEvents(prev statusMemory, st statusView) ([]seenEvent, statusMemory) {
	next := statusMemory{}
	var evs []seenEvent
	for _, tt := range st.TaskTypes {
		p, existed := prev[tt.BaseTaskType]
		m := &taskTypeMemory{runNowBy: tt.RunNowBy, runtimes: map[string]*runtimeMemory{}}
		if tt.RunNowAt != nil {
			m.runNowAt = *tt.RunNowAt
		}
		next[tt.BaseTaskType] = m
		add := func(own, kind, text string) {
			evs = append(evs, seenEvent{TaskType: tt.BaseTaskType, OwnSign: own, Kind: kind, Text: text})
		}
		if prev != nil && !existed {
			add("", "created", "task type created")
			p = &taskTypeMemory{}
		}
		if prev != nil && !m.runNowAt.IsZero() && !m.runNowAt.Equal(p.runNowAt) {
			add("", "run-now", fmt.Sprintf("run-now asked by %s at %s", cmp.Or(m.runNowBy, "someone"), clock(m.runNowAt)))
		}
		for _, rt := range tt.Runtimes {
			var old *runtimeMemory
			if p != nil {
				old = p.runtimes[rt.OwnSign]
			}
			if prev != nil && old == nil {
				add(rt.OwnSign, "runtime", "runtime "+rt.OwnSign+" appeared")
			}
			rm, revs := runtimeEvents(old, rt, prev != nil)
			m.runtimes[rt.OwnSign] = rm
			for _, e := range revs {
				add(rt.OwnSign, e.Kind, e.Text)
			}
		}
		if p != nil {
			for _, own := range slices.Sorted(maps.Keys(p.runtimes)) {
				if _, ok := m.runtimes[own]; !ok {
					add(own, "runtime", "runtime "+own+" vanished (deleted)")
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(prev)) {
		if _, ok := next[name]; !ok {
			evs = append(evs, seenEvent{TaskType: name, Kind: "deleted", Text: "task type deleted"})
		}
	}
	return evs, next
}

// runtimeEvents compares one runtime with its memory (nil: new or first
// read); report false makes the memory only.
func runtimeEvents(old *runtimeMemory, rt runtimeView, report bool) (*runtimeMemory, []seenEvent) {
	if old == nil {
		old = &runtimeMemory{}
	}
	m := &runtimeMemory{stamp: rt.ItemsStamp, servers: map[string]serverView{}, holds: map[string]holdView{}, names: map[string]string{}}
	for _, s := range rt.Servers {
		m.servers[s.UUID] = s
		m.names[s.UUID] = s.Name
		if s.Leader {
			m.leader = s.UUID
		}
	}
	sameItems := rt.ItemsStamp != "" && rt.ItemsStamp == old.stamp
	if sameItems {
		m.items = old.items
		for id, n := range old.names {
			if _, ok := m.names[id]; !ok {
				m.names[id] = n
			}
		}
	} else {
		m.items = make(map[string]itemMemory, len(rt.Items))
		for _, it := range rt.Items {
			m.items[it.ID] = itemMemory{cur: it.CurServer, req: it.ReqServer, epoch: it.Epoch, removed: it.Sts == schedule.ItemRemoved}
			if it.CurServer != "" && it.OwnerName != "" {
				m.names[it.CurServer] = it.OwnerName
			}
			if it.ReqServer != "" && it.RequestedName != "" {
				m.names[it.ReqServer] = it.RequestedName
			}
		}
	}
	for _, h := range rt.Holds {
		m.holds[h.Server] = h
	}
	if !report {
		return m, nil
	}
	name := func(id string) string {
		if n := m.names[id]; n != "" {
			return n
		}
		if n := old.names[id]; n != "" {
			return n
		}
		if s, ok := old.servers[id]; ok && s.Name != "" {
			return s.Name
		}
		return id
	}
	var evs []seenEvent
	add := func(kind, text string) { evs = append(evs, seenEvent{Kind: kind, Text: text}) }

	// Servers: joined, vanished, a new leader, window states.
	var joined, gone []string
	windows := map[string][]string{}
	for _, s := range rt.Servers {
		o, ok := old.servers[s.UUID]
		switch {
		case !ok:
			joined = append(joined, s.UUID)
		case o.WindowState != s.WindowState && s.WindowState != "":
			windows[s.WindowState] = append(windows[s.WindowState], s.Name)
		}
	}
	for _, id := range sortedKeys(old.servers) {
		if _, ok := m.servers[id]; !ok {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		add("server-gone", "server "+name(id)+" vanished (no longer live)")
	}
	for _, id := range joined {
		s := m.servers[id]
		text := "server " + name(id) + " joined"
		if s.Factory != "" {
			text += " (process " + s.Factory + ")"
		}
		if s.WindowState != "" {
			text += ", window " + s.WindowState
		}
		add("server-join", text)
	}
	if m.leader != "" && m.leader != old.leader && len(old.servers) > 0 {
		add("leader", name(m.leader)+" leads the runtime now")
	}
	for _, st := range slices.Sorted(maps.Keys(windows)) {
		add("window", "window "+st+" on "+strings.Join(windows[st], ", "))
	}

	// Holds: a vanished owner's items held for its lock delay.
	for _, id := range sortedKeys(m.holds) {
		if _, ok := old.holds[id]; !ok {
			h := m.holds[id]
			add("hold-start", fmt.Sprintf("holding %s of vanished %s until %s (its lock delay)", count(h.Items, "item"), holdName(h, name), clock(h.Until.Time)))
		}
	}
	for _, id := range sortedKeys(old.holds) {
		if _, ok := m.holds[id]; !ok {
			add("hold-end", "the hold on the items of "+holdName(old.holds[id], name)+" ended")
		}
	}

	// Items: only when the stamp moved.
	if !sameItems {
		evs = append(evs, itemEvents(old.items, rt.Items, name)...)
	}
	return m, evs
}

func holdName(h holdView, name func(string) string) string {
	if n := name(h.Server); n != h.Server || h.HostName == "" {
		return n
	}
	return h.HostName
}

// itemGroup gathers the items one change concerns.
type itemGroup struct {
	kind, from, to string
	ids            []string
	epoch          int64 // of the only item
}

// itemEvents compares the items, grouped by what happened to them: added,
// removed, granted, moved, released, handover asked.
func itemEvents(old map[string]itemMemory, items []itemView, name func(string) string) []seenEvent {
	var groups []*itemGroup
	byKey := map[[3]string]*itemGroup{}
	note := func(kind, from, to, id string, epoch int64) {
		k := [3]string{kind, from, to}
		g := byKey[k]
		if g == nil {
			g = &itemGroup{kind: kind, from: from, to: to}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.ids = append(g.ids, id)
		g.epoch = epoch
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		seen[it.ID] = true
		p, ok := old[it.ID]
		removed := it.Sts == schedule.ItemRemoved
		switch {
		case removed:
			if ok && !p.removed {
				note("removed", "", "", it.ID, 0)
			}
			continue
		case !ok || p.removed:
			note("added", "", "", it.ID, 0)
			p = itemMemory{}
		}
		switch {
		case it.CurServer == p.cur:
			if it.CurServer != "" && it.Epoch != p.epoch && ok {
				note("grant", "", it.CurServer, it.ID, it.Epoch)
			}
		case p.cur == "":
			note("grant", "", it.CurServer, it.ID, it.Epoch)
		case it.CurServer == "":
			note("release", p.cur, "", it.ID, 0)
		default:
			note("move", p.cur, it.CurServer, it.ID, it.Epoch)
		}
		if it.ReqServer != "" && it.ReqServer != p.req && it.CurServer != "" {
			note("handover", it.CurServer, it.ReqServer, it.ID, 0)
		}
	}
	var vanished []string
	for id, p := range old {
		if !seen[id] && !p.removed {
			vanished = append(vanished, id)
		}
	}
	slices.SortFunc(vanished, naturalCompare)
	for _, id := range vanished {
		note("removed", "", "", id, 0)
	}
	order := map[string]int{"added": 0, "removed": 1, "release": 2, "handover": 3, "move": 4, "grant": 5}
	slices.SortStableFunc(groups, func(a, b *itemGroup) int { return cmp.Compare(order[a.kind], order[b.kind]) })
	evs := make([]seenEvent, 0, len(groups))
	for _, g := range groups {
		head, tail := itemList(g.ids)
		var text string
		switch g.kind {
		case "added":
			text = head + " added to the list"
		case "removed":
			text = head + " removed from the list"
		case "release":
			text = name(g.from) + " released " + head + " (now unassigned)"
		case "handover":
			if g.to == string(schedule.NoServer) {
				text = "asked " + name(g.from) + " to give up " + head
			} else {
				text = "asked " + name(g.from) + " to hand " + head + " over to " + name(g.to)
			}
		case "move":
			text = "moved " + head + " from " + name(g.from) + " to " + name(g.to)
		case "grant":
			text = "granted " + head + " to " + name(g.to)
		}
		if len(g.ids) == 1 && (g.kind == "grant" || g.kind == "move") {
			text += fmt.Sprintf(" (epoch %d)", g.epoch)
		}
		evs = append(evs, seenEvent{Kind: g.kind, Text: text + tail})
	}
	return evs
}

// maxListed is how many item ids an event names.
const maxListed = 10

// itemList names items for an event: ("item 3", "") or ("3 items", ": 0,
// 1, 2"), at most maxListed ids and how many more.
func itemList(ids []string) (head, tail string) {
	if len(ids) == 1 {
		return "item " + ids[0], ""
	}
	shown := ids[:min(len(ids), maxListed)]
	tail = ": " + strings.Join(shown, ", ")
	if n := len(ids) - len(shown); n > 0 {
		tail += fmt.Sprintf(" and %d more", n)
	}
	return fmt.Sprintf("%d items", len(ids)), tail
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// clock is a time as the pages show it.
func clock(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// naturalCompare orders item ids as the store does: numbers by value.
func naturalCompare(a, b string) int {
	if isDigits(a) && isDigits(b) {
		if c := cmp.Compare(len(strings.TrimLeft(a, "0")), len(strings.TrimLeft(b, "0"))); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// strategyMemory is what the console remembers of a strategies read.
type strategyMemory map[string]strategyView

// baseOf is the task type a strategy runs ("" for a Bean strategy).
func baseOf(s strategyView) string {
	if s.Kind != string(schedule.KindSchedule) {
		return ""
	}
	base, _, _ := strings.Cut(s.TaskName, "$")
	return base
}

// strategyEvents compares two strategies reads: a strategy added or
// deleted, paused or resumed, its thread groups changed, each reported to
// the task type it runs. A nil memory is the first read.
func strategyEvents(prev strategyMemory, list []strategyView) ([]seenEvent, strategyMemory) {
	next := make(strategyMemory, len(list))
	var evs []seenEvent
	add := func(s strategyView, kind, text string) {
		if b := baseOf(s); b != "" {
			evs = append(evs, seenEvent{TaskType: b, Kind: kind, Text: text})
		}
	}
	for _, s := range list {
		next[s.StrategyName] = s
		if prev == nil {
			continue
		}
		o, ok := prev[s.StrategyName]
		switch {
		case !ok:
			add(s, "strategy", fmt.Sprintf("strategy %s added (runs %s, %s, assignNum %d)", s.StrategyName, s.TaskName, s.Sts, s.AssignNum))
			continue
		case baseOf(o) != baseOf(s) || o.TaskName != s.TaskName:
			text := fmt.Sprintf("strategy %s now runs %s instead of %s", s.StrategyName, s.TaskName, o.TaskName)
			add(o, "strategy", text)
			if baseOf(o) != baseOf(s) {
				add(s, "strategy", text)
			}
		}
		if o.Sts != s.Sts {
			kind := map[string]string{"pause": "paused", "resume": "resumed"}[s.Sts]
			add(s, cmp.Or(kind, "sts"), fmt.Sprintf("strategy %s %s", s.StrategyName, cmp.Or(kind, "sts "+o.Sts+" -> "+s.Sts)))
		}
		if o.AssignNum != s.AssignNum {
			add(s, "strategy", fmt.Sprintf("strategy %s: assignNum %d -> %d", s.StrategyName, o.AssignNum, s.AssignNum))
		}
	}
	for _, name := range sortedKeys(prev) {
		if _, ok := next[name]; !ok {
			add(prev[name], "strategy", "strategy "+name+" deleted")
		}
	}
	return evs, next
}

// configMemory is a task type's stored configuration as last read.
type configMemory struct {
	version int32
	fields  map[string]json.RawMessage
}

// configEvents compares a task type's configuration with its memory (nil:
// first read): a new version is an edit, told field by field. The run-now
// fields are left out (status tells the run-now requests).
func configEvents(prev *configMemory, doc []byte, version int32) ([]seenEvent, *configMemory, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc, &fields); err != nil {
		return nil, prev, fmt.Errorf("the task type is not a JSON object: %v", err)
	}
	next := &configMemory{version: version, fields: fields}
	if prev == nil || prev.version == version {
		return nil, next, nil
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if k == "runNowAt" || k == "runNowBy" {
			continue
		}
		if o, ok := prev.fields[k]; !ok || compactRaw(o) != compactRaw(fields[k]) {
			diffs = append(diffs, k+" "+shorten(compactRaw(o))+" -> "+shorten(compactRaw(fields[k])))
		}
	}
	for _, k := range sortedKeys(prev.fields) {
		if _, ok := fields[k]; !ok && k != "runNowAt" && k != "runNowBy" {
			diffs = append(diffs, k+" "+shorten(compactRaw(prev.fields[k]))+" -> (none)")
		}
	}
	if len(diffs) == 0 && (prev.version < version) {
		return nil, next, nil // a run-now request, told by status
	}
	text := fmt.Sprintf("configuration changed (version %d -> %d)", prev.version, version)
	if len(diffs) > 0 {
		text += ": " + strings.Join(diffs, ", ")
	}
	return []seenEvent{{Kind: "edit", Text: text}}, next, nil
}

func compactRaw(b json.RawMessage) string {
	if b == nil {
		return "(none)"
	}
	return compact(b)
}

// shorten cuts a long value for an event's line.
func shorten(s string) string { return cut(s, 60) }

// cut cuts s to at most most runes, marking the cut.
func cut(s string, most int) string {
	if r := []rune(s); len(r) > most {
		return string(r[:most]) + "…"
	}
	return s
}

// auditTaskTypes names the task types a console change concerns: a task
// type saved, deleted or run now, or one of the strategies that run it
// paused, resumed, saved or deleted. strategies maps a strategy to the
// task type it runs, as last read; the change's own documents say it too.
func auditTaskTypes(rec auditRecord, strategies strategyMemory) []string {
	switch rec.Action {
	case "save taskType", "delete taskType":
		return []string{rec.Target}
	case "run-now":
		if s, ok := strategies[rec.Target]; ok && baseOf(s) != "" {
			return []string{baseOf(s)}
		}
		return []string{rec.Target}
	case "save strategy", "delete strategy", "pause", "resume":
		var out []string
		note := func(b string) {
			if b != "" && !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
		if s, ok := strategies[rec.Target]; ok {
			note(baseOf(s))
		}
		for _, doc := range []string{rec.Input, rec.Before, rec.After} {
			note(baseOf(strategyOfDoc(doc)))
		}
		return out
	}
	return nil
}

// strategyOfDoc reads a strategy document, or an object snapshot
// ("version N: {...}"); the zero strategy if it is neither.
func strategyOfDoc(doc string) strategyView {
	if i := strings.Index(doc, "{"); i >= 0 {
		doc = doc[i:]
	}
	var s strategyView
	_ = json.Unmarshal([]byte(doc), &s)
	return s
}

// auditText tells a console change in one line.
func auditText(rec auditRecord) string {
	s := fmt.Sprintf("%s (%s) through this console: %s %s", rec.User, rec.Role, rec.Action, rec.Target)
	if rec.OK {
		return s + ": done"
	}
	msg, _, _ := strings.Cut(failure(rec.Result), "\n")
	return s + ": REFUSED: " + cut(msg, 300)
}
