package manager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// The leader's and the owner's round. The decisions are internal/plan's
// pure planners (Lead, Own); the functions here read, call them, apply the
// writes and log.

// retryKind says whether a round asks for another one soon, and how soon (see
// retryAtOnce).
type retryKind uint8

const (
	retryNone retryKind = iota
	// retryRace: a write lost a race, and what it concerned was read again
	// (or will be, by the next round): the next round re-plans just that.
	retryRace
	// retryLater: anything else (a build or the guard lost, a failed round):
	// after the backoff.
	retryLater
)

// raceRoundsAtOnce is how many rounds in a row that lost races (and nothing
// else) are followed by the next one at once; after that the backoff runs,
// so that a race that keeps being lost cannot spin the loop.
const raceRoundsAtOnce = 3

// retryAtOnce decides whether the round after one that asked for another
// (r) runs at once rather than after the backoff, racesInARow being how
// many rounds before it did so at once. A write that lost a race while
// servers join is expected, and the items concerned were read again: the
// next round re-plans only them, and waiting for a backoff would only
// delay the balance. It is pure.
func retryAtOnce(r retryKind, racesInARow int) bool {
	return r == retryRace && racesInARow < raceRoundsAtOnce
}

// reconcile reads servers and items, leads if this server leads, and acts as
// owner. It reports whether another round is needed soon, and how soon (a
// write lost a race, or something else failed).
func (m *Manager) reconcile(ctx context.Context, s *session, work *workHost) (again retryKind, err error) {
	readAt := m.clock.Now()
	// A new session's first round arms the watch of its note box beside
	// the read of the servers (see followItems): a round trip fewer.
	var notesErr error
	var wg sync.WaitGroup
	if s.ownNotes == nil && !m.oldReads {
		wg.Go(func() { notesErr = m.watchOwnNotes(ctx, s) })
	}
	list, err := m.liveServers(ctx, s)
	wg.Wait()
	if err = cmp.Or(err, notesErr); err != nil {
		return retryNone, err
	}
	sv, err := m.seeServers(s, list, readAt)
	if err != nil {
		return retryNone, err
	}
	if s.leader && s.full && !m.oldReads {
		// Still holding the first grants back (see settle): nothing is
		// owned, so there is nothing to read or do but look again.
		if until := m.settle(ctx, s, sv.live, s.items.Items); !until.IsZero() {
			s.heldUntil = until
			return retryNone, nil
		}
	}
	items, err := m.readItems(ctx, s)
	if err != nil {
		return retryNone, err
	}
	if s.leader {
		var leadAgain retryKind
		items, leadAgain, err = m.lead(ctx, s, &sv, items)
		if err != nil {
			return retryNone, err
		}
		again = max(again, leadAgain)
	}
	ownAgain, err := m.own(ctx, s, sv.live, items, work)
	if err != nil {
		return retryNone, err
	}
	m.updateStatus(func(st *schedule.Status) {
		st.Leader, st.IsLeader, st.Servers = sv.list[0].UUID, s.leader, len(sv.list)
		if !s.leader {
			st.Unassigned, st.Held = 0, 0
		}
		st.Items = m.itemCount(s, items)
	})
	return max(again, ownAgain), nil
}

// roundServers is what a round knows of the live servers: the list in
// leader order, and the set.
type roundServers struct {
	list []schedule.Server
	live map[schedule.ServerID]bool
}

// seeServers takes in a read of the live servers, asked for at readAt:
// their published lock delays and host names, whether one joined since the
// last read (then s.joined is readAt: the newcomers registered before it,
// and a read of 50 records takes a few hundred milliseconds under load),
// whether this server is among them (else its registration is lost), and
// whether it leads.
func (m *Manager) seeServers(s *session, list []schedule.Server, readAt time.Time) (roundServers, error) {
	sv := roundServers{list: list, live: make(map[schedule.ServerID]bool, len(list))}
	for _, rec := range list {
		sv.live[rec.UUID] = true
		if d, known := fence.DecodeLockDelay(rec.TakeoverDelay); known {
			s.delays[rec.UUID] = d
		}
		if rec.HostName != "" { // (a server known by id alone: see liveServers)
			s.hosts[rec.UUID] = rec.HostName
		}
	}
	s.heldUntil, s.holds = time.Time{}, nil
	s.joining = false
	if s.seen != nil {
		for id := range sv.live {
			if !s.seen[id] {
				s.joined, s.joining = readAt, true // see plan.Settle
				break
			}
		}
	}
	s.seen = sv.live
	if !sv.live[s.me] {
		return sv, fmt.Errorf("%w: %s not among the live servers", errRegistrationLost, s.me)
	}
	if isLeader := list[0].UUID == s.me; isLeader != s.leader {
		s.leader = isLeader
		m.metrics.LeaderChanged(m.runtime, s.me, isLeader)
		if isLeader {
			m.log.Info("leading", "server", s.me, "servers", len(list))
		}
	}
	return sv, nil
}

