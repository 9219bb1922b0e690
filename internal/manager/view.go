package manager

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// How a manager follows its runtime's items without watching or reading
// every one (the note boxes of ItemStore): a server watches its own box and
// the mark; when its box changes it reads the notes, then only the items
// they name, and deletes the notes. The leader reads every item when it
// starts leading and keeps them, with their versions, in its session; then
// it re-reads only what the leader box names (writes by others) and what a
// write of its own found changed. Notes only bring news sooner: every
// write is still version-checked and epoch-fenced, and every owner re-reads
// its own items after each rebuild and every recheckEvery resyncs.
//
// The previous way (a watch on every item, all read when the items stamp
// moved) stays behind Manager.oldReads for benchmarks (internal/readpath).

// liveServers returns the live servers: read again when the servers watch
// fired or at a resync (serversStale), else the last read (the previous way
// reads them at every round). A session back from suspicion is the same
// session with the same watches: what changed meanwhile fires them.
//
// The leader reads every record every round. Another server lists the ids
// and reads records only while it is next in line to lead (second in the
// list): it then reads those it has not read yet (readNewServers). Any
// other server knows the others by id alone; should it lead after servers
// vanished unread, it holds their items for its own lock delay.
func (m *Manager) liveServers(ctx context.Context, s *session) ([]schedule.Server, error) {
	// The leader reads them every round: it grants only to servers it
	// saw live, and a server that left since the cache was filled (its
	// releases written, its node gone, the watch not yet seen) would be
	// granted items that then wait out its whole lock delay.
	switch serversRead(m.oldReads, s.leader, s.serversStale, len(s.servers) > 0) {
	case readAll:
		list, err := m.store.Servers(ctx, m.runtime)
		if err != nil {
			return nil, err
		}
		s.servers, s.records, s.serversStale = list, recordsOf(list), false
	case readNew:
		list, err := m.readNewServers(ctx, s)
		if err != nil {
			return nil, err
		}
		s.servers, s.serversStale = list, false
	}
	return s.servers, nil
}

// readNewServers is liveServers for a server that did not lead: it lists
// the ids. If the list says it leads now, it reads every record: the leader
// plans with fresh ones. Next in line, it reads the records it lacks, so
// that it knows their lock delays and host names should it lead after they
// vanish. Otherwise it reads none. It keeps the records it read of the
// servers still listed (s.records).
func (m *Manager) readNewServers(ctx context.Context, s *session) ([]schedule.Server, error) {
	ids, err := m.store.ServerIDs(ctx, m.runtime)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 && ids[0] == s.me {
		list, err := m.store.Servers(ctx, m.runtime)
		if err == nil {
			s.records = recordsOf(list)
		}
		return list, err
	}
	if !nextInLine(ids, s.me) {
		s.records = keptRecords(ids, s.records)
		return withRecords(ids, s.records), nil
	}
	fresh := newServerIDs(ids, s.records)
	var recs []schedule.Server
	if len(fresh) > 0 {
		if recs, err = m.store.ServersByID(ctx, m.runtime, fresh); err != nil {
			return nil, err
		}
	}
	list := mergeServers(ids, s.records, recs)
	s.records = recordsOf(list)
	return list, nil
}

// nextInLine reports whether me leads when the first of the live servers
// ids goes. It is pure.
func nextInLine(ids []schedule.ServerID, me schedule.ServerID) bool {
	return len(ids) > 1 && ids[1] == me
}

// recordsOf indexes records by server. It is pure.
func recordsOf(list []schedule.Server) map[schedule.ServerID]schedule.Server {
	out := make(map[schedule.ServerID]schedule.Server, len(list))
	for _, rec := range list {
		out[rec.UUID] = rec
	}
	return out
}

// keptRecords returns the records of known whose server is among ids. It
// is pure.
func keptRecords(ids []schedule.ServerID, known map[schedule.ServerID]schedule.Server) map[schedule.ServerID]schedule.Server {
	out := make(map[schedule.ServerID]schedule.Server, min(len(ids), len(known)))
	for _, id := range ids {
		if rec, ok := known[id]; ok {
			out[id] = rec
		}
	}
	return out
}

// withRecords returns the live servers ids in their order: the record in
// known, else one with the id alone (no host name, no published lock
// delay). It is pure.
func withRecords(ids []schedule.ServerID, known map[schedule.ServerID]schedule.Server) []schedule.Server {
	out := make([]schedule.Server, len(ids))
	for i, id := range ids {
		if rec, ok := known[id]; ok {
			out[i] = rec
		} else {
			out[i] = schedule.Server{UUID: id}
		}
	}
	return out
}

// serversReadKind is how a round reads the live servers.
type serversReadKind int

const (
	readNone serversReadKind = iota // the last read stands
	readAll                         // every record
	readNew                         // the ids, and what records readNewServers wants
)

