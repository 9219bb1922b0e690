package manager

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

func TestPatchItems(t *testing.T) {
	mine := func(it schedule.Item) bool { return it.CurServer == "A" }
	all := func(schedule.Item) bool { return true }
	it := func(id schedule.ItemID, cur schedule.ServerID, v schedule.Version) schedule.Item {
		return schedule.Item{ID: id, CurServer: cur, Version: v}
	}
	view := []schedule.Item{it("1", "A", 1), it("2", "A", 1), it("10", "A", 1)}
	cases := []struct {
		name string
		ids  []schedule.ItemID
		got  []schedule.Item
		keep func(schedule.Item) bool
		want []schedule.Item
	}{
		{"nothing read", nil, nil, mine, view},
		{"an owned item changes", []schedule.ItemID{"2"}, []schedule.Item{it("2", "A", 2)}, mine,
			[]schedule.Item{it("1", "A", 1), it("2", "A", 2), it("10", "A", 1)}},
		{"an item handed over leaves", []schedule.ItemID{"2"}, []schedule.Item{it("2", "B", 2)}, mine,
			[]schedule.Item{it("1", "A", 1), it("10", "A", 1)}},
		{"a grant comes in, in id order", []schedule.ItemID{"3"}, []schedule.Item{it("3", "A", 5)}, mine,
			[]schedule.Item{it("1", "A", 1), it("2", "A", 1), it("3", "A", 5), it("10", "A", 1)}},
		{"an item gone leaves", []schedule.ItemID{"10", "11"}, nil, mine,
			[]schedule.Item{it("1", "A", 1), it("2", "A", 1)}},
		{"the leader keeps every item", []schedule.ItemID{"2", "4"}, []schedule.Item{it("2", "B", 2), it("4", "", 0)}, all,
			[]schedule.Item{it("1", "A", 1), it("2", "B", 2), it("4", "", 0), it("10", "A", 1)}},
		{"a repeated id counts once", []schedule.ItemID{"4", "4"}, []schedule.Item{it("4", "A", 1), it("4", "A", 1)}, mine,
			[]schedule.Item{it("1", "A", 1), it("2", "A", 1), it("4", "A", 1), it("10", "A", 1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := append([]schedule.Item(nil), view...)
			assert.Equal(t, c.want, patchItems(view, c.ids, c.got, c.keep))
			assert.Equal(t, before, view, "the view was modified")
		})
	}
}

func TestNotedItems(t *testing.T) {
	notes := []storekit.Note{
		{Name: "n1", By: "L", Items: []schedule.ItemID{"10", "2"}},
		{Name: "n2", By: "", Items: []schedule.ItemID{"2", "3"}},
		{Name: "n3", By: "B", Items: []schedule.ItemID{"1"}},
	}
	assert.Equal(t, []schedule.ItemID{"1", "2", "3", "10"}, notedItems(notes, ""), "every note, sorted, once each")
	assert.Equal(t, []schedule.ItemID{"1", "2", "3"}, notedItems(notes, "L"), "the leader skips its own writes")
	assert.Empty(t, notedItems(nil, "L"))
}

func TestSweepable(t *testing.T) {
	sv := func(id schedule.ServerID, seq int64) schedule.Server { return schedule.Server{UUID: id, Seq: seq} }
	live := []schedule.Server{sv("t$ip$u1$0000000003", 3), sv("t$ip$u2$0000000007", 7)}
	boxes := []schedule.ServerID{
		storekit.LeaderBox,
		"t$ip$u0$0000000001", // gone, older than the newest live: swept
		"t$ip$u1$0000000003", // live
		"t$ip$u4$0000000005", // gone: swept
		"t$ip$u9$0000000009", // registered after the read: kept
		"t$ip$ux$notaseq",    // no sequence: kept
	}
	assert.Equal(t, []schedule.ServerID{"t$ip$u0$0000000001", "t$ip$u4$0000000005"}, sweepable(boxes, live))
	assert.Empty(t, sweepable(boxes, nil), "no live server: nothing known to be older")
}

func TestServersRead(t *testing.T) {
	cases := []struct {
		name                          string
		oldReads, leader, stale, have bool
		want                          serversReadKind
	}{
		{name: "first read", want: readNew},
		{name: "first read, stale", stale: true, want: readNew},
		{name: "leader, nothing moved", leader: true, have: true, want: readAll},
		{name: "leader, moved", leader: true, stale: true, have: true, want: readAll},
		{name: "previous way", oldReads: true, have: true, want: readAll},
		{name: "follower, moved", stale: true, have: true, want: readNew},
		{name: "follower, nothing moved", have: true, want: readNone},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, serversRead(c.oldReads, c.leader, c.stale, c.have), c.name)
	}
}

