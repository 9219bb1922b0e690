package plan

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type (
	tItem = Item[string, string]
	tIn   = LeadInput[string, string]
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLeadTable(t *testing.T) {
	tests := []struct {
		name       string
		in         tIn
		want       []Write[string]
		unassigned int
		held       int
		heldUntil  time.Time
	}{
		{name: "fresh items are granted directly, in leader order",
			in:   tIn{Items: []tItem{{ID: "0"}, {ID: "1"}}, Servers: []string{"a", "b"}, Now: t0},
			want: []Write[string]{{At: 0, Cur: "a"}, {At: 1, Cur: "b"}}},
		{name: "balanced items are left alone",
			in: tIn{Items: []tItem{{ID: "0", Cur: "b"}, {ID: "1", Cur: "a"}}, Servers: []string{"a", "b"}, Now: t0}},
		{name: "a newcomer gets a request, not a direct grant",
			in:   tIn{Items: []tItem{{ID: "0", Cur: "a"}, {ID: "1", Cur: "a"}}, Servers: []string{"a", "b"}, Now: t0},
			want: []Write[string]{{At: 1, Cur: "a", Req: "b"}}},
		{name: "a request under way is not re-targeted when a server joins",
			in: tIn{Items: []tItem{{ID: "0", Cur: "a"}, {ID: "1", Cur: "a"}, {ID: "2", Cur: "a", Req: "b"}},
				Servers: []string{"a", "b", "c"}, Now: t0},
			want: []Write[string]{{At: 1, Cur: "a", Req: "c"}}},
		{name: "a request for a server that left is re-targeted",
			in: tIn{Items: []tItem{{ID: "0", Cur: "a"}, {ID: "1", Cur: "a", Req: "x"}},
				Servers: []string{"a", "b"}, Now: t0},
			want: []Write[string]{{At: 1, Cur: "a", Req: "b"}}},
		{name: "a request no longer needed is withdrawn",
			in:   tIn{Items: []tItem{{ID: "0", Cur: "a", Req: "b"}}, Servers: []string{"a"}, Now: t0},
			want: []Write[string]{{At: 0, Cur: "a"}}},
		{name: "a removed item is asked to go to nobody; a removed unowned item is left",
			in: tIn{Items: []tItem{{ID: "0", Cur: "a", Removed: true}, {ID: "1", Cur: "a"}, {ID: "2", Removed: true}},
				Servers: []string{"a"}, Now: t0},
			want: []Write[string]{{At: 0, Cur: "a", Req: NoServer}}},
		{name: "a removed item of a dead owner is cleared at once when its delay is off",
			in: tIn{Items: []tItem{{ID: "0", Cur: "x", Removed: true}}, Servers: []string{"a"}, Now: t0,
				OwnDelay: 0},
			want: []Write[string]{{At: 0}}},
		{name: "beyond the cap: unassigned, and a live owner over it is asked to let go",
			in: tIn{Items: []tItem{{ID: "0", Cur: "a"}, {ID: "1", Cur: "a"}, {ID: "2"}}, Servers: []string{"a"},
				MaxPerServer: 1, Now: t0},
			want: []Write[string]{{At: 1, Cur: "a", Req: NoServer}}, unassigned: 2},
		{name: "a vanished owner's items are held for its published delay",
			in: tIn{Items: []tItem{{ID: "0", Cur: "x"}, {ID: "1", Cur: "a"}}, Servers: []string{"a"}, Now: t0,
				OwnDelay: time.Second, Delays: map[string]time.Duration{"x": 3 * time.Second}},
			held: 1, heldUntil: t0.Add(3 * time.Second)},
		{name: "the leader's own delay for a server that published none",
			in:   tIn{Items: []tItem{{ID: "0", Cur: "x"}}, Servers: []string{"a"}, Now: t0, OwnDelay: time.Second},
			held: 1, heldUntil: t0.Add(time.Second)},
		{name: "still held before the delay has passed since first seen",
			in: tIn{Items: []tItem{{ID: "0", Cur: "x"}}, Servers: []string{"a"}, Now: t0.Add(time.Second),
				OwnDelay: 2 * time.Second, Gone: map[string]time.Time{"x": t0}},
			held: 1, heldUntil: t0.Add(2 * time.Second)},
		{name: "granted once the delay has passed since first seen",
			in: tIn{Items: []tItem{{ID: "0", Cur: "x"}}, Servers: []string{"a"}, Now: t0.Add(2 * time.Second),
				OwnDelay: 2 * time.Second, Gone: map[string]time.Time{"x": t0}},
			want: []Write[string]{{At: 0, Cur: "a"}}},
		{name: "no live server: nothing is granted, everything unassigned",
			in:         tIn{Items: []tItem{{ID: "0"}, {ID: "1"}}, Now: t0},
			unassigned: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Lead(tt.in)
			assert.Equal(t, tt.want, p.Writes, "writes")
			assert.Equal(t, tt.unassigned, p.Unassigned, "unassigned")
			assert.Equal(t, tt.held, p.Held, "held")
			assert.Equal(t, tt.heldUntil, p.HeldUntil, "heldUntil")
			held := 0
			for _, h := range p.Holds {
				held += h.Items
				assert.Equal(t, tt.heldUntil.IsZero(), h.Until.IsZero(), "hold of %s", h.Server)
				assert.False(t, h.Until.Before(tt.heldUntil), "hold of %s ends before the earliest end", h.Server)
			}
			assert.Equal(t, tt.held, held, "the published holds count the held items")
		})
	}
}

// The holds' state: first sight is recorded and logged at Debug, a grant
// after the delay at Info, a vanished server that owns nothing any more is
// forgotten, and the input maps are not modified.
func TestLeadHoldState(t *testing.T) {
	gone := map[string]time.Time{"old": t0.Add(-time.Hour)}
	delays := map[string]time.Duration{"old": time.Second, "a": time.Second}
	in := tIn{Items: []tItem{{ID: "0", Cur: "x"}}, Servers: []string{"a"}, Now: t0, OwnDelay: time.Second,
		Gone: gone, Delays: delays}
	p := Lead(in)
	assert.Equal(t, map[string]time.Time{"x": t0}, p.Gone)
	assert.Equal(t, []string{"old"}, p.ForgetDelays)
	assert.Equal(t, map[string]time.Time{"old": t0.Add(-time.Hour)}, gone, "input Gone modified")
	require.Len(t, p.Events, 2)
	for _, e := range p.Events {
		assert.Equal(t, slog.LevelDebug, e.Level, e.Msg)
	}

	in.Gone, in.Now = p.Gone, t0.Add(time.Second)
	p = Lead(in)
	assert.Equal(t, []Write[string]{{At: 0, Cur: "a"}}, p.Writes)
	require.Len(t, p.Events, 1)
	assert.Equal(t, slog.LevelInfo, p.Events[0].Level)
	assert.Contains(t, p.Events[0].Msg, "after its lock delay")

	// A delay that is off grants at first sight, said at Info.
	in.Gone, in.OwnDelay, in.Delays = nil, -1, nil
	p = Lead(in)
	assert.Equal(t, []Write[string]{{At: 0, Cur: "a"}}, p.Writes)
	require.Len(t, p.Events, 2)
	assert.Equal(t, slog.LevelInfo, p.Events[1].Level)
	assert.Contains(t, p.Events[1].Msg, "lock delay is off")
}
