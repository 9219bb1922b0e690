package plan_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/plan"
)

// factoryID stands for schedule.FactoryID: a distinct string type, as in
// production.
type factoryID string

// distFactories returns n factory ids in leader order, shaped like real ones.
func distFactories(n int) []factoryID {
	out := make([]factoryID, n)
	for i := range out {
		out[i] = distFactory(i + 1)
	}
	return out
}

func distFactory(seq int) factoryID {
	return factoryID(fmt.Sprintf("10.0.0.%d$host%d$uuid%d$%010d", seq%250, seq, seq, seq))
}

// distUnique drops repeats, keeping first occurrences in order.
func distUnique(in []factoryID) []factoryID {
	seen := map[factoryID]bool{}
	var out []factoryID
	for _, f := range in {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// distCurrent is the live, non-negative current number of f.
func distCurrent(current map[factoryID]int, f factoryID) int {
	return max(0, current[f])
}

// distStops is how many thread groups stop: the sum over factories of
// max(0, current - requestNum).
func distStops(factories []factoryID, current, requestNum map[factoryID]int) int {
	stops := 0
	for _, f := range distUnique(factories) {
		stops += max(0, distCurrent(current, f)-requestNum[f])
	}
	return stops
}

// distMinStops is the fewest stops any balanced distribution of total over
// the factories allows: what they run now less the most of it any balanced
// distribution keeps (assignBestKept, the same oracle as the items').
func distMinStops(factories []factoryID, current map[factoryID]int, total int) int {
	fs := distUnique(factories)
	n := len(fs)
	if n == 0 {
		return 0
	}
	cur := make([]int, n)
	sum := 0
	for k, f := range fs {
		cur[k] = distCurrent(current, f)
		sum += cur[k]
	}
	return sum - assignBestKept(cur, total)
}

// checkDistribute verifies every documented property of a result.
func checkDistribute(t *testing.T, assignNum, single int, factories []factoryID, current map[factoryID]int, got map[factoryID]int, shortfall int) {
	t.Helper()
	fs := distUnique(factories)
	n := len(fs)
	want := max(assignNum, 0)
	if n == 0 {
		want = 0
	} else if single > 0 {
		want = min(want, n*single)
	}
	require.NotNil(t, got)
	assert.ElementsMatch(t, fs, slices.Collect(maps.Keys(got)), "every factory, and only them")
	sum, lo, hi := 0, int(^uint(0)>>1), 0
	for _, f := range fs {
		v := got[f]
		assert.GreaterOrEqual(t, v, 0, "factory %q", f)
		if single > 0 {
			assert.LessOrEqual(t, v, single, "factory %q above numOfSingleServer", f)
		}
		sum += v
		lo, hi = min(lo, v), max(hi, v)
	}
	assert.Equal(t, want, sum, "total")
	assert.Equal(t, max(assignNum, 0)-want, shortfall, "shortfall")
	if n > 0 {
		assert.LessOrEqual(t, hi-lo, 1, "not within ±1: %v", got)
	}
	assert.Equal(t, distMinStops(factories, current, want), distStops(factories, current, got), "stops not minimal: %v from %v", got, current)
}

func TestDistributeTable(t *testing.T) {
	f := distFactories(5)
	tests := []struct {
		name          string
		assignNum     int
		single        int
		factories     []factoryID
		current       map[factoryID]int
		wantSorted    []int // sorted values
		wantShortfall int
		wantStops     int
		// want, when set, is compared exactly.
		want map[factoryID]int
	}{
		{name: "no factories", assignNum: 4, wantSorted: []int{}, wantShortfall: 4},
		{name: "no factories and nothing to run", wantSorted: []int{}},
		{name: "nothing to run", factories: f[:3], current: map[factoryID]int{f[0]: 2}, wantSorted: []int{0, 0, 0}, wantStops: 2},
		{name: "assignNum 0 (imported from TBSchedule) runs nowhere", assignNum: 0, factories: f[:3], wantSorted: []int{0, 0, 0}},
		{name: "negative assignNum counts as zero", assignNum: -3, factories: f[:2], wantSorted: []int{0, 0}},
		{name: "6 over 3 with 3 each", assignNum: 6, single: 3, factories: f[:3], wantSorted: []int{2, 2, 2}},
		{
			name: "6 over 3 when one leaves", assignNum: 6, single: 3, factories: []factoryID{f[0], f[2]},
			current: map[factoryID]int{f[0]: 2, f[1]: 2, f[2]: 2}, want: map[factoryID]int{f[0]: 3, f[2]: 3},
		},
		{name: "6 with 3 each over 1 falls short", assignNum: 6, single: 3, factories: f[:1], want: map[factoryID]int{f[0]: 3}, wantShortfall: 3},
		{name: "1 over 3 runs once", assignNum: 1, factories: f[:3], wantSorted: []int{0, 0, 1}},
		{
			name: "1 over 3 stays where it runs", assignNum: 1, factories: f[:3],
			current: map[factoryID]int{f[2]: 1}, want: map[factoryID]int{f[0]: 0, f[1]: 0, f[2]: 1},
		},
		{
			name: "1 over 3 moves when its factory leaves", assignNum: 1, factories: f[:3],
			current: map[factoryID]int{f[4]: 1}, wantSorted: []int{0, 0, 1},
		},
		{name: "remainder", assignNum: 10, factories: f[:3], wantSorted: []int{3, 3, 4}},
		{name: "exact multiple", assignNum: 12, factories: f[:4], wantSorted: []int{3, 3, 3, 3}},
		{name: "more factories than groups", assignNum: 2, factories: f[:5], wantSorted: []int{0, 0, 0, 1, 1}},
		{name: "cap above fair share", assignNum: 10, single: 5, factories: f[:3], wantSorted: []int{3, 3, 4}},
		{name: "cap equal to the larger share", assignNum: 7, single: 3, factories: f[:3], wantSorted: []int{2, 2, 3}},
		{name: "cap below fair share", assignNum: 10, single: 2, factories: f[:3], wantSorted: []int{2, 2, 2}, wantShortfall: 4},
		{name: "negative cap means none", assignNum: 10, single: -1, factories: f[:3], wantSorted: []int{3, 3, 4}},
		{
			name: "balanced numbers are kept", assignNum: 10, factories: f[:4],
			current: map[factoryID]int{f[0]: 2, f[1]: 3, f[2]: 2, f[3]: 3},
			want:    map[factoryID]int{f[0]: 2, f[1]: 3, f[2]: 2, f[3]: 3},
		},
		{
			name: "join with a remainder stops two", assignNum: 10, factories: f[:4],
			current: map[factoryID]int{f[0]: 4, f[1]: 3, f[2]: 3}, wantSorted: []int{2, 2, 3, 3}, wantStops: 2,
		},
		{
			name: "join under a cap stops one", assignNum: 6, single: 3, factories: f[:4],
			current: map[factoryID]int{f[0]: 2, f[1]: 2, f[2]: 2}, wantSorted: []int{1, 1, 2, 2}, wantStops: 1,
		},
		{
			name: "join fills a shortfall without stops", assignNum: 10, single: 3, factories: f[:3],
			current: map[factoryID]int{f[0]: 3, f[1]: 3}, want: map[factoryID]int{f[0]: 3, f[1]: 3, f[2]: 3}, wantShortfall: 1,
		},
		{
			name: "leave of a smaller one stops nothing", assignNum: 10, factories: f[:3],
			current: map[factoryID]int{f[0]: 3, f[1]: 3, f[2]: 2, f[3]: 2}, wantSorted: []int{3, 3, 4},
		},
		{
			name: "leave of a larger one stops nothing", assignNum: 10, factories: []factoryID{f[1], f[2], f[3]},
			current: map[factoryID]int{f[0]: 3, f[1]: 3, f[2]: 2, f[3]: 2}, wantSorted: []int{3, 3, 4},
		},
		{
			name: "lowered assignNum stops the fewest", assignNum: 6, factories: f[:3],
			current: map[factoryID]int{f[0]: 3, f[1]: 3, f[2]: 3}, want: map[factoryID]int{f[0]: 2, f[1]: 2, f[2]: 2}, wantStops: 3,
		},
		{
			name: "negative and unknown current values are ignored", assignNum: 4, factories: f[:2],
			current: map[factoryID]int{f[0]: -5, "gone": 9}, want: map[factoryID]int{f[0]: 2, f[1]: 2},
		},
		{
			name: "repeated factories count once", assignNum: 3, factories: []factoryID{f[0], f[1], f[0]},
			current: map[factoryID]int{f[1]: 2}, want: map[factoryID]int{f[0]: 1, f[1]: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, shortfall := plan.Distribute(tt.assignNum, tt.single, tt.factories, tt.current, "strategy-1")
			checkDistribute(t, tt.assignNum, tt.single, tt.factories, tt.current, got, shortfall)
			assert.Equal(t, tt.wantShortfall, shortfall, "shortfall")
			assert.Equal(t, tt.wantStops, distStops(tt.factories, tt.current, got), "stops")
			if tt.want != nil {
				assert.Equal(t, tt.want, got)
			}
			if tt.wantSorted != nil {
				sorted := slices.Sorted(maps.Values(got))
				if sorted == nil {
					sorted = []int{}
				}
				assert.Equal(t, tt.wantSorted, sorted)
			}
		})
	}
}

// TestDistributeRemainderSpread checks that the remainder does not always
// land on the leader: over many seeds each factory carries it about equally
// often, and each seed always gives the same answer.
func TestDistributeRemainderSpread(t *testing.T) {
	tests := []struct {
		name      string
		assignNum int
		factories int
	}{
		{name: "1 over 3", assignNum: 1, factories: 3},
		{name: "10 over 4", assignNum: 10, factories: 4},
		{name: "7 over 5", assignNum: 7, factories: 5},
	}
	const seeds = 600
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := distFactories(tt.factories)
			base := tt.assignNum / tt.factories
			extras := map[factoryID]int{}
			for i := range seeds {
				seed := fmt.Sprintf("strategy-%d", i)
				got, _ := plan.Distribute(tt.assignNum, 0, fs, nil, seed)
				again, _ := plan.Distribute(tt.assignNum, 0, fs, nil, seed)
				require.Equal(t, got, again, "seed %q not deterministic", seed)
				for f, v := range got {
					if v > base {
						extras[f]++
					}
				}
			}
			want := seeds * (tt.assignNum % tt.factories) / tt.factories
			for _, f := range fs {
				assert.InDelta(t, want, extras[f], float64(want)/3, "factory %q carried the remainder %d times of %d seeds", f, extras[f], seeds)
			}
		})
	}
}

func TestDistributeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20260101, 13))
	for i := range 3000 {
		n := r.IntN(41)
		assignNum := r.IntN(203) - 2
		single := 0
		if r.IntN(2) == 0 {
			single = r.IntN(21)
		}
		factories := make([]factoryID, n)
		for k := range factories {
			factories[k] = distFactory(r.IntN(1000000))
		}
		current := map[factoryID]int{}
		for _, f := range factories {
			if r.IntN(5) > 0 {
				current[f] = r.IntN(12) - 1
			}
		}
		for k := range r.IntN(3) {
			current[factoryID(fmt.Sprintf("gone-%d", k))] = r.IntN(5)
		}
		seed := fmt.Sprintf("s%d", r.IntN(1000))

		t.Run(fmt.Sprintf("case%d_n%d_assign%d_single%d", i, n, assignNum, single), func(t *testing.T) {
			fsCopy, curCopy := slices.Clone(factories), maps.Clone(current)
			got, shortfall := plan.Distribute(assignNum, single, factories, current, seed)
			checkDistribute(t, assignNum, single, factories, current, got, shortfall)
			assert.Equal(t, fsCopy, factories, "factories modified")
			assert.Equal(t, curCopy, current, "current modified")

			// Deterministic, also with a map built in another order.
			rebuilt := map[factoryID]int{}
			for _, f := range slices.Backward(slices.Sorted(maps.Keys(current))) {
				rebuilt[f] = current[f]
			}
			got2, shortfall2 := plan.Distribute(assignNum, single, factories, rebuilt, seed)
			assert.Equal(t, got, got2)
			assert.Equal(t, shortfall, shortfall2)

			// A fixed point.
			got3, _ := plan.Distribute(assignNum, single, factories, got, seed)
			assert.Equal(t, got, got3)

			// Join: no factory gains but the new one.
			joiner := factoryID(fmt.Sprintf("joiner-%d", i))
			joined := slices.Insert(slices.Clone(factories), r.IntN(n+1), joiner)
			got4, sf4 := plan.Distribute(assignNum, single, joined, got, seed)
			checkDistribute(t, assignNum, single, joined, got, got4, sf4)
			for f, v := range got {
				assert.LessOrEqual(t, got4[f], v, "after a join %q grew", f)
			}

			// Leave: no remaining factory loses.
			if n == 0 {
				return
			}
			gone := factories[r.IntN(n)]
			left := slices.DeleteFunc(slices.Clone(factories), func(f factoryID) bool { return f == gone })
			got5, sf5 := plan.Distribute(assignNum, single, left, got, seed)
			checkDistribute(t, assignNum, single, left, got, got5, sf5)
			for _, f := range left {
				assert.GreaterOrEqual(t, got5[f], got[f], "after %q left %q shrank", gone, f)
			}
		})
	}
}

func BenchmarkDistribute(b *testing.B) {
	fs := distFactories(200)
	current, _ := plan.Distribute(1000, 0, fs[1:], nil, "bench")
	b.ReportAllocs()
	for b.Loop() {
		plan.Distribute(1000, 0, fs, current, "bench")
	}
}
