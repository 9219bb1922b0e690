package zkstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// proxied opens a client of c through a fault proxy, with the given session
// timeout, and an observer client connected directly.
func proxied(t *testing.T, c *zktest.Cluster, timeout time.Duration) (s, obs *Store, proxy *zktest.Proxy) {
	t.Helper()
	root := c.UniqueRoot(t)
	obs = openStore(t, testConfig(c, root, testAuth))
	proxy = c.NewProxy(t)
	cfg := testConfig(c, root, testAuth)
	cfg.Servers = proxy.Servers()
	cfg.SessionTimeout = timeout
	s = openStore(t, cfg)
	_, err := obs.CreateTaskType(ctxT(t, time.Minute), sampleTaskType("t1", 2))
	require.NoError(t, err)
	return s, obs, proxy
}

// waitState waits until sess is in state st (through Changed, no polling).
func waitState(t *testing.T, sess storekit.Session, st schedule.SessionState, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		ch := sess.Changed()
		if sess.State() == st {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("session %#x not %s within %v (it is %s)", sess.ID(), st, d, sess.State())
		}
	}
}

// serverIDsOf lists the ids of the servers of rt as obs reads them.
func serverIDsOf(t *testing.T, obs *Store, rt string) []schedule.ServerID {
	t.Helper()
	list, err := obs.Servers(ctxT(t, time.Minute), rt)
	require.NoError(t, err)
	ids := make([]schedule.ServerID, len(list))
	for i, sv := range list {
		ids[i] = sv.UUID
	}
	return ids
}

// TestLivenessProbe: behind a blackholed connection the session turns
// Suspect well before the session timeout, and before go-zookeeper itself
// notices (two thirds of the timeout); once the server has expired it and
// the network is back, the client sees the expiry, gets a new session and
// registers again.
func TestLivenessProbe(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s, obs, proxy := proxied(t, c, testSessionTimeout)
	ctx := ctxT(t, time.Minute)
	sess := sessionOf(t, s)
	require.Equal(t, schedule.SessionConnected, sess.State())
	_, err := s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)

	start := time.Now()
	proxy.Blackhole()
	waitState(t, sess, schedule.SessionSuspect, sess.Timeout())
	suspectAfter := time.Since(start)
	assert.Equal(t, zk.StateHasSession, s.conn.State(), "suspect before go-zookeeper noticed the silence")
	assert.Less(t, suspectAfter, sess.Timeout(), "suspect before the session can expire")
	t.Logf("suspect %v after the blackhole (session timeout %v)", suspectAfter, sess.Timeout())
	select {
	case <-sess.Done():
		t.Fatal("a silent session ended on the client side")
	default:
	}

	// The server expires the silent session: its node vanishes for others.
	waitFor(t, 20*time.Second, "server-side expiry", func() error {
		if ids := serverIDsOf(t, obs, "t1"); len(ids) > 0 {
			return fmt.Errorf("servers %v", ids)
		}
		return nil
	})
	proxy.Pass()
	select {
	case <-sess.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("the client did not learn of the expiry (state %s)", sess.State())
	}
	assert.Equal(t, schedule.SessionExpired, sess.State())
	assert.ErrorIs(t, sess.Err(), schedule.ErrSessionLost)
	cur := sessionOf(t, s)
	assert.NotEqual(t, sess.ID(), cur.ID())
	waitState(t, cur, schedule.SessionConnected, 10*time.Second)
	_, err = s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.1"))
	assert.ErrorIs(t, err, schedule.ErrSessionLost, "registering with the expired session")
	again, err := s.RegisterServer(ctx, cur, sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	assert.Equal(t, []schedule.ServerID{again.UUID}, serverIDsOf(t, obs, "t1"))
}

// TestCutKeepsSession: a connection cut shorter than the session timeout
// keeps the session: Suspect, then Connected with the same id, its
// ephemeral node and watches intact.
func TestCutKeepsSession(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s, obs, proxy := proxied(t, c, 4*time.Second)
	ctx := ctxT(t, time.Minute)
	sess := sessionOf(t, s)
	srv, err := s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	ch, err := s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1"})
	require.NoError(t, err)

	proxy.Cut()
	waitState(t, sess, schedule.SessionSuspect, 10*time.Second)
	proxy.Pass()
	waitState(t, sess, schedule.SessionConnected, 10*time.Second)
	cur := sessionOf(t, s)
	assert.Equal(t, sess.ID(), cur.ID(), "a short cut changed the session")
	assert.NoError(t, sess.Err())
	assert.Equal(t, []schedule.ServerID{srv.UUID}, serverIDsOf(t, obs, "t1"), "the ephemeral survived")
	require.NoError(t, s.UpdateServer(ctx, srv), "heartbeat after the cut")

	for len(ch) > 0 {
		<-ch
	}
	_, err = obs.RegisterServer(ctx, sessionOf(t, obs), sampleServer("t1", "10.0.0.2"))
	require.NoError(t, err)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not survive the cut")
	}
}

