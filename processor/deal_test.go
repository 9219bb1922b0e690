package processor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDealString(t *testing.T) {
	sel := func(context.Context, SelectRequest) ([]string, error) { return nil, nil }
	d := MultiFunc(sel, func(context.Context, []string, string) error { return nil })
	assert.Equal(t, "multi deal of string (key: the record itself)", d.String())
}

func TestStatsDealInfoDesc(t *testing.T) {
	s := Stats{FetchCalls: 12, Fetched: 6000, Succeeded: 5990, Failed: 10, DealTime: 31 * time.Second, DuplicatesSuppressed: 3}
	assert.Equal(t, "FetchDataCount=12,FetchDataNum=6000,DealDataSucess=5990,DealDataFail=10,DealSpendTime=31000,otherCompareCount=3", s.DealInfoDesc())
}

func TestStatsAdd(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := Stats{FetchCalls: 1, FetchErrors: 2, Fetched: 3, Succeeded: 4, Failed: 5, Panics: 6, DealTime: 7, DuplicatesSuppressed: 8, Fenced: 9, Dropped: 10, Lapsed: 11, LastFetch: t0}
	b := Stats{FetchCalls: 10, FetchErrors: 20, Fetched: 30, Succeeded: 40, Failed: 50, Panics: 60, DealTime: 70, DuplicatesSuppressed: 80, Fenced: 90, Dropped: 100, Lapsed: 110, LastFetch: t0.Add(time.Second)}
	want := Stats{FetchCalls: 11, FetchErrors: 22, Fetched: 33, Succeeded: 44, Failed: 55, Panics: 66, DealTime: 77, DuplicatesSuppressed: 88, Fenced: 99, Dropped: 110, Lapsed: 121, LastFetch: t0.Add(time.Second)}
	assert.Equal(t, want, a.Add(b))
	assert.Equal(t, want, b.Add(a))
	assert.Equal(t, a, a.Add(Stats{}))
}