// serversMoved reports whether the servers' watch fired since the round
// read them (taking the notification: the caller reads them again).
func (s *session) serversMoved() bool {
	select {
	case _, open := <-s.serversCh:
		if !open {
			s.serversCh = nil // the store closed: never ready again
			return false
		}
		s.serversStale = true
		return true
	default:
		return false
	}
}

// readItems returns the runtime's items: by the notes (followItems), or the
// previous way kept for benchmarks. When the last full read's stamp is
// still the store's current one, nothing was written since, and that
// snapshot is used: one request instead of one per item, which keeps the
// periodic resync and rounds started by server changes as cheap with 10,000
// items as with 10. Otherwise it reads them all and keeps the result.
func (m *Manager) readItems(ctx context.Context, s *session) (schedule.Items, error) {
	if !m.oldReads {
		return m.followItems(ctx, s)
	}
	if s.items.Stamp != "" {
		stamp, err := m.store.ItemsStamp(ctx, m.runtime)
		if err != nil {
			return schedule.Items{}, err
		}
		if stamp == s.items.Stamp {
			return s.items, nil
		}
	}
	items, err := m.store.Items(ctx, m.runtime)
	if err != nil {
		return schedule.Items{}, err
	}
	s.items = items
	return items, nil
}

func countActive(items []schedule.Item) int {
	n := 0
	for _, it := range items {
		if it.Sts != schedule.ItemRemoved {
			n++
		}
	}
	return n
}