// serversRead decides how a round reads the live servers: oldReads (the
// previous way, for benchmarks) and the leader read every record every
// round; another server reads the ids (and the records readNewServers
// wants) at its first read and when the servers' watch fired or a resync
// came (stale). It is pure.
func serversRead(oldReads, leader, stale, have bool) serversReadKind {
	switch {
	case oldReads || leader:
		return readAll
	case stale || !have:
		return readNew
	}
	return readNone
}

// newServerIDs returns the ids in ids without a record in known. It is pure.
func newServerIDs(ids []schedule.ServerID, known map[schedule.ServerID]schedule.Server) []schedule.ServerID {
	var out []schedule.ServerID
	for _, id := range ids {
		if _, ok := known[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// mergeServers returns the live servers in the order of ids: the record in
// known, else the one read (recs). A server listed but gone before its
// record was read is left out, like a read of every record leaves it out.
// It is pure.
func mergeServers(ids []schedule.ServerID, known map[schedule.ServerID]schedule.Server, recs []schedule.Server) []schedule.Server {
	read := make(map[schedule.ServerID]schedule.Server, len(recs))
	for _, rec := range recs {
		read[rec.UUID] = rec
	}
	out := make([]schedule.Server, 0, len(ids))
	for _, id := range ids {
		if rec, ok := known[id]; ok {
			out = append(out, rec)
		} else if rec, ok := read[id]; ok {
			out = append(out, rec)
		}
	}
	return out
}

// followItems returns this round's items: every item for the leader, the
// items it owns (and the mark) for any other server.
func (m *Manager) followItems(ctx context.Context, s *session) (schedule.Items, error) {
	if err := m.watchOwnNotes(ctx, s); err != nil {
		return schedule.Items{}, err
	}
	if s.leader {
		return m.leaderItems(ctx, s)
	}
	notes, err := m.store.Notes(ctx, m.runtime, s.me)
	if err != nil {
		return schedule.Items{}, err
	}
	ids := notedItems(notes, "")
	if s.recheck {
		// A rebuild or the resync: look at what we hold again.
		for _, it := range s.items.Items {
			ids = append(ids, it.ID)
		}
	}
	if len(ids) > 0 || s.recheck {
		if err := m.refresh(ctx, s, ids); err != nil {
			return schedule.Items{}, err
		}
		s.recheck = false
	}
	return s.items, m.consume(ctx, s, s.me, notes)
}

// watchOwnNotes arms the watch of this server's note box unless it is.
// Armed by a round, not between registering and the session loop: a
// failure is a failed round, retried, and a stop still unregisters. The
// round reads the box after arming its watch.
func (m *Manager) watchOwnNotes(ctx context.Context, s *session) error {
	if s.ownNotes != nil {
		return nil
	}
	ch, err := m.store.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchNotes, Name: m.runtime, Server: s.me})
	if err != nil {
		return err
	}
	s.ownNotes = ch
	return nil
}

// leaderItems is followItems for the leader. Its notes are listed before a
// full read, so the read is newer than every note it then deletes.
func (m *Manager) leaderItems(ctx context.Context, s *session) (schedule.Items, error) {
	if s.leaderNotes == nil {
		// Watch the leader box before reading it: nothing written after
		// the read goes unnoticed.
		ch, err := m.store.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchNotes, Name: m.runtime, Server: storekit.LeaderBox})
		if err != nil {
			return schedule.Items{}, err
		}
		s.leaderNotes = ch
	}
	notes, err := m.store.Notes(ctx, m.runtime, storekit.LeaderBox)
	if err != nil {
		return schedule.Items{}, err
	}
	if s.full && s.recheck {
		// A rebuild or the resync: a mark written by someone else (an
		// operator's rebuild) may have changed any item.
		got, err := m.store.ItemsByID(ctx, m.runtime, nil)
		if err != nil {
			return schedule.Items{}, err
		}
		s.full = got.Mark.Version == s.items.Mark.Version && got.Mark.Leader == s.items.Mark.Leader
	}
	if !s.full {
		items, err := m.store.Items(ctx, m.runtime)
		if err != nil {
			return schedule.Items{}, err
		}
		s.items, s.full = items, true
	} else if ids := notedItems(notes, s.me); len(ids) > 0 {
		// Nothing noted, nothing to read: a rewritten mark fires the
		// mark's watch, and the recheck above reads it.
		if err := m.refresh(ctx, s, ids); err != nil {
			return schedule.Items{}, err
		}
	}
	s.recheck = false
	if err := m.consume(ctx, s, storekit.LeaderBox, notes); err != nil {
		return schedule.Items{}, err
	}
	// The leader knows every item: its own box's notes tell it nothing.
	own, err := m.store.Notes(ctx, m.runtime, s.me)
	if err != nil {
		return schedule.Items{}, err
	}
	return s.items, m.consume(ctx, s, s.me, own)
}

// consume deletes the notes read from a box (guarded by this server).
func (m *Manager) consume(ctx context.Context, s *session, box schedule.ServerID, notes []storekit.Note) error {
	if len(notes) == 0 {
		return nil
	}
	names := make([]string, len(notes))
	for i, n := range notes {
		names[i] = n.Name
	}
	return m.store.DeleteNotes(ctx, m.runtime, s.me, box, names)
}

