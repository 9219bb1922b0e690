package plan

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// randomCluster makes items owned by live servers, dead ones and nobody,
// some removed, some with stale requests.
func randomCluster(r *rand.Rand) (items []tItem, servers, dead []string, maxPer int) {
	for i := range r.IntN(12) {
		servers = append(servers, "s"+strconv.Itoa(i))
	}
	for i := range r.IntN(4) {
		dead = append(dead, "d"+strconv.Itoa(i))
	}
	owners := append(append([]string{""}, servers...), dead...)
	for i := range r.IntN(200) {
		it := tItem{ID: strconv.Itoa(i), Cur: owners[r.IntN(len(owners))], Removed: r.IntN(10) == 0}
		if it.Cur != "" && r.IntN(8) == 0 {
			it.Req = owners[r.IntN(len(owners))]
		}
		items = append(items, it)
	}
	if r.IntN(3) == 0 {
		maxPer = 1 + r.IntN(30)
	}
	return items, servers, dead, maxPer
}

// Over random clusters, the leader's plan and the owners' releases, applied
// round after round, converge: every active item with one live owner and
// loads within one (or at the cap, the rest unassigned), removed items
// released, held items untouched until their hold ends, grants only to live
// servers, and no item moved beyond the assignment's minimal moves.
func TestLeadOwnProperties(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		items, servers, dead, maxPer := randomCluster(r)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkConvergence(t, items, servers, dead, maxPer)
		})
	}
}

func checkConvergence(t *testing.T, items []tItem, servers, dead []string, maxPer int) {
	live := map[string]bool{}
	for _, s := range servers {
		live[s] = true
	}
	start := append([]tItem(nil), items...)
	in := tIn{Items: items, Servers: servers, MaxPerServer: maxPer, Seed: "rt", Now: t0, OwnDelay: time.Second}
	rounds := 0
	for ; rounds < 10; rounds++ {
		p := Lead(in)
		in.Gone = p.Gone
		for _, w := range p.Writes {
			old := in.Items[w.At]
			require.False(t, old.Cur != "" && !live[old.Cur] && in.Now.Before(t0.Add(time.Second)),
				"item %s of vanished %s written while held", old.ID, old.Cur)
			if w.Cur != old.Cur {
				require.True(t, w.Cur == "" || live[w.Cur], "grant of %s to %q, not live", old.ID, w.Cur)
				require.False(t, old.Cur != "" && live[old.Cur], "item %s taken from live owner %s without a request", old.ID, old.Cur)
			}
			in.Items[w.At].Cur, in.Items[w.At].Req = w.Cur, w.Req
		}
		n := len(p.Writes) + ownersRelease(in.Items, servers, live)
		if n == 0 && p.HeldUntil.IsZero() {
			break
		}
		if n == 0 {
			in.Now = p.HeldUntil
		}
	}
	require.Less(t, rounds, 10, "no convergence")
	checkBalanced(t, start, in.Items, servers, maxPer)
}

// ownersRelease applies every owner's plan with its batch boundary passed
// at once; it returns the writes.
func ownersRelease(items []tItem, servers []string, live map[string]bool) int {
	n := 0
	for _, s := range servers {
		in := OwnInput[string, string]{Me: s, Items: items, Live: live}
		first := Own(in)
		in.Releasing, in.Done = map[string]time.Time{}, map[string]bool{}
		for _, id := range first.Release {
			in.Releasing[id], in.Done[id] = t0, true
		}
		for _, h := range Own(in).Handovers {
			items[h.At].Cur, items[h.At].Req = h.Cur, ""
			n++
		}
	}
	return n
}

func checkBalanced(t *testing.T, start, end []tItem, servers []string, maxPer int) {
	live := map[string]bool{}
	load := map[string]int{}
	for _, s := range servers {
		live[s], load[s] = true, 0
	}
	active, owned, moved := 0, 0, 0
	var ids []string
	current := map[string]string{}
	for i, it := range end {
		require.Empty(t, it.Req, "item %s: request left", it.ID)
		if it.Removed {
			require.Empty(t, it.Cur, "removed item %s still owned", it.ID)
			continue
		}
		active++
		ids = append(ids, it.ID)
		if s := start[i].Cur; live[s] {
			current[it.ID] = s
		}
		if it.Cur != "" {
			require.True(t, live[it.Cur], "item %s owned by %s, not live", it.ID, it.Cur)
			load[it.Cur]++
			owned++
			if it.Cur != start[i].Cur {
				moved++
			}
		}
	}
	want := min(active, len(servers)*maxPer)
	if maxPer == 0 {
		want = active
	}
	if len(servers) == 0 {
		want = 0
	}
	require.Equal(t, want, owned, "owned items")
	lo, hi := active, 0
	for _, n := range load {
		lo, hi = min(lo, n), max(hi, n)
		if maxPer > 0 {
			require.LessOrEqual(t, n, maxPer, "cap")
		}
	}
	if len(servers) > 0 {
		require.LessOrEqual(t, hi-lo, 1, "loads %v", load)
	}
	res := Assign(AssignInput[string, string]{Items: ids, Current: current, Servers: servers, MaxPerServer: maxPer, Seed: "rt"})
	require.Equal(t, len(res.Moved), moved, "moves beyond the minimal ones")
}
