package manager

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// The manager's events (see Event), each built by a pure function from what
// the loop already has, and emitted only when a hook is set.

// leadEvents turns the leader's writes that succeeded (written[i] is the
// item as written[i] left it, nil for a write that failed) into one grant
// event per grantee and one handover event per (owner, target), with the
// items in natural order.
func leadEvents(items []schedule.Item, writes []plan.Write[schedule.ServerID], written []*schedule.Item) []schedule.Event {
	type key struct {
		kind     schedule.EventKind
		server   schedule.ServerID
		to       schedule.ServerID
		hasEpoch bool
	}
	groups := map[key][]schedule.OwnedItem{}
	for i, w := range writes {
		up := written[i]
		if up == nil {
			continue
		}
		old := items[w.At]
		switch {
		case w.Cur != old.CurServer && w.Cur != "":
			k := key{kind: schedule.EventGrant, server: w.Cur, hasEpoch: true}
			groups[k] = append(groups[k], schedule.OwnedItem{ID: old.ID, Epoch: up.Epoch})
		case w.Req != "" && w.Req != old.ReqServer && old.CurServer != "":
			k := key{kind: schedule.EventHandover, server: old.CurServer, to: w.Req}
			groups[k] = append(groups[k], schedule.OwnedItem{ID: old.ID, Epoch: old.Epoch})
		}
	}
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b key) int {
		if a.kind != b.kind {
			return int(a.kind) - int(b.kind)
		}
		if a.server != b.server {
			return cmp.Compare(a.server, b.server)
		}
		return cmp.Compare(a.to, b.to)
	})
	out := make([]schedule.Event, 0, len(keys))
	for _, k := range keys {
		e := schedule.Event{Kind: k.kind, Server: k.server, Items: sortOwned(groups[k])}
		switch {
		case k.kind == schedule.EventGrant:
			e.Message = fmt.Sprintf("leader granted %d item(s)", len(e.Items))
		case k.to == schedule.NoServer:
			e.Message = "leader asked the owner to give the items up (removed or beyond capacity)"
		default:
			e.Message = "leader asked the owner to hand the items over to " + string(k.to)
		}
		out = append(out, e)
	}
	return out
}

// sortOwned sorts items by id in natural order (as SortItemIDs).
func sortOwned(items []schedule.OwnedItem) []schedule.OwnedItem {
	ids := make([]schedule.ItemID, len(items))
	byID := make(map[schedule.ItemID]schedule.OwnedItem, len(items))
	for i, it := range items {
		ids[i] = it.ID
		byID[it.ID] = it
	}
	storekit.SortItemIDs(ids)
	for i, id := range ids {
		items[i] = byID[id]
	}
	return items
}

// acquireEvent returns the event of the items after holds that before did
// not hold under the same epoch (see newGrants), ok false when none.
func acquireEvent(me schedule.ServerID, before, after map[schedule.ItemID]schedule.Item) (schedule.Event, bool) {
	var got []schedule.OwnedItem
	for id, it := range after {
		if old, ok := before[id]; !ok || old.Epoch != it.Epoch {
			got = append(got, schedule.OwnedItem{ID: id, Epoch: it.Epoch})
		}
	}
	if len(got) == 0 {
		return schedule.Event{}, false
	}
	return schedule.Event{Kind: schedule.EventAcquire, Server: me, Items: sortOwned(got),
		Message: fmt.Sprintf("acquired %d item(s)", len(got))}, true
}

// releaseEvents returns one event per target of the handovers done, with
// the epochs given up.
func releaseEvents(me schedule.ServerID, items []schedule.Item, done []plan.Write[schedule.ServerID]) []schedule.Event {
	byTo := map[schedule.ServerID][]schedule.OwnedItem{}
	for _, h := range done {
		it := items[h.At]
		byTo[h.Cur] = append(byTo[h.Cur], schedule.OwnedItem{ID: it.ID, Epoch: it.Epoch})
	}
	var out []schedule.Event
	for _, to := range slices.Sorted(maps.Keys(byTo)) {
		msg := "handed over to " + string(to)
		if to == "" {
			msg = "given up (no new owner)"
		}
		out = append(out, schedule.Event{Kind: schedule.EventRelease, Server: me, Items: sortOwned(byTo[to]), Message: msg})
	}
	return out
}