// lead is the leader's part: (re)build the items from the configuration and
// balance them over the live servers (plan.Lead decides, with the
// lock-delay holds of vanished servers). Every write is guarded by the
// leader's own server node, so a deposed leader's writes fail.
func (m *Manager) lead(ctx context.Context, s *session, sv *roundServers, items schedule.Items) (schedule.Items, retryKind, error) {
	// A first build is a cluster start, whose grants wait for the servers
	// the strategies ask for (see settle): their count is read beside the
	// build, not after it (a few hundred milliseconds under load, on the
	// way to the first grants).
	var expected chan int
	if s.expected <= 0 && items.Mark.Leader == "" && len(items.Items) == 0 {
		expected = make(chan int, 1)
		go func() { expected <- m.expectedServers(ctx) }()
	}
	items, built, lost, err := m.build(ctx, s, items)
	if expected != nil {
		if n := <-expected; built {
			s.expected = n
		}
	}
	if lost {
		s.full = false // someone else wrote the mark: read everything again
	}
	if err != nil || lost {
		return items, retryLater, err
	}
	if !m.oldReads {
		s.items = items
	}
	if built && s.serversMoved() {
		// Servers registered (or left) while this round read and built
		// the items (the first build takes a while when many servers
		// start together). Planning with them grants their share
		// directly instead of granting it to the servers seen at the
		// round's start and asking those to hand it over. Other rounds
		// are short, and a notification that arrives during one is
		// often for a change their read already saw: they plan with
		// that read, and the next round reads the servers again.
		readAt := m.clock.Now()
		list, err := m.liveServers(ctx, s)
		if err != nil {
			return items, retryNone, err
		}
		if *sv, err = m.seeServers(s, list, readAt); err != nil || !s.leader {
			return items, retryNone, err
		}
	}
	live := sv.live
	if until := m.settle(ctx, s, live, items.Items); !until.IsZero() {
		s.heldUntil = until // the session loop looks again then
		return items, retryNone, nil
	}
	ids := make([]schedule.ServerID, len(sv.list))
	for i, rec := range sv.list {
		ids[i] = rec.UUID
	}
	now := m.clock.Now()
	p := plan.Lead(plan.LeadInput[schedule.ItemID, schedule.ServerID]{Items: planItems(items.Items), Servers: ids,
		MaxPerServer: m.tt.MaxTaskItemsOfOneThreadGroup, Seed: m.runtime, Now: now,
		OwnDelay: m.lockDelay(s.sess), Delays: s.delays, Gone: s.gone})
	m.emitHolds(s.gone, p.Gone, p.Holds, items.Items)
	for _, d := range endedHolds(s.gone, p.Gone, now) {
		m.metrics.HoldEnded(m.runtime, d)
	}
	s.gone, s.heldUntil = p.Gone, p.HeldUntil
	for _, id := range p.ForgetDelays {
		delete(s.delays, id)
	}
	for id := range s.hosts {
		if _, gone := s.gone[id]; !live[id] && !gone {
			delete(s.hosts, id) // neither live nor held: no longer of interest
		}
	}
	for _, h := range p.Holds {
		s.holds = append(s.holds, schedule.ServerHold{Server: h.Server, HostName: s.hosts[h.Server], Items: h.Items, Until: schedule.Time{Time: h.Until}})
	}
	for _, e := range p.Events {
		m.log.Log(ctx, e.Level, e.Msg, e.Args...)
	}
	m.updateStatus(func(st *schedule.Status) { st.Unassigned, st.Held = p.Unassigned, p.Held })
	if p.Unassigned > 0 {
		m.log.Warn("items beyond the capacity of the live servers stay unassigned",
			"unassigned", p.Unassigned, "maxTaskItemsOfOneThreadGroup", m.tt.MaxTaskItemsOfOneThreadGroup)
	}
	m.metrics.Balanced(m.runtime, len(p.Writes), p.Held, p.Unassigned)
	written, again, err := m.applyLead(ctx, s, items, p.Writes)
	// The owner's part of this same round must see these writes: a leader
	// that owns items it just asked itself to hand over (at the start it
	// is granted every item first) hands them to their new target, against
	// their new version. The items as read before the writes made every
	// such handover conflict (the whole batch with it) and wait for the
	// retry's backoff, round after round while servers were joining.
	if m.oldReads {
		items = withWritten(items, written)
	} else {
		items = s.items // patched with the writes (and re-read where they lost a race)
	}
	return items, again, err
}

// Servers that start together register over a second or more: a leader
// that built the items from nothing holds its first grants back while
// they join (plan.Settle), at most settleMax after the build: until as
// many are live as the strategies that run the task type ask for, or,
// when none does, until a read of the servers finds no newcomer,
// settleQuiet or more after the read that found the last (less than a
// leader's round takes while many servers register: usually the next
// round that sees no newcomer ends the wait).
const (
	settleQuiet = 300 * time.Millisecond
	settleMax   = 3 * time.Second
)

// settle returns until when the leader holds back the first grants of a
// cluster start (zero: it grants now).
func (m *Manager) settle(ctx context.Context, s *session, live map[schedule.ServerID]bool, items []schedule.Item) time.Time {
	owned := 0
	for _, it := range items {
		if it.Sts != schedule.ItemRemoved && it.CurServer != "" && live[it.CurServer] {
			owned++
		}
	}
	now := m.clock.Now()
	if s.builtFresh.IsZero() || owned > 0 || !now.Before(s.builtFresh.Add(settleMax)) {
		return time.Time{} // no start to settle: nothing to read
	}
	if s.expected <= 0 {
		// Read once per start (the reads take a few hundred milliseconds
		// under load, and rounds that wait for joins should be short): the
		// count is what the leader waits for, not a state to follow.
		s.expected = m.expectedServers(ctx)
	}
	expected := s.expected
	until := plan.Settle(plan.SettleInput{Built: s.builtFresh, Joined: s.joined, Joining: s.joining, Owned: owned,
		Servers: len(live), Expected: expected, Now: now, Quiet: settleQuiet, Max: settleMax})
	if !until.IsZero() {
		m.log.Debug("servers are joining: the first grants wait", "server", s.me, "servers", len(live),
			"expected", expected, "until", until)
	}
	return until
}

