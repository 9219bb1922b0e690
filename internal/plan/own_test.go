package plan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestOwnTable(t *testing.T) {
	live := map[string]bool{"me": true, "b": true}
	items := []tItem{
		{ID: "0", Cur: "me"},                // plain: kept
		{ID: "1", Cur: "me", Req: "b"},      // asked for b
		{ID: "2", Cur: "me", Removed: true}, // removed
		{ID: "3", Cur: "b"},                 // not mine
		{ID: "4", Cur: "me", Req: "me"},     // a request for me: kept
		{ID: "5", Cur: "me", Req: "gone"},   // asked for a server no longer live
		{ID: "6", Cur: "me", Req: NoServer}, // asked to let go
		{ID: "7", Cur: "me"},                // request withdrawn after the release started
		{ID: "8", Cur: "me", Req: "b"},      // release under way, boundary not passed
	}
	tests := []struct {
		name      string
		releasing []string
		done      []string
		want      OwnPlan[string, string]
	}{
		{name: "nothing under way: releases start",
			want: OwnPlan[string, string]{Owned: []int{0, 1, 2, 4, 5, 6, 7, 8}, Keep: []int{0, 4, 7},
				Release: []string{"1", "2", "5", "6", "8"}}},
		{name: "boundary passed: handovers to the requested live server or nobody",
			releasing: []string{"1", "2", "5", "6", "8"}, done: []string{"1", "2", "5", "6"},
			want: OwnPlan[string, string]{Owned: []int{0, 1, 2, 4, 5, 6, 7, 8}, Keep: []int{0, 4, 7},
				Handovers: []Write[string]{{At: 1, Cur: "b"}, {At: 2}, {At: 5}, {At: 6}}}},
		{name: "a withdrawn request is processed again; a release of an item gone elsewhere is over",
			releasing: []string{"7", "3", "99", "8"}, done: []string{"7", "3", "99"},
			want: OwnPlan[string, string]{Owned: []int{0, 1, 2, 4, 5, 6, 7, 8}, Keep: []int{0, 4, 7},
				Release: []string{"1", "2", "5", "6"}, Forget: []string{"7", "3", "99"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := OwnInput[string, string]{Me: "me", Items: items, Live: live,
				Releasing: map[string]time.Time{}, Done: map[string]bool{}}
			for _, id := range tt.releasing {
				in.Releasing[id] = t0
			}
			for _, id := range tt.done {
				in.Done[id] = true
			}
			p := Own(in)
			assert.Equal(t, tt.want.Owned, p.Owned, "owned")
			assert.Equal(t, tt.want.Keep, p.Keep, "keep")
			assert.Equal(t, tt.want.Release, p.Release, "release")
			assert.Equal(t, tt.want.Handovers, p.Handovers, "handovers")
			assert.ElementsMatch(t, tt.want.Forget, p.Forget, "forget")
		})
	}
}
