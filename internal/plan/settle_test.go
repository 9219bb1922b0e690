package plan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSettle(t *testing.T) {
	const quiet, maxWait = 500 * time.Millisecond, 2 * time.Second
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name string
		in   SettleInput
		want time.Time
	}{
		{name: "a join just seen after the build: wait until the joins pause",
			in:   SettleInput{Built: at(0), Joined: at(100), Joining: true, Now: at(150)},
			want: at(600)},
		{name: "a slow read that found a newcomer: read again at once",
			in:   SettleInput{Built: at(0), Joined: at(100), Joining: true, Now: at(700)},
			want: at(700)},
		{name: "a later read without newcomers, before Quiet has passed: wait",
			in:   SettleInput{Built: at(0), Joined: at(100), Now: at(400)},
			want: at(600)},
		{name: "a later read without newcomers, Quiet passed: grant",
			in: SettleInput{Built: at(0), Joined: at(100), Now: at(600)}},
		{name: "joins that do not pause: grant at Built+Max",
			in:   SettleInput{Built: at(0), Joined: at(1800), Joining: true, Now: at(1900)},
			want: at(2000)},
		{name: "Max passed: grant whatever joins",
			in: SettleInput{Built: at(0), Joined: at(2100), Joining: true, Now: at(2100)}},
		{name: "no join seen (one server, or every server read at once): grant",
			in: SettleInput{Built: at(0), Now: at(10)}},
		{name: "the last join long before the build: grant",
			in: SettleInput{Built: at(1000), Joined: at(0), Now: at(1000)}},
		{name: "items found built (a leader taking over): grant",
			in: SettleInput{Joined: at(100), Joining: true, Now: at(150)}},
		{name: "fewer servers than the strategies expect, no join seen yet: wait up to Max",
			in:   SettleInput{Built: at(0), Servers: 3, Expected: 50, Now: at(10)},
			want: at(2000)},
		{name: "fewer servers than expected, joins paused longer than Quiet (between two waves): wait",
			in:   SettleInput{Built: at(0), Joined: at(100), Servers: 19, Expected: 50, Now: at(900)},
			want: at(2000)},
		{name: "every expected server live: grant at once, joins or not",
			in: SettleInput{Built: at(0), Joined: at(100), Joining: true, Servers: 50, Expected: 50, Now: at(150)}},
		{name: "more servers than expected: grant",
			in: SettleInput{Built: at(0), Servers: 51, Expected: 50, Now: at(150)}},
		{name: "fewer than expected, Max passed: grant",
			in: SettleInput{Built: at(0), Servers: 49, Expected: 50, Now: at(2000)}},
		// Holding back a grant never delays an item being processed.
		{name: "an item owned already: grant",
			in: SettleInput{Built: at(0), Joined: at(100), Joining: true, Owned: 1, Now: at(150)}},
		{name: "an item owned already, fewer servers than expected: grant",
			in: SettleInput{Built: at(0), Owned: 1, Servers: 3, Expected: 50, Now: at(150)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Quiet, tt.in.Max = quiet, maxWait
			assert.Equal(t, tt.want, Settle(tt.in))
		})
	}
}
