package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// rt builds a runtime view: servers "uuid:name[:window]" (the first leads),
// items "id:cur:req:epoch[:REMOVED]" with cur and req as uuids.
func rt(own, stamp string, servers []string, items []string, holds ...holdView) runtimeView {
	r := runtimeView{OwnSign: own, ItemsStamp: stamp, Holds: holds}
	// Status names every server its items name, live or not.
	names := map[string]string{"a": "w1#1", "b": "w2#2", "c": "w3#3"}
	for i, s := range servers {
		f := strings.Split(s, ":")
		sv := serverView{UUID: f[0], Name: f[1], Leader: i == 0}
		if len(f) > 2 {
			sv.WindowState = f[2]
		}
		names[f[0]] = f[1]
		r.Servers = append(r.Servers, sv)
	}
	for _, s := range items {
		f := strings.Split(s, ":")
		var epoch int64
		fmt.Sscan(f[3], &epoch)
		it := itemView{ID: f[0], CurServer: f[1], ReqServer: f[2], Epoch: epoch, Sts: schedule.ItemActive}
		if len(f) > 4 {
			it.Sts = f[4]
		}
		it.OwnerName, it.RequestedName = cmpOr(names[f[1]], f[1]), cmpOr(names[f[2]], f[2])
		r.Items = append(r.Items, it)
	}
	return r
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func status(tts ...taskTypeView) statusView { return statusView{TaskTypes: tts} }

func tt(name string, rts ...runtimeView) taskTypeView {
	return taskTypeView{BaseTaskType: name, Runtimes: rts}
}

func texts(evs []seenEvent) []string {
	out := []string{}
	for _, e := range evs {
		s := e.TaskType + " " + e.Kind + ": " + e.Text
		if e.OwnSign != "" {
			s = e.TaskType + "$" + e.OwnSign + " " + e.Kind + ": " + e.Text
		}
		out = append(out, s)
	}
	return out
}

var (
	twoServers = []string{"a:w1#1:open", "b:w2#2:open"}
	until      = schedule.Time{Time: time.Date(2026, 12, 5, 3, 10, 7, 0, time.UTC)}
)

// TestStatusEvents: two status reads in turn, and the changes the console
// tells between them, in words.
func TestStatusEvents(t *testing.T) {
	runNow := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		prev, next statusView
		want       []string
	}{
		{"nothing changed", status(tt("o", rt("BASE", "s1", twoServers, []string{"0:a::5", "1:b::6"}))),
			status(tt("o", rt("BASE", "s1", twoServers, []string{"0:a::5", "1:b::6"}))), []string{}},
		{"items granted, grouped by owner", status(tt("o", rt("BASE", "s1", twoServers, []string{"0:::5", "1:::6", "2:::7"}))),
			status(tt("o", rt("BASE", "s2", twoServers, []string{"0:a::6", "1:a::7", "2:b::8"}))),
			[]string{"o$BASE grant: granted 2 items to w1#1: 0, 1", "o$BASE grant: granted item 2 to w2#2 (epoch 8)"}},
		{"handover asked, then moved", status(tt("o", rt("BASE", "s1", twoServers, []string{"0:a::5", "1:a::6"}))),
			status(tt("o", rt("BASE", "s2", twoServers, []string{"0:a:b:5", "1:b::7"}))),
			[]string{"o$BASE handover: asked w1#1 to hand item 0 over to w2#2", "o$BASE move: moved item 1 from w1#1 to w2#2 (epoch 7)"}},
		{"released, given up, granted again", status(tt("o", rt("BASE", "s1", twoServers, []string{"0:a::5", "1:b::6", "2:b::7"}))),
			status(tt("o", rt("BASE", "s2", twoServers, []string{"0:::5", "1:b:-:6", "2:b::9"}))),
			[]string{"o$BASE release: w1#1 released item 0 (now unassigned)", "o$BASE handover: asked w2#2 to give up item 1", "o$BASE grant: granted item 2 to w2#2 (epoch 9)"}},
		{"items added and removed", status(tt("o", rt("BASE", "s1", twoServers, []string{"0:a::5", "1:b::6", "2:b::7"}))),
			status(tt("o", rt("BASE", "s2", twoServers, []string{"0:a::5", "1:b::6:REMOVED", "3:::8"}))),
			[]string{"o$BASE added: item 3 added to the list", "o$BASE removed: 2 items removed from the list: 1, 2"}},
		{"an unmoved stamp: the items are not compared", status(tt("o", rt("BASE", "s1", twoServers, []string{"0:a::5"}))),
			status(tt("o", rt("BASE", "s1", twoServers, []string{"0:b::9"}))), []string{}},
		{"no stamp: the items are compared", status(tt("o", rt("BASE", "", twoServers, []string{"0:a::5"}))),
			status(tt("o", rt("BASE", "", twoServers, []string{"0:b::9"}))), []string{"o$BASE move: moved item 0 from w1#1 to w2#2 (epoch 9)"}},
		{"a server vanishes: its items held, a new leader", status(tt("o", rt("BASE", "s1", twoServers, []string{"0:a::5", "1:b::6"}))),
			status(tt("o", rt("BASE", "s1", []string{"b:w2#2:open"}, []string{"0:a::5", "1:b::6"}, holdView{Server: "a", HostName: "w1", Items: 1, Until: until}))),
			[]string{"o$BASE server-gone: server w1#1 vanished (no longer live)", "o$BASE leader: w2#2 leads the runtime now",
				"o$BASE hold-start: holding 1 item of vanished w1#1 until 2026-12-05 03:10:07Z (its lock delay)"}},
		{"the hold ends, the items taken over, a server joins", status(tt("o", rt("BASE", "s1", []string{"b:w2#2:open"}, []string{"0:a::5", "1:b::6"}, holdView{Server: "a", HostName: "w1", Items: 1, Until: until}))),
			status(tt("o", rt("BASE", "s2", []string{"b:w2#2:open", "c:w3#3:closed"}, []string{"0:b::8", "1:b::6"}))),
			[]string{"o$BASE server-join: server w3#3 joined, window closed", "o$BASE hold-end: the hold on the items of w1#1 ended",
				"o$BASE move: moved item 0 from w1#1 to w2#2 (epoch 8)"}},
		{"one server goes, another joins", status(tt("o", rt("BASE", "s1", twoServers, nil))),
			status(tt("o", rt("BASE", "s1", []string{"b:w2#2:open", "c:w3#3:open"}, nil))),
			[]string{"o$BASE server-gone: server w1#1 vanished (no longer live)", "o$BASE server-join: server w3#3 joined, window open", "o$BASE leader: w2#2 leads the runtime now"}},
		{"window states", status(tt("o", rt("BASE", "s1", twoServers, nil))),
			status(tt("o", rt("BASE", "s1", []string{"a:w1#1:closed", "b:w2#2:closed"}, nil))), []string{"o$BASE window: window closed on w1#1, w2#2"}},
		{"run now", status(tt("o")), status(taskTypeView{BaseTaskType: "o", RunNowAt: &runNow, RunNowBy: "console user op"}),
			[]string{"o run-now: run-now asked by console user op at 2026-12-05 03:00:00Z"}},
		{"task types and runtimes come and go", status(tt("o", rt("BASE", "s1", nil, nil)), tt("gone")),
			status(tt("o", rt("X", "s9", []string{"a:w1#1"}, []string{"0:::1"})), tt("new")),
			[]string{"o$X runtime: runtime X appeared", "o$X server-join: server w1#1 joined", "o$X added: item 0 added to the list",
				"o$BASE runtime: runtime BASE vanished (deleted)", "new created: task type created", "gone deleted: task type deleted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			first, mem := statusEvents(nil, c.prev)
			if len(first) != 0 {
				t.Fatalf("the first read told changes: %q", texts(first))
			}
			got, next := statusEvents(mem, c.next)
			if !slices.Equal(texts(got), c.want) {
				t.Errorf("got\n%q\nwant\n%q", texts(got), c.want)
			}
			if again, _ := statusEvents(next, c.next); len(again) != 0 {
				t.Errorf("the same read again told changes: %q", texts(again))
			}
		})
	}
}

