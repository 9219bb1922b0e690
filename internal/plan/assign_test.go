package plan_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/plan"
)

// itemID and serverID stand for schedule.ItemID and schedule.ServerID:
// distinct string types, as in production.
type (
	itemID       string
	serverID     string
	assignInput  = plan.AssignInput[itemID, serverID]
	assignResult = plan.AssignResult[itemID, serverID]
)

// assignItems returns the items "0".."n-1" in natural order.
func assignItems(n int) []itemID {
	out := make([]itemID, n)
	for i := range out {
		out[i] = itemID(strconv.Itoa(i))
	}
	return out
}

// assignServers returns n server ids in leader order, shaped like real ones.
func assignServers(n int) []serverID {
	out := make([]serverID, n)
	for i := range out {
		out[i] = assignServer(i + 1)
	}
	return out
}

func assignServer(seq int) serverID {
	return serverID(fmt.Sprintf("t1$10.0.0.%d$uuid%d$%010d", seq%250, seq, seq))
}

// assignOwn gives the listed items (by index) to s.
func assignOwn(cur map[itemID]serverID, s serverID, idx ...int) {
	for _, i := range idx {
		cur[itemID(strconv.Itoa(i))] = s
	}
}

func assignRange(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// assignLoads counts the items of every server of servers (0 included).
func assignLoads(servers []serverID, target map[itemID]serverID) map[serverID]int {
	loads := make(map[serverID]int, len(servers))
	for _, s := range servers {
		loads[s] = 0
	}
	for _, s := range target {
		loads[s]++
	}
	return loads
}

func assignSortedLoads(servers []serverID, target map[itemID]serverID) []int {
	out := make([]int, 0, len(servers))
	for _, l := range assignLoads(servers, target) {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// assignBestKept is the most items that can stay with their live owner under
// any balanced distribution of A assigned items, by brute force over every
// choice of the servers carrying the remainder (small n) and otherwise by
// giving the remainder to the servers holding the most.
func assignBestKept(cur []int, assigned int) int {
	n := len(cur)
	if n == 0 {
		return 0
	}
	base, extra := assigned/n, assigned%n
	keptWith := func(plusOne func(k int) bool) int {
		kept := 0
		for k, c := range cur {
			t := base
			if plusOne(k) {
				t++
			}
			kept += min(c, t)
		}
		return kept
	}
	best := 0
	if n <= 10 {
		for mask := range 1 << n {
			if bitsSet(mask) == extra {
				best = max(best, keptWith(func(k int) bool { return mask&(1<<k) != 0 }))
			}
		}
		return best
	}
	order := make([]int, n)
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return cur[b] - cur[a] })
	plus := make([]bool, n)
	for _, k := range order[:extra] {
		plus[k] = true
	}
	return keptWith(func(k int) bool { return plus[k] })
}

func bitsSet(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

// checkAssign verifies every documented property of res for in.
func checkAssign(t *testing.T, in assignInput, res assignResult) {
	t.Helper()
	items, servers := assignUnique(in.Items), assignUnique(in.Servers)
	seenItem, live := map[itemID]bool{}, map[serverID]bool{}
	for _, it := range items {
		seenItem[it] = true
	}
	for _, s := range servers {
		live[s] = true
	}
	m, n := len(items), len(servers)
	capacity := m
	if in.MaxPerServer > 0 {
		capacity = min(m, n*in.MaxPerServer)
	}
	if n == 0 {
		capacity = 0
	}

	// Each item exactly once, in Target or Unassigned; targets are live.
	require.NotNil(t, res.Target)
	assert.Len(t, res.Target, capacity, "assigned items")
	assert.Len(t, res.Unassigned, m-capacity, "unassigned items")
	for it, s := range res.Target {
		assert.True(t, seenItem[it], "target has unknown item %q", it)
		assert.True(t, live[s], "item %q assigned to dead server %q", it, s)
	}
	for _, it := range res.Unassigned {
		_, both := res.Target[it]
		assert.False(t, both, "item %q both assigned and unassigned", it)
	}
	// Unassigned and Moved are in natural order (a subsequence of items).
	pos := map[itemID]int{}
	for i, it := range items {
		pos[it] = i
	}
	for name, list := range map[string][]itemID{"Unassigned": res.Unassigned, "Moved": res.Moved} {
		assert.True(t, slices.IsSortedFunc(list, func(a, b itemID) int { return pos[a] - pos[b] }), "%s not in natural order: %v", name, list)
		assert.Len(t, slices.Compact(slices.Clone(list)), len(list), "%s has repeats", name)
	}

	// Balance within ±1 and the cap.
	if n > 0 {
		loads := assignSortedLoads(servers, res.Target)
		assert.LessOrEqual(t, loads[n-1]-loads[0], 1, "loads %v not within ±1", loads)
		if in.MaxPerServer > 0 {
			assert.LessOrEqual(t, loads[n-1], in.MaxPerServer, "loads %v above cap", loads)
		}
	}

	// Moved is exactly the assigned items not kept by their live owner.
	liveOwner := func(it itemID) (serverID, bool) {
		s, ok := in.Current[it]
		return s, ok && live[s]
	}
	var wantMoved []itemID
	for _, it := range items {
		if s, ok := res.Target[it]; ok {
			if o, owned := liveOwner(it); !owned || o != s {
				wantMoved = append(wantMoved, it)
			}
		}
	}
	assert.Equal(t, wantMoved, res.Moved, "moved")

	// Minimal moves: formula with the chosen loads, and no better choice.
	cur := map[serverID]int{}
	orphans := 0
	for _, it := range items {
		if o, owned := liveOwner(it); owned {
			cur[o]++
		} else {
			orphans++
		}
	}
	loads := assignLoads(servers, res.Target)
	excess := 0
	curList := make([]int, n)
	for k, s := range servers {
		excess += max(0, cur[s]-loads[s])
		curList[k] = cur[s]
	}
	assert.Equal(t, orphans+excess, len(res.Moved)+len(res.Unassigned), "moves+unassigned vs orphans+excess")
	assert.Equal(t, capacity-assignBestKept(curList, capacity), len(res.Moved), "moves not minimal")

	// No server both loses a live item and gains a moved one.
	gains, losses := map[serverID]bool{}, map[serverID]bool{}
	for _, it := range res.Moved {
		gains[res.Target[it]] = true
	}
	for _, it := range items {
		if o, owned := liveOwner(it); owned && res.Target[it] != o {
			losses[o] = true
		}
	}
	for s := range gains {
		assert.False(t, losses[s], "server %q both gains and loses items", s)
	}
}

func TestAssignTable(t *testing.T) {
	s := assignServers(5)
	dead := serverID("t1$10.0.0.99$gone$0000000099")
	cur := func(f func(map[itemID]serverID)) map[itemID]serverID {
		m := map[itemID]serverID{}
		f(m)
		return m
	}
	ids := func(idx ...int) []itemID {
		out := []itemID{}
		for _, i := range idx {
			out = append(out, itemID(strconv.Itoa(i)))
		}
		return out
	}

	tests := []struct {
		name           string
		in             assignInput
		wantLoads      []int // sorted
		wantUnassigned []itemID
		wantMoved      int
		// wantTarget, when set, is compared exactly.
		wantTarget map[itemID]serverID
		// check, when set, runs extra assertions.
		check func(t *testing.T, res assignResult)
	}{
		{
			name:      "no items no servers",
			in:        assignInput{},
			wantLoads: []int{},
		},
		{
			name:      "no items",
			in:        assignInput{Servers: s[:3]},
			wantLoads: []int{0, 0, 0},
		},
		{
			name:           "no servers leaves everything unassigned",
			in:             assignInput{Items: assignItems(4), Current: cur(func(m map[itemID]serverID) { assignOwn(m, dead, 0, 1) })},
			wantLoads:      []int{},
			wantUnassigned: ids(0, 1, 2, 3),
		},
		{
			name:      "one server takes all",
			in:        assignInput{Items: assignItems(5), Servers: s[:1]},
			wantLoads: []int{5},
			wantMoved: 5,
		},
		{
			name:      "more servers than items",
			in:        assignInput{Items: assignItems(3), Servers: s[:5]},
			wantLoads: []int{0, 0, 1, 1, 1},
			wantMoved: 3,
		},
		{
			name:      "exact multiple in contiguous blocks by leader order",
			in:        assignInput{Items: assignItems(6), Servers: s[:3]},
			wantLoads: []int{2, 2, 2},
			wantMoved: 6,
			wantTarget: map[itemID]serverID{
				"0": s[0], "1": s[0], "2": s[1], "3": s[1], "4": s[2], "5": s[2],
			},
		},
		{
			name:      "remainder",
			in:        assignInput{Items: assignItems(10), Servers: s[:3]},
			wantLoads: []int{3, 3, 4},
			wantMoved: 10,
		},
		{
			name:      "remainder of two over four",
			in:        assignInput{Items: assignItems(10), Servers: s[:4]},
			wantLoads: []int{2, 2, 3, 3},
			wantMoved: 10,
		},
		{
			name:           "cap below fair share",
			in:             assignInput{Items: assignItems(10), Servers: s[:3], MaxPerServer: 2},
			wantLoads:      []int{2, 2, 2},
			wantUnassigned: ids(6, 7, 8, 9),
			wantMoved:      6,
		},
		{
			name:      "cap equal to fair share",
			in:        assignInput{Items: assignItems(9), Servers: s[:3], MaxPerServer: 3},
			wantLoads: []int{3, 3, 3},
			wantMoved: 9,
		},
		{
			name:      "cap equal to the larger share",
			in:        assignInput{Items: assignItems(7), Servers: s[:3], MaxPerServer: 3},
			wantLoads: []int{2, 2, 3},
			wantMoved: 7,
		},
		{
			name:      "cap above fair share",
			in:        assignInput{Items: assignItems(10), Servers: s[:3], MaxPerServer: 5},
			wantLoads: []int{3, 3, 4},
			wantMoved: 10,
		},
		{
			name:      "negative cap means none",
			in:        assignInput{Items: assignItems(10), Servers: s[:3], MaxPerServer: -1},
			wantLoads: []int{3, 3, 4},
			wantMoved: 10,
		},
		{
			name: "all items orphaned",
			in: assignInput{Items: assignItems(8), Servers: s[:4], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, dead, assignRange(0, 8)...)
			})},
			wantLoads: []int{2, 2, 2, 2},
			wantMoved: 8,
		},
		{
			name: "balanced assignment is kept",
			in: assignInput{Items: assignItems(7), Servers: s[:3], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[2], 0, 3, 6)
				assignOwn(m, s[0], 1, 4)
				assignOwn(m, s[1], 2, 5)
			})},
			wantLoads: []int{2, 2, 3},
			wantTarget: map[itemID]serverID{
				"0": s[2], "3": s[2], "6": s[2], "1": s[0], "4": s[0], "2": s[1], "5": s[1],
			},
		},
		{
			name: "join of one server takes one item from each",
			in: assignInput{Items: assignItems(12), Servers: s[:4], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2, 3)
				assignOwn(m, s[1], 4, 5, 6, 7)
				assignOwn(m, s[2], 8, 9, 10, 11)
			})},
			wantLoads: []int{3, 3, 3, 3},
			wantMoved: 3,
			check: func(t *testing.T, res assignResult) {
				// Each old server keeps its first three and sheds its last.
				assert.Equal(t, ids(3, 7, 11), res.Moved)
				for _, it := range res.Moved {
					assert.Equal(t, s[3], res.Target[it])
				}
			},
		},
		{
			name: "join with a remainder moves two items, not four as TBSchedule",
			in: assignInput{Items: assignItems(10), Servers: s[:4], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2, 3)
				assignOwn(m, s[1], 4, 5, 6)
				assignOwn(m, s[2], 7, 8, 9)
			})},
			wantLoads: []int{2, 2, 3, 3},
			wantMoved: 2,
			check: func(t *testing.T, res assignResult) {
				for _, it := range res.Moved {
					assert.Equal(t, s[3], res.Target[it])
				}
			},
		},
		{
			name: "leave of one server moves only its items",
			in: assignInput{Items: assignItems(12), Servers: []serverID{s[0], s[2], s[3]}, Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2)
				assignOwn(m, s[1], 3, 4, 5)
				assignOwn(m, s[2], 6, 7, 8)
				assignOwn(m, s[3], 9, 10, 11)
			})},
			wantLoads: []int{4, 4, 4},
			wantMoved: 3,
			wantTarget: map[itemID]serverID{
				"0": s[0], "1": s[0], "2": s[0], "3": s[0],
				"4": s[2], "6": s[2], "7": s[2], "8": s[2],
				"5": s[3], "9": s[3], "10": s[3], "11": s[3],
			},
		},
		{
			name: "leave with a remainder moves only its items",
			in: assignInput{Items: assignItems(10), Servers: s[:3], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2)
				assignOwn(m, s[1], 3, 4, 5)
				assignOwn(m, s[2], 6, 7)
				assignOwn(m, s[3], 8, 9)
			})},
			wantLoads: []int{3, 3, 4},
			wantMoved: 2,
			check: func(t *testing.T, res assignResult) {
				assert.Equal(t, ids(8, 9), res.Moved)
			},
		},
		{
			name: "extra stays where it is",
			in: assignInput{Items: assignItems(10), Servers: s[:3], Seed: "any", Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2)
				assignOwn(m, s[1], 3, 4, 5, 6)
				assignOwn(m, s[2], 7, 8, 9)
			})},
			wantLoads: []int{3, 3, 4},
		},
		{
			name: "lowered cap sheds the last items of each server",
			in: assignInput{Items: assignItems(9), Servers: s[:3], MaxPerServer: 2, Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2)
				assignOwn(m, s[1], 3, 4, 5)
				assignOwn(m, s[2], 6, 7, 8)
			})},
			wantLoads:      []int{2, 2, 2},
			wantUnassigned: ids(2, 5, 8),
		},
		{
			name: "capacity prefers items that keep their owner",
			in: assignInput{Items: assignItems(6), Servers: s[:2], MaxPerServer: 2, Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[1], 4, 5)
				assignOwn(m, dead, 0)
			})},
			wantLoads:      []int{2, 2},
			wantUnassigned: ids(2, 3),
			wantMoved:      2,
			wantTarget: map[itemID]serverID{
				"0": s[0], "1": s[0], "4": s[1], "5": s[1],
			},
		},
		{
			name: "owner not in servers counts as unowned",
			in: assignInput{Items: assignItems(4), Servers: s[:2], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1)
				assignOwn(m, dead, 2)
				assignOwn(m, "", 3)
			})},
			wantLoads: []int{2, 2},
			wantMoved: 2,
			wantTarget: map[itemID]serverID{
				"0": s[0], "1": s[0], "2": s[1], "3": s[1],
			},
		},
		{
			name:      "repeated items and servers count once",
			in:        assignInput{Items: ids(0, 1, 0, 2, 1), Servers: []serverID{s[0], s[1], s[0]}},
			wantLoads: []int{1, 2},
			wantMoved: 3,
		},
		{
			// s0 held all 6 and was asked to hand 2, 3 to s1 and 4, 5 to
			// s2; then s3 joins. Without the requests the pool (3, 4, 5)
			// is filled in leader order: s1 3, s2 4, s3 5 (two asks
			// re-targeted). With them: only 5 changes target.
			name: "a join re-targets no request whose server is still below its target",
			in: assignInput{Items: assignItems(6), Servers: s[:4], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2, 3, 4, 5)
			}), Requested: map[itemID]serverID{"2": s[1], "3": s[1], "4": s[2], "5": s[2]}, Seed: "x"},
			wantLoads: []int{1, 1, 2, 2},
			wantMoved: 4,
			check: func(t *testing.T, res assignResult) {
				assert.Equal(t, s[1], res.Target["3"], "request for s1 re-targeted")
				assert.Equal(t, s[2], res.Target["4"], "request for s2 re-targeted")
			},
		},
		{
			name: "requests for a server at its target, for a dead one, or for the owner itself are ignored",
			in: assignInput{Items: assignItems(4), Servers: s[:2], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2, 3)
			}), Requested: map[itemID]serverID{"0": s[0], "1": dead, "2": s[0], "3": s[1]}},
			wantLoads: []int{2, 2},
			wantMoved: 2,
			wantTarget: map[itemID]serverID{
				"0": s[0], "1": s[0], "2": s[1], "3": s[1],
			},
		},
		{
			// Without the request s1 would take 2 in leader order.
			name: "a moving item goes to its requested server before the gaps fill in leader order",
			in: assignInput{Items: assignItems(3), Servers: s[:3], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2)
			}), Requested: map[itemID]serverID{"1": s[2]}},
			wantLoads: []int{1, 1, 1},
			wantMoved: 2,
			wantTarget: map[itemID]serverID{
				"0": s[0], "1": s[2], "2": s[1],
			},
		},
		{
			// 5 items over 2 servers: one carries 3. s0 holds all; s1 was
			// asked for 3 of them, so it carries the extra whatever Seed
			// says, and none of its requests is withdrawn.
			name: "the remainder goes to a server that its requests would put above the base",
			in: assignInput{Items: assignItems(5), Servers: s[:2], Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1)
				assignOwn(m, dead, 2, 3, 4)
			}), Requested: map[itemID]serverID{"0": s[1], "1": s[1], "2": s[1]}},
			wantLoads: []int{2, 3},
			wantMoved: 3,
			check: func(t *testing.T, res assignResult) {
				assert.Equal(t, 3, assignLoads(s[:2], res.Target)[s[1]], "the requested server carries the extra")
			},
		},
		{
			name: "capacity: requests do not change which items stay unassigned",
			in: assignInput{Items: assignItems(6), Servers: s[:2], MaxPerServer: 2, Current: cur(func(m map[itemID]serverID) {
				assignOwn(m, s[0], 0, 1, 2, 3, 4, 5)
			}), Requested: map[itemID]serverID{"5": s[1], "4": s[1]}},
			wantLoads:      []int{2, 2},
			wantUnassigned: ids(4, 5),
			wantMoved:      2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := plan.Assign(tt.in)
			checkAssign(t, tt.in, res)
			assert.Equal(t, tt.wantLoads, assignSortedLoads(assignUnique(tt.in.Servers), res.Target), "loads")
			assert.Equal(t, tt.wantUnassigned, res.Unassigned, "unassigned")
			assert.Len(t, res.Moved, tt.wantMoved, "moved: %v", res.Moved)
			if tt.wantTarget != nil {
				assert.Equal(t, tt.wantTarget, res.Target)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

// assignUnique drops repeats, keeping first occurrences in order.
func assignUnique[T comparable](in []T) []T {
	seen := map[T]bool{}
	var out []T
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// TestAssignRemainderSpread checks that the remainder does not always land
// on the leader or the first servers: over many seeds each server carries
// it about equally often, and each seed always picks the same servers.
func TestAssignRemainderSpread(t *testing.T) {
	tests := []struct {
		name    string
		items   int
		servers int
	}{
		{name: "10 items over 3", items: 10, servers: 3},
		{name: "1 item over 5", items: 1, servers: 5},
		{name: "13 items over 4", items: 13, servers: 4},
	}
	const seeds = 600
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers := assignServers(tt.servers)
			items := assignItems(tt.items)
			base := tt.items / tt.servers
			extras := map[serverID]int{}
			for i := range seeds {
				in := assignInput{Items: items, Servers: servers, Seed: fmt.Sprintf("t1$env%d", i)}
				res := plan.Assign(in)
				again := plan.Assign(in)
				require.Equal(t, res, again, "seed %q not deterministic", in.Seed)
				for s, l := range assignLoads(servers, res.Target) {
					if l > base {
						extras[s]++
					}
				}
			}
			want := seeds * (tt.items % tt.servers) / tt.servers
			for _, s := range servers {
				assert.InDelta(t, want, extras[s], float64(want)/3, "server %q carried the remainder %d times of %d seeds", s, extras[s], seeds)
			}
		})
	}
}

