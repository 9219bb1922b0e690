package schedule

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/plan"
)

func TestLeadEvents(t *testing.T) {
	items := []Item{
		{ID: "0", CurServer: "gone", Epoch: 3},
		{ID: "1", CurServer: "", Epoch: 0},
		{ID: "2", CurServer: "a", Epoch: 5},
		{ID: "10", CurServer: "gone", Epoch: 4},
		{ID: "3", CurServer: "a", Epoch: 6},
		{ID: "4", CurServer: "a", ReqServer: "b", Epoch: 7},
	}
	up := func(it Item, epoch int64) *Item { it.Epoch = epoch; return &it }
	for _, tc := range []struct {
		name    string
		writes  []plan.Write[ServerID]
		written []*Item
		want    []Event
	}{
		{"nothing written", nil, nil, []Event{}},
		{
			name:    "grants grouped by grantee, items in natural order, new epochs",
			writes:  []plan.Write[ServerID]{{At: 3, Cur: "b"}, {At: 0, Cur: "b"}, {At: 1, Cur: "a"}},
			written: []*Item{up(items[3], 9), up(items[0], 8), up(items[1], 1)},
			want: []Event{
				{Kind: EventGrant, Server: "a", Items: []OwnedItem{{ID: "1", Epoch: 1}}, Message: "leader granted 1 item(s)"},
				{Kind: EventGrant, Server: "b", Items: []OwnedItem{{ID: "0", Epoch: 8}, {ID: "10", Epoch: 9}}, Message: "leader granted 2 item(s)"},
			},
		},
		{
			name:    "a failed write is no event",
			writes:  []plan.Write[ServerID]{{At: 0, Cur: "b"}, {At: 1, Cur: "a"}},
			written: []*Item{nil, up(items[1], 1)},
			want:    []Event{{Kind: EventGrant, Server: "a", Items: []OwnedItem{{ID: "1", Epoch: 1}}, Message: "leader granted 1 item(s)"}},
		},
		{
			name:    "handover requests name the owner and the target; withdrawals are none",
			writes:  []plan.Write[ServerID]{{At: 2, Cur: "a", Req: "b"}, {At: 5, Cur: "a", Req: ""}, {At: 4, Cur: "a", Req: NoServer}},
			written: []*Item{up(items[2], 5), up(items[5], 7), up(items[4], 6)},
			want: []Event{
				{Kind: EventHandover, Server: "a", Items: []OwnedItem{{ID: "3", Epoch: 6}}, Message: "leader asked the owner to give the items up (removed or beyond capacity)"},
				{Kind: EventHandover, Server: "a", Items: []OwnedItem{{ID: "2", Epoch: 5}}, Message: "leader asked the owner to hand the items over to b"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, leadEvents(items, tc.writes, tc.written))
		})
	}
}

func TestAcquireEvent(t *testing.T) {
	before := map[ItemID]Item{"0": {ID: "0", Epoch: 1}, "1": {ID: "1", Epoch: 2}}
	after := map[ItemID]Item{"0": {ID: "0", Epoch: 1}, "1": {ID: "1", Epoch: 5}, "2": {ID: "2", Epoch: 3}}
	e, ok := acquireEvent("me", before, after)
	require.True(t, ok)
	assert.Equal(t, Event{Kind: EventAcquire, Server: "me", Items: []OwnedItem{{ID: "1", Epoch: 5}, {ID: "2", Epoch: 3}},
		Message: "acquired 2 item(s)"}, e, "a new epoch of an item owned already is a new grant")
	_, ok = acquireEvent("me", after, after)
	assert.False(t, ok, "nothing new")
	_, ok = acquireEvent("me", after, nil)
	assert.False(t, ok, "losing items is not acquiring")
}

func TestReleaseEvents(t *testing.T) {
	items := []Item{{ID: "0", Epoch: 1}, {ID: "1", Epoch: 2}, {ID: "2", Epoch: 3}}
	got := releaseEvents("me", items, []plan.Write[ServerID]{{At: 2, Cur: "b"}, {At: 0, Cur: "b"}, {At: 1, Cur: ""}})
	assert.Equal(t, []Event{
		{Kind: EventRelease, Server: "me", Items: []OwnedItem{{ID: "1", Epoch: 2}}, Message: "given up (no new owner)"},
		{Kind: EventRelease, Server: "me", Items: []OwnedItem{{ID: "0", Epoch: 1}, {ID: "2", Epoch: 3}}, Message: "handed over to b"},
	}, got)
	assert.Empty(t, releaseEvents("me", items, nil))
}

