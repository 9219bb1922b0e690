package schedule

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
