package zkstore

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TestLeaseStartsAtTheDial: the answer to a connect request read long after
// the request was sent (here the network held it back; in production the
// process was frozen with the answer in its socket buffer) must not renew
// the lease from the time it was read: the server made no promise past the
// send time plus the timeout. Right after the reconnection the session is
// Connected but its lease has lapsed; it holds again once a probe sent after
// the handshake is answered. Once the session has ended, it never holds.
func TestLeaseStartsAtTheDial(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s, _, proxy := proxied(t, c, 2*testSessionTimeout)
	sess := sessionOf(t, s)
	waitState(t, sess, schedule.SessionConnected, 10*time.Second)
	require.True(t, sess.Alive(), "a fresh session holds its lease")

	// Drop the connection; the reconnection's traffic is held back longer
	// than a third of the timeout each way, less than the timeout in all.
	delay := sess.Timeout() * 2 / 5
	proxy.Cut()
	proxy.Delay(delay)
	waitFor(t, 10*time.Second, "disconnected", func() error {
		if s.hasSession() {
			return errors.New("still connected")
		}
		return nil
	})
	// The reconnection: the session may turn Suspect again at once (its
	// lease is stale), so watch the client's state, not the session's.
	waitFor(t, 20*time.Second, "reconnected", func() error {
		if !s.hasSession() {
			return errors.New("no session")
		}
		return nil
	})
	alive := sess.Alive()
	cur := sessionOf(t, s)
	require.Equal(t, sess.ID(), cur.ID(), "the same session, renewed by the reconnection")
	assert.False(t, alive, "the lease started when the connect answer was read, not when its request was sent")

	proxy.Pass()
	waitFor(t, 10*time.Second, "the lease holds again", func() error {
		if !sess.Alive() {
			return errors.New("lapsed")
		}
		return nil
	})
	require.NoError(t, s.Close())
	assert.False(t, sess.Alive(), "a closed session holds no lease")
}