// assignRandomInput draws a random input: sizes, cap, and current owners that
// are live, dead, missing, or skewed toward a few servers.
func assignRandomInput(r *rand.Rand) assignInput {
	m, n := r.IntN(301), r.IntN(41)
	capPer := 0
	if r.IntN(2) == 0 {
		capPer = r.IntN(21)
	}
	items := make([]itemID, m)
	for i, p := range r.Perm(m) { // natural order need not be sorted
		items[i] = itemID("item-" + strconv.Itoa(p))
	}
	servers := make([]serverID, n)
	for k := range servers {
		servers[k] = assignServer(r.IntN(1000000))
	}
	dead := []serverID{"dead-1", "dead-2", ""}
	cur := map[itemID]serverID{}
	skew := 1 + r.IntN(max(n, 1))
	for _, it := range items {
		switch x := r.IntN(10); {
		case x < 2:
		case x < 4:
			cur[it] = dead[r.IntN(len(dead))]
		case n == 0:
		case x < 7:
			cur[it] = servers[r.IntN(min(skew, n))]
		default:
			cur[it] = servers[r.IntN(n)]
		}
	}
	return assignInput{Items: items, Current: cur, Servers: servers, MaxPerServer: capPer, Seed: strconv.Itoa(r.IntN(1000))}
}

