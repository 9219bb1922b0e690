package plan

import (
	"cmp"
	"slices"

	"github.com/tbschedule/tbschedule-go/internal/spread"
)

// AssignInput is the input of Assign: what the leader of a task type knows
// when it (re)assigns task items.
type AssignInput[I, S ~string] struct {
	// Items are the task items in natural order. Assign uses the order given;
	// a repeated item counts once, at its first position.
	Items []I
	// Current maps an item to its current owner. It may be nil or partial;
	// an item with no entry, or whose owner is not in Servers, counts as
	// unowned.
	Current map[I]S
	// Servers are the live servers in leader order (lowest sequence first).
	// A repeated server counts once, at its first position.
	Servers []S
	// MaxPerServer caps the items of one server (TBSchedule's
	// maxTaskItemsOfOneThreadGroup); 0 or less means no cap. Items beyond
	// len(Servers)*MaxPerServer are left unassigned.
	MaxPerServer int
	// Seed (for example the runtime name "<baseTaskType>$<ownSign>") decides,
	// deterministically, which servers carry the remainder when the items do
	// not divide evenly, so it does not always land on the leader.
	Seed string
	// Requested maps an item to the server its owner was already asked to
	// hand it to (a handover under way). It may be nil or partial; entries
	// naming a server not in Servers are ignored. It changes only which
	// server a moving item goes to, never which items move: an item that
	// must move goes to its requested server while that server is below
	// its target load, so a request under way is not re-targeted when a
	// server joins (its owner would otherwise release it to a server the
	// leader no longer wants, or see its write conflict with the new
	// request).
	Requested map[I]S
}

// AssignResult is the output of Assign.
type AssignResult[I, S ~string] struct {
	// Target maps every assignable item to the live server that must own it.
	Target map[I]S
	// Unassigned are the items beyond the total capacity (all items when
	// there is no server), in natural order. Items that keep their live
	// owner are never among them; of the others, the last in natural order
	// are left out.
	Unassigned []I
	// Moved are the items of Target whose server differs from their live
	// current owner, or which had no live owner, in natural order: the
	// grants and handovers the leader must write.
	Moved []I
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
//     to servers that would exceed A/servers with the items requested for
//     them (Requested), then to the others; within each group servers are
//     taken in the order of a hash of Seed and the server id.
//  3. Walking the items in natural order, an item whose live owner is below
//     its target load stays there; every other item joins a pool (in
//     natural order). The front of the pool, as many items as the servers
//     lack in all, moves; the rest is Unassigned.
//  4. Walking the moving items in natural order, one requested for a
//     server below its target load goes there; then, walking the servers
//     in leader order, each server takes from the front of the remaining
//     moving items as many as it still lacks.
func Assign[I, S ~string](in AssignInput[I, S]) AssignResult[I, S] {
	servers, index := assignUniqueServers(in.Servers)
	items := assignUniqueItems(in.Items)
	res := AssignResult[I, S]{Target: make(map[I]S, len(items))}
	n := len(servers)
	if n == 0 {
		if len(items) > 0 {
			res.Unassigned = items
		}
		return res
	}

	// Live owner of each item (-1 when none) and live load of each server;
	// requested server of each item (-1 when none, or its live owner) and
	// the requests for each server.
	owner := make([]int, len(items))
	req := make([]int, len(items))
	load := make([]int, n)
	asked := make([]int, n)
	for i, it := range items {
		owner[i], req[i] = -1, -1
		if s, ok := in.Current[it]; ok {
			if k, ok := index[s]; ok {
				owner[i] = k
				load[k]++
			}
		}
		if s, ok := in.Requested[it]; ok {
			if k, ok := index[s]; ok && k != owner[i] {
				req[i] = k
				asked[k]++
			}
		}
	}

	assigned := len(items)
	if in.MaxPerServer > 0 && assigned > n*in.MaxPerServer {
		assigned = n * in.MaxPerServer
	}
	base, extra := assigned/n, assigned%n
	target := make([]int, n)
	for k := range target {
		target[k] = base
	}
	if extra > 0 {
		order := assignSpreadOrder(in.Seed, servers)
		for _, k := range order {
			if extra > 0 && load[k] > base {
				target[k]++
				extra--
			}
		}
		for _, k := range order {
			if extra > 0 && target[k] == base && load[k]+asked[k] > base {
				target[k]++
				extra--
			}
		}
		for _, k := range order {
			if extra > 0 && target[k] == base {
				target[k]++
				extra--
			}
		}
	}

	// Keep what may be kept; pool the rest (positions) in natural order.
	kept := make([]int, n)
	var pool []int
	for i, it := range items {
		if k := owner[i]; k >= 0 && kept[k] < target[k] {
			kept[k]++
			res.Target[it] = servers[k]
			continue
		}
		pool = append(pool, i)
	}
	lack := 0
	for k := range servers {
		lack += target[k] - kept[k]
	}
	moving, rest := pool[:lack], pool[lack:]

	// Requests under way first, then the gaps in leader order from the
	// front of what is left.
	placed := make([]bool, len(moving))
	for j, i := range moving {
		if k := req[i]; k >= 0 && kept[k] < target[k] {
			kept[k]++
			res.Target[items[i]] = servers[k]
			placed[j] = true
		}
	}
	next := 0
	for k, s := range servers {
		for ; kept[k] < target[k]; kept[k]++ {
			for placed[next] {
				next++
			}
			res.Target[items[moving[next]]] = s
			next++
		}
	}
	for _, i := range moving {
		res.Moved = append(res.Moved, items[i])
	}
	for _, i := range rest {
		res.Unassigned = append(res.Unassigned, items[i])
	}
	return res
}

// assignUniqueServers returns servers without repeats, in the order given,
// and the position of each.
func assignUniqueServers[S ~string](in []S) ([]S, map[S]int) {
	index := make(map[S]int, len(in))
	out := make([]S, 0, len(in))
	for _, s := range in {
		if _, dup := index[s]; !dup {
			index[s] = len(out)
			out = append(out, s)
		}
	}
	return out, index
}

// assignUniqueItems returns items without repeats, in the order given. The
// result never aliases the input.
func assignUniqueItems[I ~string](in []I) []I {
	seen := make(map[I]struct{}, len(in))
	out := make([]I, 0, len(in))
	for _, it := range in {
		if _, dup := seen[it]; !dup {
			seen[it] = struct{}{}
			out = append(out, it)
		}
	}
	return out
}

// assignSpreadOrder returns the positions of servers ordered by a hash of
// seed and the server id (ties, which need a 64-bit collision, by position).
func assignSpreadOrder[S ~string](seed string, servers []S) []int {
	keys := make([]uint64, len(servers))
	order := make([]int, len(servers))
	for k, s := range servers {
		keys[k] = spread.Key(seed, string(s))
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(keys[a], keys[b]), cmp.Compare(a, b))
	})
	return order
}
