package plan

import "time"

// SettleInput is what a leader knows when it could make the first grants
// of a cluster start.
type SettleInput struct {
	// Built is when this leader built the items from nothing (zero: it did
	// not; items it found built are never waited for).
	Built time.Time
	// Joined is when this leader last saw a server join (when it asked
	// for the read of the servers that had an id its previous read did not
	// have; zero: never); Joining says that its latest read was that one.
	Joined  time.Time
	Joining bool
	// Owned counts the active items that have a live owner.
	Owned int
	// Servers counts the live servers; Expected is how many the
	// strategies that run this task type ask for (the sum of their
	// factories' requestNum; 0: unknown, no strategy runs it).
	Servers, Expected int
	// Now is the leader's local clock.
	Now time.Time
	// Quiet is how long no server must have joined, Max how long after
	// Built the wait ends whatever joins.
	Quiet, Max time.Duration
}

// Settle decides whether the leader of a cluster start holds back its
// first grants because servers are still joining, and until when (zero:
// grant now). Granting every item to the few servers registered at the
// build and then asking them to hand most of it over to the servers that
// join next costs a handover cycle per item (the owner notices, releases
// at its batch boundary, writes, the newcomer notices); waiting until the
// joins pause grants most items directly, once.
//
// It waits only while nothing is owned yet (Owned is 0, so no item's
// processing is delayed), after a build by this leader (Built), and never
// beyond Built+Max. When the strategies say how many servers to expect,
// it waits until that many are live: factories start their managers in
// waves, as their strategy's leader distributes the thread groups, and a
// pause between two waves is no sign that the joins are over. Otherwise
// it waits while servers join: until a read of the servers finds no
// newcomer and Quiet has passed since the read that found the last one (a
// read that found one is always followed by another: under load a read of
// many servers takes longer than Quiet). An end at Now means: read again
// at once.
func Settle(in SettleInput) (until time.Time) {
	if in.Built.IsZero() || in.Owned > 0 {
		return time.Time{}
	}
	last := in.Built.Add(in.Max)
	if !in.Now.Before(last) {
		return time.Time{}
	}
	if in.Expected > 0 {
		if in.Servers >= in.Expected {
			return time.Time{}
		}
		return last // each join wakes the leader: it looks again then
	}
	if in.Joined.IsZero() {
		return time.Time{}
	}
	end := in.Joined.Add(in.Quiet)
	switch {
	case in.Joining && end.Before(in.Now):
		end = in.Now
	case !in.Joining && !in.Now.Before(end):
		return time.Time{}
	}
	if last.Before(end) {
		end = last
	}
	return end
}
