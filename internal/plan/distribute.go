package plan

import (
	"cmp"
	"slices"

	"github.com/tbschedule/tbschedule-go/internal/spread"
)

// Distribute spreads assignNum thread groups over the registered factories
// (in leader order, lowest sequence first) and returns the requestNum of
// every factory (F is schedule.FactoryID in production). It is the strategy
// leader's pure function: the same input
// gives the same output, whatever the iteration order of current, and the
// input is not modified.
//
// Guarantees:
//   - every factory of factories has an entry (a repeated factory counts
//     once); requestNum values differ by at most one;
//   - when numOfSingleServer > 0 no factory gets more than it, so the total
//     may be less than assignNum: shortfall is assignNum minus the total
//     (all of assignNum when there is no factory; 0 when assignNum <= 0);
//   - the remainder (total modulo factories) is spread by seed (for example
//     the strategy name), not given to the leader or the first factories;
//   - sticky: when factories join or leave, or the numbers change, as few
//     thread groups as possible stop, i.e. the sum over factories of
//     max(0, current - requestNum) is the least any balanced distribution
//     allows. current may be nil or partial; missing and negative values
//     count as 0 and entries of other factories are ignored.
//
// Algorithm, O(factories·log factories): each factory gets total/factories;
// the total%factories extra ones go first to factories that currently run
// more than that (in the order of a hash of seed and the factory id), then to
// the others in the same hash order.
func Distribute[F ~string](assignNum, numOfSingleServer int, factories []F, current map[F]int, seed string) (requestNum map[F]int, shortfall int) {
	uniq := make([]F, 0, len(factories))
	requestNum = make(map[F]int, len(factories))
	for _, f := range factories {
		if _, dup := requestNum[f]; !dup {
			requestNum[f] = 0
			uniq = append(uniq, f)
		}
	}
	total := max(assignNum, 0)
	n := len(uniq)
	if n == 0 {
		return requestNum, total
	}
	if numOfSingleServer > 0 && total > n*numOfSingleServer {
		total = n * numOfSingleServer
	}
	shortfall = max(assignNum, 0) - total

	base, extra := total/n, total%n
	for _, f := range uniq {
		requestNum[f] = base
	}
	if extra == 0 {
		return requestNum, shortfall
	}
	keys := make([]uint64, n)
	order := make([]int, n)
	for k, f := range uniq {
		keys[k] = spread.Key(seed, string(f))
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(keys[a], keys[b]), cmp.Compare(a, b))
	})
	for _, k := range order {
		if f := uniq[k]; extra > 0 && current[f] > base {
			requestNum[f]++
			extra--
		}
	}
	for _, k := range order {
		if f := uniq[k]; extra > 0 && requestNum[f] == base {
			requestNum[f]++
			extra--
		}
	}
	return requestNum, shortfall
}
