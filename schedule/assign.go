package schedule

import "github.com/tbschedule/tbschedule-go/internal/plan"

// AssignInput is the input of Assign: what the leader of a task type knows
// when it (re)assigns task items.
type AssignInput struct {
	// Items are the task items in natural order. Assign uses the order given;
	// a repeated item counts once, at its first position.
	Items []ItemID
	// Current maps an item to its current owner. It may be nil or partial;
	// an item with no entry, or whose owner is not in Servers, counts as
	// unowned.
	Current map[ItemID]ServerID
	// Servers are the live servers in leader order (lowest sequence first).
	// A repeated server counts once, at its first position.
	Servers []ServerID
	// MaxPerServer caps the items of one server (TBSchedule's
	// maxTaskItemsOfOneThreadGroup); 0 or less means no cap. Items beyond
	// len(Servers)*MaxPerServer are left unassigned.
	MaxPerServer int
	// Seed (for example the runtime name "<baseTaskType>$<ownSign>") decides,
	// deterministically, which servers carry the remainder when the items do
	// not divide evenly, so it does not always land on the leader.
	Seed string
}

// AssignResult is the output of Assign.
type AssignResult struct {
	// Target maps every assignable item to the live server that must own it.
	Target map[ItemID]ServerID
	// Unassigned are the items beyond the total capacity (all items when
	// there is no server), in natural order. Items that keep their live
	// owner are never among them; of the others, the last in natural order
	// are left out.
	Unassigned []ItemID
	// Moved are the items of Target whose server differs from their live
	// current owner, or which had no live owner, in natural order: the
	// grants and handovers the leader must write.
	Moved []ItemID
}

// Assign computes the balanced, sticky assignment of task items to live
// servers. It is a pure function: the same input gives the same output,
// whatever the iteration order of Current, and the input is not modified.
//
// Guarantees:
//   - every item is assigned to exactly one server of Servers, except the
//     items beyond total capacity, which are reported in Unassigned;
//   - the loads of all servers differ by at most one and none exceeds
//     MaxPerServer when it is positive;
//   - the remainder (assigned items modulo servers) is spread by Seed, not
//     given to the leader or the first servers;
//   - an item stays with its live owner whenever the balanced loads allow
//     it, so as few items as possible move: len(Moved)+len(Unassigned) is
//     the number of items with no live owner plus, for each server, the
//     live items it holds beyond its target load, and no other choice of
//     balanced loads gives a smaller sum.
//
// Algorithm, O(items + servers·log servers):
//  1. A = min(items, servers·MaxPerServer) items are assigned; each server's
//     target load is A/servers, and A%servers servers get one more (with a
//     cap, A%servers is 0 whenever the cap binds, so no target exceeds it).
//  2. The extra ones go first to servers that already hold more than
//     A/servers live items (stickiness: the extra is kept where it is), then
//     to the others; within each group servers are taken in the order of a
//     hash of Seed and the server id.
//  3. Walking the items in natural order, an item whose live owner is below
//     its target load stays there; every other item joins a pool (in
//     natural order).
//  4. Walking the servers in leader order, each server takes from the front
//     of the pool as many items as it lacks; what remains of the pool is
//     Unassigned.
func Assign(in AssignInput) AssignResult {
	r := plan.Assign(plan.AssignInput[ItemID, ServerID]{Items: in.Items, Current: in.Current, Servers: in.Servers,
		MaxPerServer: in.MaxPerServer, Seed: in.Seed})
	return AssignResult{Target: r.Target, Unassigned: r.Unassigned, Moved: r.Moved}
}