// expectedServers returns how many servers the strategies that run this
// runtime ask for: the sum of their factories' requestNum (0 when none
// does, or the strategies could not be read: the settle then goes by the
// joins it sees).
func (m *Manager) expectedServers(ctx context.Context) int {
	strategies, err := m.store.Strategies(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, st := range strategies {
		if st.Kind != schedule.KindSchedule || st.Sts == schedule.StsPause {
			continue
		}
		base, ownSign, err := schedule.SplitRuntimeName(st.TaskName)
		if err != nil || schedule.RuntimeName(base, ownSign) != m.runtime {
			continue
		}
		rts, err := m.store.StrategyRuntimes(ctx, st.StrategyName)
		if err != nil {
			return 0
		}
		for _, rt := range rts {
			n += max(rt.RequestNum, 0)
		}
	}
	return n
}

// withWritten returns items with the items just written in place of their
// versions as read. It is pure; items is not modified.
func withWritten(items schedule.Items, written []schedule.Item) schedule.Items {
	if len(written) == 0 {
		return items
	}
	ids := make([]schedule.ItemID, len(written))
	for i, it := range written {
		ids[i] = it.ID
	}
	items.Items = patchItems(items.Items, ids, written, func(schedule.Item) bool { return true })
	return items
}

// endedHolds returns how long each hold lasted that ended between the
// leader's states before and after a round: a vanished server in before
// (with when the leader first saw it gone) but not in after, its items
// granted again or the server back. Sorted, shortest first.
func endedHolds(before, after map[schedule.ServerID]time.Time, now time.Time) []time.Duration {
	var out []time.Duration
	for id, since := range before {
		if _, still := after[id]; !still {
			out = append(out, now.Sub(since))
		}
	}
	slices.Sort(out)
	return out
}

// build (re)builds the items from the configuration when the leader's mark
// is missing, stale or from another item list. built reports a build,
// lost a build that lost a race (look again soon).
func (m *Manager) build(ctx context.Context, s *session, items schedule.Items) (_ schedule.Items, built, lost bool, err error) {
	defs := m.currentDefs()
	if items.Mark.Leader != "" && !slices.Equal(items.Mark.Defs, defs) {
		// Before rewriting the items, make sure our list is the stored one:
		// a server that missed an edit must not revert it.
		tt, _, err := m.store.TaskType(ctx, m.tt.BaseTaskType)
		if err != nil {
			return items, false, false, err
		}
		m.mu.Lock()
		m.defs = slices.Clone(tt.TaskItems)
		m.mu.Unlock()
		defs = tt.TaskItems
	}
	if items.Mark.Leader == "" || !slices.Equal(items.Mark.Defs, defs) || m.markStale(ctx, items.Mark) {
		now, err := m.store.Now(ctx)
		if err != nil {
			return items, false, false, err
		}
		mark := items.Mark
		mark.Leader, mark.BuiltAt, mark.Defs = s.me, schedule.Time{Time: now}, defs
		fresh := items.Mark.Leader == "" && len(items.Items) == 0
		if fresh {
			mark.Version = storekit.AnyVersion
		}
		got, err := m.store.BuildItems(ctx, m.runtime, s.me, mark, defs)
		if errors.Is(err, schedule.ErrConflict) {
			m.metrics.Conflict(m.runtime, "buildItems")
			return items, false, true, nil
		}
		if err != nil {
			return items, false, false, err
		}
		m.log.Info("task items built", "server", s.me, "items", len(defs))
		if fresh {
			s.builtFresh = m.clock.Now() // a cluster start: see settle
		}
		return got, true, false, nil
	}
	return items, false, false, nil
}

// applyLead writes the leader's plan in atomic batches. A write that lost a
// race (the item changed or vanished meanwhile, or the server it grants the
// item to, or requests it for, left after this round read the servers) is
// counted, not an error: the store wrote the other updates, the item is
// read again, and again asks for another round soon, which reads the
// servers afresh and plans without the one that left.
func (m *Manager) applyLead(ctx context.Context, s *session, items schedule.Items, writes []plan.Write[schedule.ServerID]) (written []schedule.Item, again retryKind, err error) {
	if len(writes) == 0 {
		return nil, retryNone, nil
	}
	ups := make([]storekit.ItemUpdate, len(writes))
	for i, w := range writes {
		ups[i] = storekit.ItemUpdate{Old: items.Items[w.At], Cur: w.Cur, Req: w.Req}
	}
	res, err := m.store.UpdateItems(ctx, m.runtime, s.me, ups)
	if errors.Is(err, schedule.ErrConflict) {
		m.metrics.Conflict(m.runtime, "assign")
		return nil, retryLater, nil // our node is gone: the next round says so
	}
	if err != nil {
		return nil, retryNone, err
	}
	var stale []schedule.ItemID
	var forEvents []*schedule.Item // position for position with writes; nil: not written
	if m.events != nil {
		forEvents = make([]*schedule.Item, len(writes))
	}
	for i, r := range res {
		switch {
		case r.Err == nil:
			written = append(written, r.Item)
			if forEvents != nil {
				forEvents[i] = &res[i].Item
			}
		case errors.Is(r.Err, schedule.ErrConflict) || errors.Is(r.Err, schedule.ErrNotFound):
			stale = append(stale, ups[i].Old.ID)
			m.metrics.Conflict(m.runtime, "assign")
		default:
			return written, retryNone, r.Err
		}
	}
	m.patch(s, written)
	m.emitLead(items.Items, writes, forEvents)
	m.log.Debug("items balanced", "server", s.me, "writes", len(writes), "conflicts", len(stale))
	if len(stale) == 0 {
		// Our own writes fire our note boxes' (or the items') watch, which
		// brings the next round.
		return written, retryNone, nil
	}
	if !m.oldReads {
		if err := m.refresh(ctx, s, stale); err != nil {
			return written, retryLater, err
		}
	}
	// The stale items were read again (the previous way reads every item
	// again, their stamp having moved): the next round, at once, re-plans
	// just them.
	return written, retryRace, nil
}

// planItems is what the planners see of the items, position for position.
func planItems(items []schedule.Item) []plan.Item[schedule.ItemID, schedule.ServerID] {
	out := make([]plan.Item[schedule.ItemID, schedule.ServerID], len(items))
	for i, it := range items {
		out[i] = plan.Item[schedule.ItemID, schedule.ServerID]{ID: it.ID, Cur: it.CurServer, Req: it.ReqServer, Removed: it.Sts == schedule.ItemRemoved}
	}
	return out
}

// own is every server's part: process the items granted to it, and release
// at the batch boundary those the leader asked it to hand over (plan.Own
// decides).
func (m *Manager) own(ctx context.Context, s *session, live map[schedule.ServerID]bool, items schedule.Items, work *workHost) (retryKind, error) {
	m.mu.Lock()
	finished := m.finished
	m.finished = nil
	m.mu.Unlock()
	done := make(map[schedule.ItemID]bool, len(finished))
	for _, id := range finished {
		done[id] = true
	}
	p := plan.Own(plan.OwnInput[schedule.ItemID, schedule.ServerID]{Me: s.me, Items: planItems(items.Items), Live: live,
		Releasing: s.releasing, Done: done})
	for _, id := range p.Forget {
		delete(s.releasing, id)
	}
	owned := make(map[schedule.ItemID]schedule.Item, len(p.Owned))
	for _, i := range p.Owned {
		owned[items.Items[i].ID] = items.Items[i]
	}
	if n := newGrants(s.owned, owned); n > 0 {
		m.metrics.ItemsGranted(m.runtime, n)
		m.emitAcquired(s.me, s.owned, owned)
	}
	s.owned = owned
	var keep []processor.TaskItem
	for _, i := range p.Keep {
		it := items.Items[i]
		keep = append(keep, processor.TaskItem{ID: string(it.ID), Parameter: it.Parameter, Epoch: it.Epoch})
	}
	work.setItems(keep)
	work.setItemNum(m.itemCount(s, items))
	now := m.clock.Now()
	m.startReleases(ctx, s, work, p.Release, now)
	again, err := m.handOver(ctx, s, items, p.Handovers, now)
	m.publishOwned(s, keep)
	return again, err
}

// newGrants counts the items of after that before did not hold under the
// same epoch: grants this server received since the last round (every
// grant carries a new, larger epoch).
func newGrants(before, after map[schedule.ItemID]schedule.Item) int {
	n := 0
	for id, it := range after {
		if old, ok := before[id]; !ok || old.Epoch != it.Epoch {
			n++
		}
	}
	return n
}

// startReleases asks the processor to let go of ids at its batch boundary
// and, once it has, records them as finished and wakes the session loop.
func (m *Manager) startReleases(ctx context.Context, s *session, work *workHost, ids []schedule.ItemID, now time.Time) {
	if len(ids) == 0 {
		return
	}
	for _, id := range ids {
		s.releasing[id] = now
	}
	ch := work.release(ids)
	m.goFunc(func() {
		select {
		case <-ch:
		case <-ctx.Done():
			return // the session ended: its releases no longer matter
		}
		m.mu.Lock()
		if m.session == s {
			m.finished = append(m.finished, ids...)
		}
		m.mu.Unlock()
		m.poke()
	})
}

// handOver writes the releases whose batch boundary passed, in atomic
// batches. A release that fails stays finished, to be looked at again on
// the next round; a conflict (the item changed meanwhile, or the requested
// server's node is gone) asks for that round at once, with the servers
// read again.
func (m *Manager) handOver(ctx context.Context, s *session, items schedule.Items, hs []plan.Write[schedule.ServerID], now time.Time) (again retryKind, err error) {
	if len(hs) == 0 {
		return retryNone, nil
	}
	ups := make([]storekit.ItemUpdate, len(hs))
	for i, h := range hs {
		ups[i] = storekit.ItemUpdate{Old: items.Items[h.At], Cur: h.Cur}
	}
	res, callErr := m.store.UpdateItems(ctx, m.runtime, s.me, ups)
	var errs []error
	var written []schedule.Item
	var released []plan.Write[schedule.ServerID] // for the events
	for i, u := range ups {
		it, err := u.Old, callErr
		if callErr == nil {
			err = res[i].Err
		}
		switch {
		case err == nil:
			written = append(written, res[i].Item)
			m.metrics.ItemReleased(m.runtime, it.ID, now.Sub(s.releasing[it.ID]))
			m.log.Info("item handed over", "server", s.me, "item", it.ID, "to", u.Cur)
			delete(s.releasing, it.ID)
			if m.events != nil {
				released = append(released, hs[i])
			}
		case errors.Is(err, schedule.ErrConflict):
			// The item changed meanwhile, or the requested server left
			// (its node is gone): keep it released and look again, with
			// the servers read afresh so that a gone one is not asked again.
			m.metrics.Conflict(m.runtime, "release")
			m.refinish(it.ID)
			// The write that moved the item left its note in our box in
			// the same atomic step: the next round reads it.
			s.serversStale = true
			again = retryRace
		default:
			m.refinish(it.ID)
			errs = append(errs, err)
		}
	}
	m.patch(s, written)
	m.emitReleased(s.me, items.Items, released)
	if callErr != nil && !errors.Is(callErr, schedule.ErrConflict) {
		return again, callErr
	}
	return again, errors.Join(errs...)
}

// refinish puts a release whose write failed back among the finished ones.
func (m *Manager) refinish(id schedule.ItemID) {
	m.mu.Lock()
	m.finished = append(m.finished, id)
	m.mu.Unlock()
}

// publishOwned shows the items kept and the releases under way in Status
// and the metrics.
func (m *Manager) publishOwned(s *session, keep []processor.TaskItem) {
	owned := make([]schedule.OwnedItem, 0, len(keep))
	for _, k := range keep {
		owned = append(owned, schedule.OwnedItem{ID: schedule.ItemID(k.ID), Parameter: k.Parameter, Epoch: k.Epoch})
	}
	releasing := make([]schedule.ItemID, 0, len(s.releasing))
	for id := range s.releasing {
		releasing = append(releasing, id)
	}
	storekit.SortItemIDs(releasing)
	m.metrics.ItemsOwned(m.runtime, s.me, len(owned))
	m.updateStatus(func(st *schedule.Status) { st.Owned, st.Releasing = owned, releasing })
}
