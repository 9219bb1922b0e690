package plan

import (
	"cmp"
	"slices"

	"github.com/tbschedule/tbschedule-go/internal/spread"
)

// AssignInput is the input of Assign (schedule.AssignInput documents each
// field).
type AssignInput[I, S ~string] struct {
	Items        []I
	Current      map[I]S
	Servers      []S
	MaxPerServer int
	Seed         string
}

// AssignResult is the output of Assign (schedule.AssignResult documents
// each field).
type AssignResult[I, S ~string] struct {
	Target     map[I]S
	Unassigned []I
	Moved      []I
}

// Assign computes the balanced, sticky assignment of task items to live
// servers; schedule.Assign documents its guarantees and algorithm.
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

	// Live owner of each item (-1 when none) and live load of each server.
	owner := make([]int, len(items))
	load := make([]int, n)
	for i, it := range items {
		owner[i] = -1
		if s, ok := in.Current[it]; ok {
			if k, ok := index[s]; ok {
				owner[i] = k
				load[k]++
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
			if extra > 0 && target[k] == base {
				target[k]++
				extra--
			}
		}
	}

	// Keep what may be kept; pool the rest in natural order.
	kept := make([]int, n)
	var pool []I
	for i, it := range items {
		if k := owner[i]; k >= 0 && kept[k] < target[k] {
			kept[k]++
			res.Target[it] = servers[k]
			continue
		}
		pool = append(pool, it)
	}

	// Fill the gaps in leader order from the front of the pool.
	next := 0
	for k, s := range servers {
		for ; kept[k] < target[k]; kept[k]++ {
			res.Target[pool[next]] = s
			next++
		}
	}
	if next > 0 {
		res.Moved = pool[:next:next]
	}
	if next < len(pool) {
		res.Unassigned = pool[next:]
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
