package manager

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestLeadEvents(t *testing.T) {
	items := []schedule.Item{
		{ID: "0", CurServer: "gone", Epoch: 3},
		{ID: "1", CurServer: "", Epoch: 0},
		{ID: "2", CurServer: "a", Epoch: 5},
		{ID: "10", CurServer: "gone", Epoch: 4},
		{ID: "3", CurServer: "a", Epoch: 6},
		{ID: "4", CurServer: "a", ReqServer: "b", Epoch: 7},
	}
	up := func(it schedule.Item, epoch int64) *schedule.Item { it.Epoch = epoch; return &it }
	for _, tc := range []struct {
		name    string
		writes  []plan.Write[schedule.ServerID]
		written []*schedule.Item
		want    []schedule.Event
	}{
		{"nothing written", nil, nil, []schedule.Event{}},
		{
			name:    "grants grouped by grantee, items in natural order, new epochs",
			writes:  []plan.Write[schedule.ServerID]{{At: 3, Cur: "b"}, {At: 0, Cur: "b"}, {At: 1, Cur: "a"}},
			written: []*schedule.Item{up(items[3], 9), up(items[0], 8), up(items[1], 1)},
			want: []schedule.Event{
				{Kind: schedule.EventGrant, Server: "a", Items: []schedule.OwnedItem{{ID: "1", Epoch: 1}}, Message: "leader granted 1 item(s)"},
				{Kind: schedule.EventGrant, Server: "b", Items: []schedule.OwnedItem{{ID: "0", Epoch: 8}, {ID: "10", Epoch: 9}}, Message: "leader granted 2 item(s)"},
			},
		},
		{
			name:    "a failed write is no event",
			writes:  []plan.Write[schedule.ServerID]{{At: 0, Cur: "b"}, {At: 1, Cur: "a"}},
			written: []*schedule.Item{nil, up(items[1], 1)},
			want:    []schedule.Event{{Kind: schedule.EventGrant, Server: "a", Items: []schedule.OwnedItem{{ID: "1", Epoch: 1}}, Message: "leader granted 1 item(s)"}},
		},
		{
			name:    "handover requests name the owner and the target; withdrawals are none",
			writes:  []plan.Write[schedule.ServerID]{{At: 2, Cur: "a", Req: "b"}, {At: 5, Cur: "a", Req: ""}, {At: 4, Cur: "a", Req: schedule.NoServer}},
			written: []*schedule.Item{up(items[2], 5), up(items[5], 7), up(items[4], 6)},
			want: []schedule.Event{
				{Kind: schedule.EventHandover, Server: "a", Items: []schedule.OwnedItem{{ID: "3", Epoch: 6}}, Message: "leader asked the owner to give the items up (removed or beyond capacity)"},
				{Kind: schedule.EventHandover, Server: "a", Items: []schedule.OwnedItem{{ID: "2", Epoch: 5}}, Message: "leader asked the owner to hand the items over to b"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, leadEvents(items, tc.writes, tc.written))
		})
	}
}

func TestAcquireEvent(t *testing.T) {
	before := map[schedule.ItemID]schedule.Item{"0": {ID: "0", Epoch: 1}, "1": {ID: "1", Epoch: 2}}
	after := map[schedule.ItemID]schedule.Item{"0": {ID: "0", Epoch: 1}, "1": {ID: "1", Epoch: 5}, "2": {ID: "2", Epoch: 3}}
	e, ok := acquireEvent("me", before, after)
	require.True(t, ok)
	assert.Equal(t, schedule.Event{Kind: schedule.EventAcquire, Server: "me", Items: []schedule.OwnedItem{{ID: "1", Epoch: 5}, {ID: "2", Epoch: 3}},
		Message: "acquired 2 item(s)"}, e, "a new epoch of an item owned already is a new grant")
	_, ok = acquireEvent("me", after, after)
	assert.False(t, ok, "nothing new")
	_, ok = acquireEvent("me", after, nil)
	assert.False(t, ok, "losing items is not acquiring")
}