func TestHoldEvents(t *testing.T) {
	at := time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC)
	items := []Item{{ID: "7", CurServer: "x", Epoch: 4}, {ID: "8", CurServer: "y", Epoch: 2}, {ID: "9", CurServer: "x", Epoch: 5}}
	holds := []plan.Hold[ServerID]{{Server: "x", Items: 2, Until: at.Add(1500 * time.Millisecond)}}
	for _, tc := range []struct {
		name          string
		before, after map[ServerID]time.Time
		want          []Event
	}{
		{"nothing gone", nil, map[ServerID]time.Time{}, nil},
		{"a hold starts, with the items and epochs it holds", nil, map[ServerID]time.Time{"x": at}, []Event{
			{Kind: EventHoldStart, Server: "x", Items: []OwnedItem{{ID: "7", Epoch: 4}, {ID: "9", Epoch: 5}},
				Message: "server vanished while owning items; held until 03:12:01.500Z"},
		}},
		{"a server gone with no lock delay is granted at once", nil, map[ServerID]time.Time{"y": at}, []Event{
			{Kind: EventHoldStart, Server: "y", Items: []OwnedItem{{ID: "8", Epoch: 2}},
				Message: "server vanished while owning items; granted at once (no lock delay)"},
		}},
		{"a hold under way is no news", map[ServerID]time.Time{"x": at}, map[ServerID]time.Time{"x": at}, nil},
		{"a hold ends", map[ServerID]time.Time{"x": at}, map[ServerID]time.Time{}, []Event{
			{Kind: EventHoldEnd, Server: "x", Message: "the vanished server's items were released or granted again, or it came back"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, holdEvents(tc.before, tc.after, holds, items))
		})
	}
}

func TestFenceAndFailingEvents(t *testing.T) {
	assert.Equal(t, Event{Kind: EventFence, Server: "me", Message: "session lost: running deals cancelled"},
		fenceEvent("me", true, fence.Lost))
	assert.Equal(t, EventUnfence, fenceEvent("me", false, fence.Connected).Kind)
	assert.Equal(t, Event{Kind: EventRecordFailing, Server: "me", Message: "record key 42 failed: boom"},
		failingEvent("me", "42", errors.New("boom\nstack...")), "the first line of the error only")
	assert.Equal(t, Event{Kind: EventRecordRecovered, Server: "me", Message: "record key 42 succeeded again"},
		failingEvent("me", "42", nil))
}

func TestEventKindNames(t *testing.T) {
	seen := map[string]bool{}
	for k := EventGrant; k <= EventRecordRecovered; k++ {
		name := k.String()
		assert.NotContains(t, name, "EventKind(", "kind %d has no name", int(k))
		assert.False(t, seen[name], "name %q twice", name)
		seen[name] = true
	}
	assert.Equal(t, "EventKind(99)", EventKind(99).String())
	b, err := json.Marshal(Event{Kind: EventHoldStart, Time: time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC),
		Items: []OwnedItem{{ID: "7", Epoch: 4}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"time":"2026-12-04T03:12:00Z","kind":"hold-start","items":[{"id":"7","epoch":4}]}`, string(b))
	e := Event{Time: time.Date(2026, 12, 4, 3, 12, 0, 0, time.UTC), Kind: EventGrant, Runtime: "t$BASE", Server: "s",
		Items: []OwnedItem{{ID: "7", Epoch: 4}, {ID: "8"}}, Message: "m"}
	assert.Equal(t, "2026-12-04T03:12:00.000Z grant t$BASE server=s items=7@4,8: m", e.String())
}

// Without a hook the event sites build nothing.
func TestNilEventsHookCostsNothing(t *testing.T) {
	m := &Manager{}
	items := []Item{{ID: "0", CurServer: "a", Epoch: 1}}
	writes := []plan.Write[ServerID]{{At: 0, Cur: "b"}}
	written := []*Item{{ID: "0", CurServer: "b", Epoch: 2}}
	before := map[ServerID]time.Time{"a": {}}
	owned := map[ItemID]Item{"0": items[0]}
	allocs := testing.AllocsPerRun(100, func() {
		m.emitLead(items, writes, written)
		m.emitAcquired("a", nil, owned)
		m.emitReleased("a", items, writes)
		m.emitHolds(before, nil, nil, items)
		m.emitFence(true, fence.Lost)
		m.emitWindow(true, "open")
		m.emit(Event{Kind: EventRunNow})
	})
	assert.Zero(t, allocs)
	assert.Nil(t, m.failingHook(), "no hook: the processor gets none")
}