// TestItemEventsListAtMostTen: an event names at most maxListed items.
func TestItemEventsListAtMostTen(t *testing.T) {
	var before, after []string
	for i := range 25 {
		before = append(before, fmt.Sprintf("%d:::1", i))
		after = append(after, fmt.Sprintf("%d:a::2", i))
	}
	_, mem := statusEvents(nil, status(tt("o", rt("BASE", "s1", twoServers, before))))
	got, _ := statusEvents(mem, status(tt("o", rt("BASE", "s2", twoServers, after))))
	want := []string{"o$BASE grant: granted 25 items to w1#1: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 15 more"}
	if !slices.Equal(texts(got), want) {
		t.Errorf("got %q, want %q", texts(got), want)
	}
}

func TestStrategyEvents(t *testing.T) {
	s := func(name, task, sts string, n int) strategyView {
		return strategyView{StrategyName: name, Kind: "Schedule", TaskName: task, Sts: sts, AssignNum: n}
	}
	bean := strategyView{StrategyName: "b", Kind: "Bean", TaskName: "o", Sts: "resume"}
	for _, c := range []struct {
		name       string
		prev, next []strategyView
		want       []string
	}{
		{"nothing", []strategyView{s("s1", "o", "resume", 2)}, []strategyView{s("s1", "o", "resume", 2)}, []string{}},
		{"paused", []strategyView{s("s1", "o$X", "resume", 2)}, []strategyView{s("s1", "o$X", "pause", 2)}, []string{"o paused: strategy s1 paused"}},
		{"resumed, more thread groups", []strategyView{s("s1", "o", "pause", 2)}, []strategyView{s("s1", "o", "resume", 3)},
			[]string{"o resumed: strategy s1 resumed", "o strategy: strategy s1: assignNum 2 -> 3"}},
		{"added and deleted", []strategyView{s("s1", "o", "resume", 2)}, []strategyView{s("s2", "p", "pause", 1)},
			[]string{"p strategy: strategy s2 added (runs p, pause, assignNum 1)", "o strategy: strategy s1 deleted"}},
		{"moved to another task type: both hear", []strategyView{s("s1", "o", "resume", 2)}, []strategyView{s("s1", "p", "resume", 2)},
			[]string{"o strategy: strategy s1 now runs p instead of o", "p strategy: strategy s1 now runs p instead of o"}},
		{"a Bean strategy runs no task type", []strategyView{bean}, []strategyView{{StrategyName: "b", Kind: "Bean", TaskName: "o", Sts: "pause"}}, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			first, mem := strategyEvents(nil, c.prev)
			if len(first) != 0 {
				t.Fatalf("the first read told changes: %q", texts(first))
			}
			got, _ := strategyEvents(mem, c.next)
			if !slices.Equal(texts(got), c.want) {
				t.Errorf("got\n%q\nwant\n%q", texts(got), c.want)
			}
		})
	}
}