// notedItems returns the items the notes name, except those of notes
// written by skip (the leader's own writes, known already), sorted and
// without repeats. It is pure.
func notedItems(notes []storekit.Note, skip schedule.ServerID) []schedule.ItemID {
	var ids []schedule.ItemID
	for _, n := range notes {
		if skip != "" && n.By == skip {
			continue
		}
		ids = append(ids, n.Items...)
	}
	storekit.SortItemIDs(ids)
	return slices.Compact(ids)
}

// refresh reads the items ids (and the mark) and puts them into the
// session's view.
func (m *Manager) refresh(ctx context.Context, s *session, ids []schedule.ItemID) error {
	storekit.SortItemIDs(ids)
	ids = slices.Compact(ids)
	got, err := m.store.ItemsByID(ctx, m.runtime, ids)
	if err != nil {
		return err
	}
	s.items.Mark = got.Mark
	s.items.Items = patchItems(s.items.Items, ids, got.Items, m.keepFor(s))
	return nil
}

// keepFor is what the session's view holds: every item for a leader that
// read them all, else the items the server owns.
func (m *Manager) keepFor(s *session) func(schedule.Item) bool {
	if s.full {
		return func(schedule.Item) bool { return true }
	}
	return func(it schedule.Item) bool { return it.CurServer == s.me }
}

// patch puts items just written into the session's view (the previous
// way keeps no view: it reads again when the stamp moved).
func (m *Manager) patch(s *session, written []schedule.Item) {
	if m.oldReads || len(written) == 0 {
		return
	}
	ids := make([]schedule.ItemID, len(written))
	for i, it := range written {
		ids[i] = it.ID
	}
	s.items.Items = patchItems(s.items.Items, ids, written, m.keepFor(s))
}

// patchItems returns view (sorted by id) with the items ids replaced by
// those of got that keep accepts; an id not in got, or refused, leaves the
// view. It is pure; view is not modified.
func patchItems(view []schedule.Item, ids []schedule.ItemID, got []schedule.Item, keep func(schedule.Item) bool) []schedule.Item {
	drop := make(map[schedule.ItemID]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	out := make([]schedule.Item, 0, len(view)+len(got))
	for _, it := range view {
		if !drop[it.ID] {
			out = append(out, it)
		}
	}
	for _, it := range got {
		if drop[it.ID] && keep(it) {
			out = append(out, it)
			drop[it.ID] = false // a repeated id counts once
		}
	}
	slices.SortFunc(out, func(a, b schedule.Item) int { return storekit.CompareItemIDs(a.ID, b.ID) })
	return out
}

// itemCount is the number of active items, for the processor and Status:
// counted in the view when it holds every item, else from the mark.
func (m *Manager) itemCount(s *session, items schedule.Items) int {
	if m.oldReads || s.full {
		return countActive(items.Items)
	}
	return len(items.Mark.Defs)
}

// ownedIDs lists the items of the view that s.me owns, and those under
// release.
func ownedIDs(s *session) []schedule.ItemID {
	var ids []schedule.ItemID
	for _, it := range s.items.Items {
		if it.CurServer == s.me {
			ids = append(ids, it.ID)
		}
	}
	for id := range s.releasing {
		ids = append(ids, id)
	}
	storekit.SortItemIDs(ids)
	return slices.Compact(ids)
}

// sweepBoxes deletes the note boxes of servers that are gone (the leader's
// chore at its resyncs, run beside the session loop). The servers are read afresh first: a box is
// swept only if its server is not among them and registered before the
// newest of them (a lower sequence), so the box of a server that
// registered after that read is never taken for a dead one's.
func (m *Manager) sweepBoxes(ctx context.Context, me schedule.ServerID) {
	servers, err := m.store.Servers(ctx, m.runtime)
	if err != nil {
		return
	}
	boxes, err := m.store.NoteBoxes(ctx, m.runtime)
	if err != nil {
		return
	}
	for _, box := range sweepable(boxes, servers) {
		if err := m.store.DeleteNotes(ctx, m.runtime, me, box, nil); err != nil {
			m.log.Warn("removing the note box of a server that is gone failed", "box", box, "err", err)
			return
		}
	}
}

// sweepable returns the boxes of servers that are gone: not among the live
// servers and with a sequence below the newest live one's. LeaderBox and
// names without a sequence are kept. It is pure.
func sweepable(boxes []schedule.ServerID, live []schedule.Server) []schedule.ServerID {
	isLive := make(map[schedule.ServerID]bool, len(live))
	var newest int64 = -1
	for _, sv := range live {
		isLive[sv.UUID] = true
		newest = max(newest, sv.Seq)
	}
	var out []schedule.ServerID
	for _, b := range boxes {
		i := strings.LastIndexByte(string(b), '$')
		if b == storekit.LeaderBox || isLive[b] || i < 0 {
			continue
		}
		seq, err := strconv.ParseInt(string(b[i+1:]), 10, 64)
		if err == nil && seq < newest {
			out = append(out, b)
		}
	}
	return out
}
