package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/fence"
)

// Every event converges, balanced, in a few rounds, with writes bounded by
// the items that moved (O(moved), not O(items)).
func TestRunWritesFollowMovedItems(t *testing.T) {
	res, err := Run(context.Background(), Config{Servers: 50, Items: 2000})
	require.NoError(t, err)
	require.Len(t, res, 4)
	for _, r := range res {
		assert.True(t, r.Balanced, "%s: not balanced", r.Event)
		assert.LessOrEqual(t, r.Rounds, 3, "%s: rounds", r.Event)
		assert.Positive(t, r.Moved, "%s: nothing moved", r.Event)
	}
	start, kill, join, leave := res[0], res[1], res[2], res[3]
	assert.Equal(t, 2000, start.Moved, "start: every item granted")
	assert.Equal(t, start.Moved, start.Writes, "start: one grant per item")
	assert.Equal(t, 45, kill.Servers)
	assert.InDelta(t, 2000/10, kill.Moved, 10, "kill: the dead servers' items")
	assert.Equal(t, kill.Moved, kill.Writes, "kill: one direct grant per orphaned item")
	assert.LessOrEqual(t, join.Moved, 2000/46+1, "join: the newcomer's share only")
	assert.Equal(t, 2*join.Moved, join.Writes, "join: a request and a handover per moved item")
	assert.Equal(t, 2*leave.Moved, leave.Writes, "graceful: a release and a grant per moved item")
}

// Following the note boxes, a rebalance makes each server read only the
// items that changed for it: the items it gained or was asked to give up
// (the leader: those others wrote), not every item as the previous read
// path did once per round.
func TestNoteReadsFollowChangedItems(t *testing.T) {
	res, err := Run(context.Background(), Config{Servers: 50, Items: 2000})
	require.NoError(t, err)
	start, kill, join, leave := res[0], res[1], res[2], res[3]
	for _, r := range res {
		t.Logf("%-12s moved %5d  note reads %5d (most by one server %4d)  full reads before %d×%d items",
			r.Event, r.Moved, r.NoteReads, r.MaxNoteReads, r.Reads, 2000)
		assert.LessOrEqual(t, r.NoteReads, 3*r.Moved+r.Servers, "%s: reads O(moved)", r.Event)
	}
	assert.LessOrEqual(t, start.MaxNoteReads, 2000/50+1, "start: a server reads its own grants")
	assert.LessOrEqual(t, kill.MaxNoteReads, kill.Moved, "kill: nobody reads more than what moved")
	assert.LessOrEqual(t, join.MaxNoteReads, 2*join.Moved, "join: the requests and handovers")
	assert.LessOrEqual(t, leave.MaxNoteReads, 2*leave.Moved, "graceful stop: the releases")
}

func TestConfigErrors(t *testing.T) {
	_, err := New(context.Background(), Config{Servers: 0, Items: -1, KillShare: 2})
	require.Error(t, err)
	assert.ErrorContains(t, err, "Config.Servers = 0")
	assert.ErrorContains(t, err, "Config.Items = -1")
	assert.ErrorContains(t, err, "Config.KillShare = 2")
}

// A crash is followed by one round that holds the dead servers' items for
// their lock delay (the leader's planner, as in manager.Manager), then the
// grants; with the lock delay off, the grants come in the first round.
func TestKillHoldsForTheLockDelay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lockDelay time.Duration
		held      int
		wait      time.Duration
	}{
		{"default lock delay", 0, 1, 10*time.Second + fence.LockDelay(10*time.Second, 0, 0)},
		{"lock delay off", -1, 0, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(context.Background(), Config{Servers: 10, Items: 100, LockDelay: tc.lockDelay})
			require.NoError(t, err)
			defer s.Close()
			_, err = s.Start(context.Background())
			require.NoError(t, err)
			kill, err := s.Kill(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tc.held, kill.HeldRounds, "held rounds")
			assert.Equal(t, tc.held+1, kill.Rounds, "rounds")
			assert.Equal(t, tc.wait, kill.SimTime, "fake-clock wait")
			assert.Equal(t, kill.Moved, kill.Writes, "one grant per orphaned item")
			assert.True(t, kill.Balanced)
		})
	}
}