func TestNewServersAndMerge(t *testing.T) {
	rec := func(id schedule.ServerID, host string) schedule.Server {
		return schedule.Server{UUID: id, HostName: host}
	}
	known := map[schedule.ServerID]schedule.Server{"a": rec("a", "old-a"), "b": rec("b", "old-b"), "gone": rec("gone", "g")}
	cases := []struct {
		name      string
		ids       []schedule.ServerID
		wantFresh []schedule.ServerID
		recs      []schedule.Server
		want      []schedule.Server
	}{
		{name: "nothing new", ids: []schedule.ServerID{"a", "b"},
			want: []schedule.Server{rec("a", "old-a"), rec("b", "old-b")}},
		{name: "a newcomer between known ones keeps the listing's order", ids: []schedule.ServerID{"a", "n", "b"},
			wantFresh: []schedule.ServerID{"n"}, recs: []schedule.Server{rec("n", "new")},
			want: []schedule.Server{rec("a", "old-a"), rec("n", "new"), rec("b", "old-b")}},
		{name: "a newcomer gone before its record was read is left out", ids: []schedule.ServerID{"a", "n", "m"},
			wantFresh: []schedule.ServerID{"n", "m"}, recs: []schedule.Server{rec("m", "new-m")},
			want: []schedule.Server{rec("a", "old-a"), rec("m", "new-m")}},
		{name: "known records are kept, not replaced by a read", ids: []schedule.ServerID{"a"},
			recs: []schedule.Server{rec("a", "other")}, want: []schedule.Server{rec("a", "old-a")}},
		{name: "nobody left", want: []schedule.Server{}},
	}
	for _, c := range cases {
		assert.Equal(t, c.wantFresh, newServerIDs(c.ids, known), c.name)
		assert.Equal(t, c.want, mergeServers(c.ids, known, c.recs), c.name)
	}
}

func TestServersNextInLine(t *testing.T) {
	ids := []schedule.ServerID{"l", "n", "o"}
	assert.True(t, nextInLine(ids, "n"))
	assert.False(t, nextInLine(ids, "l"), "the leader")
	assert.False(t, nextInLine(ids, "o"), "third")
	assert.False(t, nextInLine(ids[:1], "l"), "alone")
	assert.False(t, nextInLine(nil, "n"))
}

func TestServersByIDAlone(t *testing.T) {
	rec := func(id schedule.ServerID, host string) schedule.Server {
		return schedule.Server{UUID: id, HostName: host, TakeoverDelay: 1500}
	}
	known := map[schedule.ServerID]schedule.Server{"a": rec("a", "host-a"), "gone": rec("gone", "g")}
	ids := []schedule.ServerID{"n", "a", "m"}
	assert.Equal(t, []schedule.Server{{UUID: "n"}, rec("a", "host-a"), {UUID: "m"}}, withRecords(ids, known),
		"the listing's order; a record where one was read, else the id alone")
	assert.Equal(t, map[schedule.ServerID]schedule.Server{"a": rec("a", "host-a")}, keptRecords(ids, known),
		"the records of servers no longer listed are dropped")
	assert.Empty(t, withRecords(nil, known))
	assert.Empty(t, keptRecords(ids, nil))
	assert.Equal(t, map[schedule.ServerID]schedule.Server{"a": rec("a", "host-a"), "gone": rec("gone", "g")},
		recordsOf([]schedule.Server{rec("a", "host-a"), rec("gone", "g")}))
}