func TestConfigEvents(t *testing.T) {
	for _, c := range []struct {
		name       string
		prev, next string
		pv, nv     int32
		want       []string
	}{
		{"same version", `{"threadNumber":5}`, `{"threadNumber":5}`, 3, 3, []string{}},
		{"edited", `{"threadNumber":5,"taskItems":["0","1"],"old":1}`, `{"threadNumber":9,"taskItems":["0","1","2"]}`, 3, 4,
			[]string{` edit: configuration changed (version 3 -> 4): taskItems ["0","1"] -> ["0","1","2"], threadNumber 5 -> 9, old 1 -> (none)`}},
		{"a run-now request only", `{"threadNumber":5}`, `{"threadNumber":5,"runNowAt":"2026-12-05T03:00:00.000Z","runNowBy":"op"}`, 3, 4, []string{}},
		{"re-created with the same fields", `{"threadNumber":5}`, `{"threadNumber":5}`, 3, 0, []string{" edit: configuration changed (version 3 -> 0)"}},
		{"a long value is cut", `{"d":""}`, `{"d":"` + strings.Repeat("x", 100) + `"}`, 1, 2,
			[]string{` edit: configuration changed (version 1 -> 2): d "" -> "` + strings.Repeat("x", 59) + `…`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			first, mem, err := configEvents(nil, []byte(c.prev), c.pv)
			if err != nil || len(first) != 0 {
				t.Fatalf("first read: %q %v", texts(first), err)
			}
			got, _, err := configEvents(mem, []byte(c.next), c.nv)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(texts(got), c.want) {
				t.Errorf("got\n%q\nwant\n%q", texts(got), c.want)
			}
		})
	}
	if _, _, err := configEvents(nil, []byte(`[1]`), 1); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("a document that is not an object: %v", err)
	}
}