func TestReleaseEvents(t *testing.T) {
	items := []schedule.Item{{ID: "0", Epoch: 1}, {ID: "1", Epoch: 2}, {ID: "2", Epoch: 3}}
	got := releaseEvents("me", items, []plan.Write[schedule.ServerID]{{At: 2, Cur: "b"}, {At: 0, Cur: "b"}, {At: 1, Cur: ""}})
	assert.Equal(t, []schedule.Event{
		{Kind: schedule.EventRelease, Server: "me", Items: []schedule.OwnedItem{{ID: "1", Epoch: 2}}, Message: "given up (no new owner)"},
		{Kind: schedule.EventRelease, Server: "me", Items: []schedule.OwnedItem{{ID: "0", Epoch: 1}, {ID: "2", Epoch: 3}}, Message: "handed over to b"},
	}, got)
	assert.Empty(t, releaseEvents("me", items, nil))
}

func TestHoldEvents(t *testing.T) {
	at := time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC)
	items := []schedule.Item{{ID: "7", CurServer: "x", Epoch: 4}, {ID: "8", CurServer: "y", Epoch: 2}, {ID: "9", CurServer: "x", Epoch: 5}}
	holds := []plan.Hold[schedule.ServerID]{{Server: "x", Items: 2, Until: at.Add(1500 * time.Millisecond)}}
	for _, tc := range []struct {
		name          string
		before, after map[schedule.ServerID]time.Time
		want          []schedule.Event
	}{
		{"nothing gone", nil, map[schedule.ServerID]time.Time{}, nil},
		{"a hold starts, with the items and epochs it holds", nil, map[schedule.ServerID]time.Time{"x": at}, []schedule.Event{
			{Kind: schedule.EventHoldStart, Server: "x", Items: []schedule.OwnedItem{{ID: "7", Epoch: 4}, {ID: "9", Epoch: 5}},
				Message: "server vanished while owning items; held until 03:12:01.500Z"},
		}},
		{"a server gone with no lock delay is granted at once", nil, map[schedule.ServerID]time.Time{"y": at}, []schedule.Event{
			{Kind: schedule.EventHoldStart, Server: "y", Items: []schedule.OwnedItem{{ID: "8", Epoch: 2}},
				Message: "server vanished while owning items; granted at once (no lock delay)"},
		}},
		{"a hold under way is no news", map[schedule.ServerID]time.Time{"x": at}, map[schedule.ServerID]time.Time{"x": at}, nil},
		{"a hold ends", map[schedule.ServerID]time.Time{"x": at}, map[schedule.ServerID]time.Time{}, []schedule.Event{
			{Kind: schedule.EventHoldEnd, Server: "x", Message: "the vanished server's items were released or granted again, or it came back"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, holdEvents(tc.before, tc.after, holds, items))
		})
	}
}

func TestFenceAndFailingEvents(t *testing.T) {
	assert.Equal(t, schedule.Event{Kind: schedule.EventFence, Server: "me", Message: "session lost: running deals cancelled"},
		fenceEvent("me", true, fence.Lost))
	assert.Equal(t, schedule.EventUnfence, fenceEvent("me", false, fence.Connected).Kind)
	assert.Equal(t, schedule.Event{Kind: schedule.EventRecordFailing, Server: "me", Message: "record key 42 failed: boom"},
		failingEvent("me", "42", errors.New("boom\nstack...")), "the first line of the error only")
	assert.Equal(t, schedule.Event{Kind: schedule.EventRecordRecovered, Server: "me", Message: "record key 42 succeeded again"},
		failingEvent("me", "42", nil))
}

// Without a hook the event sites build nothing.
func TestNilEventsHookCostsNothing(t *testing.T) {
	m := &Manager{}
	items := []schedule.Item{{ID: "0", CurServer: "a", Epoch: 1}}
	writes := []plan.Write[schedule.ServerID]{{At: 0, Cur: "b"}}
	written := []*schedule.Item{{ID: "0", CurServer: "b", Epoch: 2}}
	before := map[schedule.ServerID]time.Time{"a": {}}
	owned := map[schedule.ItemID]schedule.Item{"0": items[0]}
	allocs := testing.AllocsPerRun(100, func() {
		m.emitLead(items, writes, written)
		m.emitAcquired("a", nil, owned)
		m.emitReleased("a", items, writes)
		m.emitHolds(before, nil, nil, items)
		m.emitFence(true, fence.Lost)
		m.emitWindow(true, "open")
		m.emit(schedule.Event{Kind: schedule.EventRunNow})
	})
	assert.Zero(t, allocs)
	assert.Nil(t, m.failingHook(), "no hook: the processor gets none")
}