// TestRegisterLostResponse: the create of a server's node reaches the
// server but its answer is lost with the connection. The store finds its
// own node (by the uuid in its name and its ephemeral owner) instead of
// creating a second one.
func TestRegisterLostResponse(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s, obs, proxy := proxied(t, c, 4*time.Second)
	ctx := ctxT(t, time.Minute)
	sess := sessionOf(t, s)
	// The runtime's directories exist: the registration is one create.
	first, err := s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	require.NoError(t, s.UnregisterServer(ctx, "t1", first.UUID))

	// The scenario needs the answer to be still held back when the
	// connection is cut; on a very slow machine it may not be: try again.
	for attempt := 1; ; attempt++ {
		proxy.Delay(time.Second) // answers are held back that long
		ip := fmt.Sprintf("10.0.0.%d", attempt+1)
		before := s.requestStats()
		type result struct {
			rec schedule.Server
			err error
		}
		done := make(chan result, 1)
		go func() {
			rec, err := s.RegisterServer(ctx, sess, sampleServer("t1", ip))
			done <- result{rec, err}
		}()
		var created []schedule.ServerID
		waitFor(t, 20*time.Second, "the create reached the server", func() error {
			if created = serverIDsOf(t, obs, "t1"); len(created) == 0 {
				return fmt.Errorf("no server yet")
			}
			return nil
		})
		proxy.Cut() // the answer, still held back, is lost
		proxy.Pass()
		r := <-done
		require.NoError(t, r.err)
		assert.Equal(t, created, []schedule.ServerID{r.rec.UUID}, "the registration is the node that was created")
		assert.Equal(t, []schedule.ServerID{r.rec.UUID}, serverIDsOf(t, obs, "t1"), "exactly one registration")
		assert.Equal(t, sess.ID(), sessionOf(t, s).ID())
		d := s.requestStats().Sub(before)
		t.Logf("requests of the ambiguous registration: %s", d)
		if d.Children == 0 { // the store never looked for its node
			require.Less(t, attempt, 3, "the answer always came before the cut")
			t.Logf("attempt %d: the answer came before the cut; again", attempt)
			require.NoError(t, s.UnregisterServer(ctx, "t1", r.rec.UUID))
			continue
		}
		return
	}
}

// TestRegisterAcrossExpiry: a registration queued while the client is cut
// off, whose session then expires, must not be created on the next session:
// it fails with ErrSessionLost and leaves no node.
func TestRegisterAcrossExpiry(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	s, obs, proxy := proxied(t, c, testSessionTimeout)
	ctx := ctxT(t, time.Minute)
	sess := sessionOf(t, s)
	_, err := s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)

	proxy.Cut()
	waitState(t, sess, schedule.SessionSuspect, 10*time.Second)
	c.ExpireSession(t, sess.ID())
	before := s.requestStats()
	done := make(chan error, 1)
	go func() {
		_, err := s.RegisterServer(ctx, sess, sampleServer("t1", "10.0.0.2"))
		done <- err
	}()
	waitFor(t, 10*time.Second, "the create is queued", func() error {
		if s.requestStats().Create == before.Create {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	proxy.Pass()
	select {
	case err := <-done:
		require.ErrorIs(t, err, schedule.ErrSessionLost)
	case <-time.After(30 * time.Second):
		t.Fatal("RegisterServer did not return")
	}
	assert.Empty(t, serverIDsOf(t, obs, "t1"), "a registration outlived its session")
	cur := sessionOf(t, s)
	assert.NotEqual(t, sess.ID(), cur.ID())
	_, err = s.RegisterServer(ctx, cur, sampleServer("t1", "10.0.0.2"))
	require.NoError(t, err)
	assert.Len(t, serverIDsOf(t, obs, "t1"), 1)
}

// TestSessionNotOurs: a session of another store is refused.
func TestSessionNotOurs(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	a := openStore(t, testConfig(c, root, testAuth))
	b := openStore(t, testConfig(c, root, testAuth))
	ctx := ctxT(t, time.Minute)
	_, err := a.CreateTaskType(ctx, sampleTaskType("t1", 1))
	require.NoError(t, err)
	_, err = a.RegisterServer(ctx, sessionOf(t, b), sampleServer("t1", "10.0.0.1"))
	assert.ErrorIs(t, err, schedule.ErrSessionLost)
	_, err = a.RegisterFactory(ctx, nil, schedule.Factory{IP: "10.0.0.1", HostName: "h"})
	assert.ErrorIs(t, err, schedule.ErrSessionLost)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = a.Session(cctx)
	assert.NoError(t, err, "a live session is returned even on an ended ctx")
}