// assignRandomRequests draws requests for some items: to live servers
// (the owner itself among them), dead ones or ones not in the input.
func assignRandomRequests(r *rand.Rand, in assignInput) map[itemID]serverID {
	out := map[itemID]serverID{}
	for _, it := range in.Items {
		switch x := r.IntN(10); {
		case x < 5:
		case x < 6:
			out[it] = "dead-1"
		case len(in.Servers) == 0:
		default:
			out[it] = in.Servers[r.IntN(len(in.Servers))]
		}
	}
	return out
}

func TestAssignProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20260101, 7))
	for i := range 2500 {
		in := assignRandomInput(r)
		t.Run(fmt.Sprintf("case%d_items%d_servers%d_cap%d", i, len(in.Items), len(in.Servers), in.MaxPerServer), func(t *testing.T) {
			items, servers, cur := slices.Clone(in.Items), slices.Clone(in.Servers), maps.Clone(in.Current)
			res := plan.Assign(in)
			checkAssign(t, in, res)

			// The input is not modified.
			assert.Equal(t, items, in.Items)
			assert.Equal(t, servers, in.Servers)
			assert.Equal(t, cur, in.Current)

			// Deterministic, also with a map built in another order.
			rebuilt := make(map[itemID]serverID, len(cur))
			for _, it := range slices.Backward(slices.Sorted(maps.Keys(cur))) {
				rebuilt[it] = cur[it]
			}
			in2 := in
			in2.Current = rebuilt
			assert.Equal(t, res, plan.Assign(in2), "not deterministic")

			// Requests under way change where moving items go, never
			// which items move; a moving item requested for a server goes
			// elsewhere only while that server takes no moving item that
			// was not requested for it.
			inR := in
			inR.Requested = assignRandomRequests(r, in)
			resR := plan.Assign(inR)
			checkAssign(t, inR, resR)
			assert.Equal(t, res.Moved, resR.Moved, "requests changed the moving items")
			assert.Equal(t, res.Unassigned, resR.Unassigned, "requests changed the unassigned items")
			unrequested := map[serverID]bool{}
			for _, it := range resR.Moved {
				if rq, ok := inR.Requested[it]; !ok || rq != resR.Target[it] {
					unrequested[resR.Target[it]] = true
				}
			}
			for _, it := range resR.Moved {
				if rq, ok := inR.Requested[it]; ok && rq != resR.Target[it] {
					assert.False(t, unrequested[rq], "item %q requested for %q went to %q, which took unrequested items", it, rq, resR.Target[it])
				}
			}

			// A fixed point: assigning again from the result moves nothing.
			in3 := in
			in3.Current = res.Target
			res3 := plan.Assign(in3)
			checkAssign(t, in3, res3)
			assert.Equal(t, res.Target, res3.Target)
			assert.Equal(t, res.Unassigned, res3.Unassigned)
			assert.Empty(t, res3.Moved)

			// Join of one server (at a random place in leader order): items
			// move only to it.
			joiner := serverID(fmt.Sprintf("joiner-%d", i))
			at := r.IntN(len(in.Servers) + 1)
			in4 := in3
			in4.Servers = slices.Insert(slices.Clone(in.Servers), at, joiner)
			res4 := plan.Assign(in4)
			checkAssign(t, in4, res4)
			for _, it := range res4.Moved {
				assert.Equal(t, joiner, res4.Target[it], "after a join item %q moved elsewhere", it)
			}

			// Leave of one server: only its items and unassigned ones move,
			// and every other server keeps all it had.
			if len(in.Servers) == 0 {
				return
			}
			gone := in.Servers[r.IntN(len(in.Servers))]
			in5 := in3
			in5.Servers = slices.DeleteFunc(slices.Clone(in.Servers), func(s serverID) bool { return s == gone })
			res5 := plan.Assign(in5)
			checkAssign(t, in5, res5)
			for it, s := range res.Target {
				if s != gone {
					assert.Equal(t, s, res5.Target[it], "after %q left item %q moved", gone, it)
				}
			}
			for _, it := range res5.Moved {
				s, had := res.Target[it]
				assert.True(t, !had || s == gone, "after a leave item %q moved from %q", it, s)
			}
		})
	}
}

func BenchmarkAssign(b *testing.B) {
	const m, n = 10000, 200
	items, servers := assignItems(m), assignServers(n+1)
	stable := plan.Assign(assignInput{Items: items, Servers: servers[:n], Seed: "bench"}).Target
	cases := []struct {
		name string
		in   assignInput
	}{
		{"cold", assignInput{Items: items, Servers: servers[:n], Seed: "bench"}},
		{"stable", assignInput{Items: items, Current: stable, Servers: servers[:n], Seed: "bench"}},
		{"join", assignInput{Items: items, Current: stable, Servers: servers, Seed: "bench"}},
		{"leave", assignInput{Items: items, Current: stable, Servers: servers[1:n], Seed: "bench"}},
		{"capped", assignInput{Items: items, Current: stable, Servers: servers[:n], MaxPerServer: 40, Seed: "bench"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				plan.Assign(c.in)
			}
		})
	}
}