// holdEvents returns the holds that started (a server in after, not in
// before: with the items it still owns and the end of the hold if one is
// under way) and ended (in before, not in after) in a leader's round.
func holdEvents[T any](before, after map[schedule.ServerID]T, holds []plan.Hold[schedule.ServerID], items []schedule.Item) []schedule.Event {
	var out []schedule.Event
	for _, id := range slices.Sorted(maps.Keys(after)) {
		if _, seen := before[id]; seen {
			continue
		}
		e := schedule.Event{Kind: schedule.EventHoldStart, Server: id, Message: "server vanished while owning items; granted at once (no lock delay)"}
		for _, h := range holds {
			if h.Server == id {
				e.Message = "server vanished while owning items; held until " + h.Until.UTC().Format("15:04:05.000Z")
			}
		}
		for _, it := range items {
			if it.CurServer == id {
				e.Items = append(e.Items, schedule.OwnedItem{ID: it.ID, Epoch: it.Epoch})
			}
		}
		out = append(out, e)
	}
	for _, id := range slices.Sorted(maps.Keys(before)) {
		if _, still := after[id]; !still {
			out = append(out, schedule.Event{Kind: schedule.EventHoldEnd, Server: id, Message: "the vanished server's items were released or granted again, or it came back"})
		}
	}
	return out
}

// fenceEvent describes a fence (on) or its lift.
func fenceEvent(me schedule.ServerID, on bool, c fence.Condition) schedule.Event {
	if on {
		return schedule.Event{Kind: schedule.EventFence, Server: me, Message: "session " + c.String() + ": running deals cancelled"}
	}
	return schedule.Event{Kind: schedule.EventUnfence, Server: me, Message: "session confirmed: fence lifted"}
}

func (m *Manager) emitLead(items []schedule.Item, writes []plan.Write[schedule.ServerID], written []*schedule.Item) {
	if m.events != nil {
		for _, e := range leadEvents(items, writes, written) {
			m.emit(e)
		}
	}
}

func (m *Manager) emitAcquired(me schedule.ServerID, before, after map[schedule.ItemID]schedule.Item) {
	if m.events == nil {
		return
	}
	if e, ok := acquireEvent(me, before, after); ok {
		m.emit(e)
	}
}

func (m *Manager) emitReleased(me schedule.ServerID, items []schedule.Item, done []plan.Write[schedule.ServerID]) {
	if m.events != nil {
		for _, e := range releaseEvents(me, items, done) {
			m.emit(e)
		}
	}
}

func (m *Manager) emitHolds(before, after map[schedule.ServerID]time.Time, holds []plan.Hold[schedule.ServerID], items []schedule.Item) {
	if m.events != nil {
		for _, e := range holdEvents(before, after, holds, items) {
			m.emit(e)
		}
	}
}

func (m *Manager) emitFence(on bool, c fence.Condition) {
	if m.events != nil {
		m.emit(fenceEvent(m.serverID(), on, c))
	}
}

func (m *Manager) emitWindow(open bool, msg string) {
	if m.events == nil {
		return
	}
	e := schedule.Event{Kind: schedule.EventWindowClose, Server: m.serverID(), Message: msg}
	if open {
		e.Kind = schedule.EventWindowOpen
	}
	m.emit(e)
}

// serverID is this server's id under its current session ("" if none).
func (m *Manager) serverID() schedule.ServerID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status.Server
}

// failingHook is what the processor calls when a record key starts failing
// or recovers (engine.WithFailing), or nil without an events hook.
func (m *Manager) failingHook() func(key string, err error) {
	if m.events == nil {
		return nil
	}
	return func(key string, err error) {
		m.emit(failingEvent(m.serverID(), key, err))
	}
}

// failingEvent describes key's first failure (err) or recovery (nil).
func failingEvent(me schedule.ServerID, key string, err error) schedule.Event {
	if err == nil {
		return schedule.Event{Kind: schedule.EventRecordRecovered, Server: me, Message: "record key " + key + " succeeded again"}
	}
	return schedule.Event{Kind: schedule.EventRecordFailing, Server: me, Message: "record key " + key + " failed: " + eventLine(err.Error())}
}

// eventLine is the first line of s (a panic's stack stays in the log).
func eventLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
