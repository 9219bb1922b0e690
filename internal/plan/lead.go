package plan

import (
	"log/slog"
	"time"
)

// LeadInput is what the leader knows in one round.
type LeadInput[I, S ~string] struct {
	// Items are every item of the runtime, removed ones included, in
	// natural order.
	Items []Item[I, S]
	// Servers are the live servers in leader order (lowest sequence first).
	Servers []S
	// MaxPerServer caps the items of one server (0: no cap); Seed spreads
	// the remainder (see Assign).
	MaxPerServer int
	Seed         string
	// Now is the leader's local clock.
	Now time.Time
	// OwnDelay is the lock delay applied to a vanished server that
	// published none; Delays are the lock delays servers published while
	// live.
	OwnDelay time.Duration
	Delays   map[S]time.Duration
	// Gone is when this leader first saw each vanished server that still
	// owned items. Lead does not modify it; LeadPlan.Gone replaces it.
	Gone map[S]time.Time
}

// LeadPlan is the leader's decision for one round.
type LeadPlan[I, S ~string] struct {
	// Writes are the grants, requests and withdrawals to make, each
	// against the item as read.
	Writes []Write[S]
	// Unassigned counts the active items beyond the capacity of the live
	// servers; Held counts the items left alone by a lock-delay hold.
	Unassigned, Held int
	// HeldUntil is the earliest end of a hold under way (zero when none):
	// when the leader must look again.
	HeldUntil time.Time
	// Holds are the holds under way, one per vanished server whose items
	// are held, for operators to see.
	Holds []Hold[S]
	// Gone is the new state of LeadInput.Gone; ForgetDelays are the
	// servers whose published delay no longer matters (gone, owning
	// nothing).
	Gone         map[S]time.Time
	ForgetDelays []S
	// Events are what the loop should log.
	Events []Event
}

// Hold is one vanished server whose items the leader holds for its lock
// delay, until Until.
type Hold[S ~string] struct {
	Server S
	Items  int
	Until  time.Time
}

// Event is a log record a planner asks its loop to emit.
type Event struct {
	Level slog.Level
	Msg   string
	Args  []any
}

// Lead balances the active items over the live servers: an item without a
// live owner is granted directly to its target (or cleared when it has
// none), an item whose live owner must give it up gets a request (NoServer
// when it is removed or beyond capacity), a request no longer needed is
// withdrawn. A request under way stays as it is while its server is live
// and below its share (Assign's Requested): servers joining one after the
// other do not re-target the handovers already asked for. The items of a
// vanished server stay untouched until its lock delay has passed since this
// leader first saw it gone (see Holds).
func Lead[I, S ~string](in LeadInput[I, S]) LeadPlan[I, S] {
	live := make(map[S]bool, len(in.Servers))
	for _, s := range in.Servers {
		live[s] = true
	}
	ids := make([]I, 0, len(in.Items))
	current := make(map[I]S, len(in.Items))
	requested := make(map[I]S)
	for _, it := range in.Items {
		if it.Removed {
			continue
		}
		ids = append(ids, it.ID)
		if it.Cur != "" && live[it.Cur] {
			current[it.ID] = it.Cur
			if it.Req != "" && it.Req != it.Cur && live[it.Req] {
				requested[it.ID] = it.Req // a handover under way
			}
		}
	}
	res := Assign(AssignInput[I, S]{Items: ids, Current: current, Servers: in.Servers,
		MaxPerServer: in.MaxPerServer, Seed: in.Seed, Requested: requested})
	p := holds(in, live)
	p.Unassigned = len(res.Unassigned)
	hold := p.hold
	for i, it := range in.Items {
		ownerLive := it.Cur != "" && live[it.Cur]
		if !ownerLive && hold[it.Cur] {
			p.Held++
			continue
		}
		target := res.Target[it.ID] // "" when removed or beyond capacity
		var cur, req S
		switch {
		case !ownerLive && target != "":
			cur, req = target, "" // grant directly: no owner, or a dead one
		case !ownerLive:
			cur, req = "", "" // clear a dead owner
		case it.Cur == target:
			cur, req = it.Cur, "" // in place: withdraw any request
		case target == "":
			cur, req = it.Cur, NoServer // ask the owner to let go
		default:
			cur, req = it.Cur, target // ask the owner to hand over
		}
		if cur != it.Cur || req != it.Req {
			p.Writes = append(p.Writes, Write[S]{At: i, Cur: cur, Req: req})
		}
	}
	return p.LeadPlan
}
