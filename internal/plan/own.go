package plan

import "time"

// OwnInput is what one server knows of its items in one round.
type OwnInput[I, S ~string] struct {
	// Me is this server.
	Me S
	// Items are the runtime's items (only those owned by Me matter).
	Items []Item[I, S]
	// Live are the live servers.
	Live map[S]bool
	// Releasing are the items whose release is under way (the processor
	// was asked to let go of them at its batch boundary), each with when it
	// started (Own only looks at which items are there); Done those whose
	// boundary has passed.
	Releasing map[I]time.Time
	Done      map[I]bool
}

// OwnPlan is the owner's decision for one round.
type OwnPlan[I, S ~string] struct {
	// Owned are the positions in Items of the items owned by Me; Keep those
	// of them to process.
	Owned, Keep []int
	// Release are the items whose release starts now: the owner was asked
	// to give them up (a request for another server, or the item removed).
	Release []I
	// Handovers are the releases to write now that their boundary passed:
	// Items[At] goes to Cur (the requested live server, or nobody).
	Handovers []Write[S]
	// Forget are the releases under way to drop: their request was
	// withdrawn (the item is processed again), or the item changed hands
	// or vanished meanwhile.
	Forget []I
}

// Own decides an owner's round: process the items granted to Me, start
// releasing those the leader asked it to hand over, and hand over those
// whose batch boundary passed.
func Own[I, S ~string](in OwnInput[I, S]) OwnPlan[I, S] {
	var p OwnPlan[I, S]
	mine := make(map[I]bool)
	for i, it := range in.Items {
		if it.Cur != in.Me {
			continue
		}
		mine[it.ID] = true
		p.Owned = append(p.Owned, i)
		wantsRelease := it.Removed || (it.Req != "" && it.Req != in.Me)
		_, releasing := in.Releasing[it.ID]
		done := in.Done[it.ID]
		switch {
		case releasing && done && wantsRelease:
			next := it.Req
			if next == NoServer || !in.Live[next] || it.Removed {
				next = ""
			}
			p.Handovers = append(p.Handovers, Write[S]{At: i, Cur: next})
		case releasing && done:
			p.Forget = append(p.Forget, it.ID) // request withdrawn: process it again
			p.Keep = append(p.Keep, i)
		case releasing:
			// boundary not reached yet
		case wantsRelease:
			p.Release = append(p.Release, it.ID)
		default:
			p.Keep = append(p.Keep, i)
		}
	}
	// A finished release of an item that is no longer ours (someone else
	// changed it meanwhile, or it is gone) is over.
	for id := range in.Done {
		if _, releasing := in.Releasing[id]; releasing && !mine[id] {
			p.Forget = append(p.Forget, id)
		}
	}
	return p
}