func TestAuditTaskTypes(t *testing.T) {
	known := strategyMemory{"s1": {StrategyName: "s1", Kind: "Schedule", TaskName: "o$X"}}
	for _, c := range []struct {
		name string
		rec  auditRecord
		want []string
	}{
		{"save task type", auditRecord{Action: "save taskType", Target: "o"}, []string{"o"}},
		{"delete task type", auditRecord{Action: "delete taskType", Target: "o"}, []string{"o"}},
		{"run-now of a task type", auditRecord{Action: "run-now", Target: "o"}, []string{"o"}},
		{"run-now of a strategy", auditRecord{Action: "run-now", Target: "s1"}, []string{"o"}},
		{"pause a known strategy", auditRecord{Action: "pause", Target: "s1", Before: "(not read)"}, []string{"o"}},
		{"resume a strategy known from its snapshot", auditRecord{Action: "resume", Target: "s2", Before: `version 4: {"strategyName":"s2","kind":"Schedule","taskName":"p$Y"}`}, []string{"p"}},
		{"save a strategy onto another task type", auditRecord{Action: "save strategy", Target: "s1", Input: `{"strategyName":"s1","kind":"Schedule","taskName":"q"}`}, []string{"o", "q"}},
		{"a Bean strategy", auditRecord{Action: "pause", Target: "b", Before: `version 1: {"strategyName":"b","kind":"Bean","taskName":"o"}`}, nil},
		{"a factory", auditRecord{Action: "stop factory", Target: "10.0.0.1$h"}, nil},
		{"an import", auditRecord{Action: "import", Target: "configuration"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := auditTaskTypes(c.rec, known); !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestEventLog: the log stamps events with when the console saw them, says
// between which times when no page made it look for a while, drops a read
// older than the last, lists the console's own changes, and keeps the
// last ringSize events.
func TestEventLog(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	l := newEventLog(10 * time.Second)
	read := func(at time.Time, items ...string) {
		b := fmt.Sprintf(`{"taskTypes":[{"baseTaskType":"o","runtimes":[{"ownSign":"BASE","servers":[{"uuid":"a","name":"w1#1","leader":true}],"items":[%s]}]}]}`, strings.Join(items, ","))
		l.observeRead(statusArgs, at, at.Add(time.Second), Result{Out: b})
	}
	read(t0, `{"id":"0","epoch":1}`)
	since, evs := l.events("o")
	if !since.Equal(t0.Add(time.Second)) || len(evs) != 0 {
		t.Fatalf("after the first read: since %v, %v", since, evs)
	}
	read(t0.Add(2*time.Second), `{"id":"0","cur_server":"a","ownerName":"w1#1","epoch":2}`, `{"id":"1","epoch":1}`)
	read(t0.Add(time.Second), `{"id":"0","epoch":1}`) // older than the last: dropped
	read(t0.Add(time.Hour), `{"id":"0","epoch":3}`, `{"id":"1","epoch":1}`)
	l.observeAudit(auditRecord{At: t0.Add(2 * time.Hour), User: "op", Role: RoleOperator, Action: "save taskType", Target: "o", OK: true})
	l.observeAudit(auditRecord{At: t0.Add(2 * time.Hour), User: "op", Role: RoleOperator, Action: "pause", Target: "s1", OK: true}) // a strategy never read: no task type
	l.observeAudit(auditRecord{At: t0.Add(2*time.Hour + time.Second), User: "op", Role: RoleOperator, Action: "run-now", Target: "o", Result: Result{Err: "permission denied\nmore", Code: 1}})
	_, evs = l.events("o")
	type row struct {
		at, after time.Time
		text      string
	}
	var got []row
	for _, e := range evs {
		r := row{at: e.At, text: e.Source + " " + e.Kind + ": " + e.Text}
		if e.After != nil {
			r.after = *e.After
		}
		got = append(got, r)
	}
	want := []row{
		{at: t0.Add(2*time.Hour + time.Second), text: "audit console change: op (operator) through this console: run-now o: REFUSED: permission denied"},
		{at: t0.Add(2 * time.Hour), text: "audit console change: op (operator) through this console: save taskType o: done"},
		{at: t0.Add(time.Hour + time.Second), after: t0.Add(2 * time.Second), text: "seen release: w1#1 released item 0 (now unassigned)"},
		// Seen at once: in the order found.
		{at: t0.Add(3 * time.Second), text: "seen added: item 1 added to the list"},
		{at: t0.Add(3 * time.Second), text: "seen grant: granted item 0 to w1#1 (epoch 2)"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}

	for i := range ringSize + 5 {
		l.observeAudit(auditRecord{At: t0.Add(3*time.Hour + time.Duration(i)*time.Second), Action: "run-now", Target: "o", OK: true})
	}
	if _, evs = l.events("o"); len(evs) != ringSize || !evs[0].At.Equal(t0.Add(3*time.Hour+(ringSize+4)*time.Second)) {
		t.Errorf("the ring holds %d events, the newest at %v", len(evs), evs[0].At)
	}
	if since, evs := l.events("other"); !since.IsZero() || len(evs) != 0 {
		t.Errorf("a task type never seen: %v %v", since, evs)
	}
}

// TestEventsAPI: the events of a task type need its name; one the console
// has not seen has none and no start.
func TestEventsAPI(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("vi", "vi-password")
	if resp, body := c.get("/api/events"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "taskType is empty") {
		t.Errorf("no task type: %d %s, want 400 naming taskType", resp.StatusCode, body)
	}
	if resp, body := c.get("/api/events?taskType=orders"); resp.StatusCode != http.StatusOK || body != `{"events":[],"since":null}`+"\n" {
		t.Errorf("a task type never seen: %d %q", resp.StatusCode, body)
	}
}
