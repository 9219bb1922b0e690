package zktest_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// waitTimeout bounds every wait for a condition in these tests.
const waitTimeout = 30 * time.Second

// sessions records the session states a client goes through.
type sessions struct {
	mu      sync.Mutex
	seen    []zk.State    // guarded by mu
	next    int           // index in seen of the first state waitFor has not consumed; guarded by mu
	changed chan struct{} // closed and replaced when seen grows; guarded by mu
}

// record drains events (they are dropped when the channel is full) until
// the connection closes; t.Cleanup closes conn and waits for the drain.
func record(t *testing.T, conn *zk.Conn, events <-chan zk.Event) *sessions {
	s := &sessions{changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if ev.Type != zk.EventSession {
				continue
			}
			s.mu.Lock()
			s.seen = append(s.seen, ev.State)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return s
}

// waitFor waits until the client reaches want (after the states consumed by
// earlier calls).
func (s *sessions) waitFor(t *testing.T, want zk.State) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for s.next < len(s.seen) {
			st := s.seen[s.next]
			s.next++
			if st == want {
				s.mu.Unlock()
				return
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("client did not reach %v within %v; states: %v", want, waitTimeout, s.all())
		}
	}
}

func (s *sessions) all() []zk.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]zk.State(nil), s.seen...)
}

func (s *sessions) saw(st zk.State) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.seen {
		if x == st {
			return true
		}
	}
	return false
}

// connect connects a recorded client to servers (nil: all of c).
func connect(t *testing.T, c *zktest.Cluster, servers []string, timeout time.Duration) (*zk.Conn, *sessions) {
	t.Helper()
	conn, events := c.Connect(t, servers, timeout)
	return conn, record(t, conn, events)
}

// waitGone waits until p does not exist, using a watch.
func waitGone(t *testing.T, conn *zk.Conn, p string) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		ok, _, ch, err := conn.ExistsW(p)
		require.NoError(t, err)
		if !ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("%s still exists after %v", p, waitTimeout)
		}
	}
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, waitTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ruok(addr string) error {
	out, err := zktest.FourLetterWord(addr, "ruok", 500*time.Millisecond)
	if err != nil {
		return err
	}
	if out != "imok" {
		return errors.New("answered " + out)
	}
	return nil
}

func mode(addr string) string {
	out, err := zktest.FourLetterWord(addr, "srvr", time.Second)
	if err != nil {
		return err.Error()
	}
	for line := range strings.Lines(out) {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return strings.TrimSpace(out)
}

// makeRoot creates a fresh UniqueRoot on c and returns it.
func makeRoot(t *testing.T, c *zktest.Cluster, conn *zk.Conn) string {
	t.Helper()
	root := c.UniqueRoot(t)
	_, err := conn.Create(root, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	return root
}

func TestSharedStandalone(t *testing.T) {
	t.Parallel()
	c := zktest.Shared(t)
	require.Same(t, c, zktest.Shared(t), "Shared starts one cluster per test binary")
	require.Equal(t, 1, c.Size())
	require.Equal(t, []string{c.Member(0).Addr()}, c.Servers())
	assert.Equal(t, 0, c.Leader(t))
	assert.Equal(t, "standalone", mode(c.Member(0).Addr()))
	assert.NoError(t, ruok(c.Member(0).Addr()))
	c.WaitServing(t)

	conn, _ := connect(t, c, nil, 2*time.Second)
	root := makeRoot(t, c, conn)
	_, err := conn.Create(root+"/n", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	data, _, err := conn.Get(root + "/n")
	require.NoError(t, err)
	assert.Equal(t, "v", string(data))
}

func TestStandaloneStopKillRestartKeepsData(t *testing.T) {
	t.Parallel()
	c := zktest.StartStandalone(t)
	m := c.Member(0)
	require.True(t, m.Running())

	conn, _ := connect(t, c, nil, 2*time.Second)
	_, err := conn.Create("/kept", []byte("data"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	conn.Close()

	check := func(t *testing.T) {
		t.Helper()
		conn, _ := connect(t, c, nil, 2*time.Second)
		data, _, err := conn.Get("/kept")
		require.NoError(t, err)
		assert.Equal(t, "data", string(data))
		conn.Close()
	}

	m.Stop(t)
	assert.False(t, m.Running())
	m.Restart(t)
	require.True(t, m.Running())
	check(t)

	m.Kill(t)
	assert.False(t, m.Running())
	_, err = net.DialTimeout("tcp", m.Addr(), time.Second)
	assert.Error(t, err, "a killed server refuses connections")
	assert.Error(t, ruok(m.Addr()), "a killed server does not answer ruok")

	m.Restart(t)
	assert.NoError(t, ruok(m.Addr()))
	check(t)
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	c := zktest.StartStandalone(t)
	m := c.Member(0)
	require.NoError(t, ruok(m.Addr()))

	m.Pause(t)
	assert.True(t, m.Running(), "a paused server is still running")
	assert.Error(t, ruok(m.Addr()), "a paused server does not answer ruok")

	m.Resume(t)
	eventually(t, "ruok after Resume", func() error { return ruok(m.Addr()) })

	m.Pause(t)
	m.Kill(t) // a paused process must still die
	assert.False(t, m.Running())
}

func TestEnsembleSurvivesMemberLoss(t *testing.T) {
	t.Parallel()
	c := zktest.StartEnsemble(t, 3)
	require.Equal(t, 3, c.Size())
	leader := c.Leader(t)
	for i := range c.Size() {
		want := "follower"
		if i == leader {
			want = "leader"
		}
		assert.Equal(t, want, mode(c.Member(i).Addr()), "member %d", i)
	}

	conn, states := connect(t, c, nil, 10*time.Second)
	sid := conn.SessionID()
	root := makeRoot(t, c, conn)
	_, err := conn.Create(root+"/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	// Kill the follower the client talks to (or any follower).
	follower := (leader + 1) % 3
	for i := range c.Size() {
		if i != leader && c.Member(i).Addr() == conn.Server() {
			follower = i
		}
	}
	c.Member(follower).Kill(t)
	assert.Error(t, ruok(c.Member(follower).Addr()))
	c.WaitServing(t)

	_, err = conn.Create(root+"/after-follower-kill", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, "a quorum of 2 keeps serving")
	ok, stat, err := conn.Exists(root + "/eph")
	require.NoError(t, err)
	require.True(t, ok, "the ephemeral survives")
	assert.Equal(t, sid, stat.EphemeralOwner)
	assert.Equal(t, sid, conn.SessionID())

	// Kill the leader too: no quorum.
	c.Member(leader).Kill(t)
	last := 3 - leader - follower
	eventually(t, "the last member stops serving", func() error {
		if m := mode(c.Member(last).Addr()); m == "follower" || m == "leader" {
			return errors.New("still " + m)
		}
		return nil
	})

	// Bring the follower back: quorum again, with a new election.
	c.Member(follower).Restart(t)
	c.WaitServing(t)
	newLeader := c.Leader(t)
	assert.NotEqual(t, leader, newLeader)
	c.Member(leader).Restart(t)
	c.WaitServing(t)
	for i := range c.Size() {
		assert.Contains(t, []string{"leader", "follower"}, mode(c.Member(i).Addr()), "member %d", i)
	}

	_, err = conn.Create(root+"/after-restarts", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	assert.Equal(t, sid, conn.SessionID(), "the client kept its session")
	ok, _, err = conn.Exists(root + "/eph")
	require.NoError(t, err)
	assert.True(t, ok, "the ephemeral survives the loss of quorum")
	assert.False(t, states.saw(zk.StateExpired), "states: %v", states.all())

	// ExpireSession works on an ensemble, through any member.
	c.ExpireSession(t, sid)
	states.waitFor(t, zk.StateExpired)
	observer, _ := connect(t, c, nil, 10*time.Second)
	waitGone(t, observer, root+"/eph")
}

func TestBlackholeExpiresSession(t *testing.T) {
	t.Parallel()
	c := zktest.Shared(t)
	p := c.NewProxy(t)
	observer, _ := connect(t, c, nil, 10*time.Second)
	root := makeRoot(t, c, observer)

	client, states := connect(t, c, p.Servers(), 2*time.Second)
	sid := client.SessionID()
	eph := root + "/eph"
	_, err := client.Create(eph, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	p.Blackhole()
	states.waitFor(t, zk.StateDisconnected)
	waitGone(t, observer, eph) // the server expired the silent session
	assert.False(t, states.saw(zk.StateExpired), "the client cannot know yet")

	p.Pass()
	states.waitFor(t, zk.StateExpired)
	states.waitFor(t, zk.StateHasSession) // go-zookeeper starts a new session
	assert.NotEqual(t, sid, client.SessionID())
}

func TestCutThenPassKeepsSession(t *testing.T) {
	t.Parallel()
	c := zktest.Shared(t)
	p := c.NewProxy(t)
	client, states := connect(t, c, p.Servers(), 10*time.Second)
	sid := client.SessionID()
	root := makeRoot(t, c, client)
	_, err := client.Create(root+"/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	p.Cut()
	states.waitFor(t, zk.StateDisconnected)
	// New connections are closed at once.
	raw, err := net.DialTimeout("tcp", p.Servers()[0], time.Second)
	require.NoError(t, err)
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = raw.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "a cut proxy closes new connections")
	raw.Close()

	p.Pass()
	states.waitFor(t, zk.StateHasSession)
	assert.Equal(t, sid, client.SessionID(), "same session after the cut heals")
	ok, stat, err := client.Exists(root + "/eph")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, sid, stat.EphemeralOwner)
	assert.False(t, states.saw(zk.StateExpired), "states: %v", states.all())
}

func TestProxyForwardsAndDelays(t *testing.T) {
	t.Parallel()
	c := zktest.Shared(t)
	p := c.NewProxy(t)
	require.Len(t, p.Servers(), 1)
	client, _ := connect(t, c, p.Servers(), 10*time.Second)
	root := makeRoot(t, c, client)

	// Bulk data both ways survives the proxy byte for byte.
	big := make([]byte, 900<<10)
	_, _ = rand.Read(big)
	_, err := client.Create(root+"/big", big, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	got, _, err := client.Get(root + "/big")
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, got), "data changed through the proxy")

	const d = 200 * time.Millisecond
	p.Delay(d)
	start := time.Now()
	_, _, err = client.Exists(root)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 2*d, "request and reply are each delayed")

	p.Pass()
	_, _, err = client.Exists(root)
	require.NoError(t, err)
}

func TestExpireSession(t *testing.T) {
	t.Parallel()
	c := zktest.Shared(t)
	observer, _ := connect(t, c, nil, 10*time.Second)
	root := makeRoot(t, c, observer)

	client, states := connect(t, c, nil, 10*time.Second)
	sid := client.SessionID()
	_, err := client.Create(root+"/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	c.ExpireSession(t, sid)
	ok, _, err := observer.Exists(root + "/eph")
	require.NoError(t, err)
	assert.False(t, ok, "ephemerals are gone when ExpireSession returns")
	states.waitFor(t, zk.StateExpired)
	states.waitFor(t, zk.StateHasSession)
	assert.NotEqual(t, sid, client.SessionID())

	// Expiring an already expired session is a no-op.
	c.ExpireSession(t, sid)
}

func TestUniqueRootCleanupRemovesACLProtectedTree(t *testing.T) {
	t.Parallel()
	c := zktest.Shared(t)
	var root string
	t.Run("inner", func(t *testing.T) {
		conn, _ := connect(t, c, nil, 10*time.Second)
		root = c.UniqueRoot(t)
		require.True(t, strings.HasPrefix(root, zktest.TestRootParent+"/TestUniqueRootCleanupRemovesACLProtectedTree_inner-"), root)
		require.NotEqual(t, root, c.UniqueRoot(t), "each call is unique")

		require.NoError(t, conn.AddAuth("digest", []byte("owner:secret")))
		acl := zk.DigestACL(zk.PermAll, "owner", "secret")
		_, err := conn.Create(root, nil, 0, acl)
		require.NoError(t, err)
		for _, p := range []string{"a", "a/b", "a/b/c", "d"} {
			_, err := conn.Create(path.Join(root, p), []byte(p), 0, acl)
			require.NoError(t, err)
		}

		stranger, _ := connect(t, c, nil, 10*time.Second)
		_, _, err = stranger.Children(root)
		require.ErrorIs(t, err, zk.ErrNoAuth, "the ACL is enforced")
		err = stranger.Delete(path.Join(root, "d"), -1)
		require.ErrorIs(t, err, zk.ErrNoAuth, "the ACL is enforced")
	})
	require.NotEmpty(t, root)

	conn, _ := connect(t, c, nil, 10*time.Second)
	ok, _, err := conn.Exists(root)
	require.NoError(t, err)
	assert.False(t, ok, "cleanup removed %s", root)
	ok, _, err = conn.Exists(zktest.TestRootParent)
	require.NoError(t, err)
	assert.True(t, ok, "the parent stays")
}

func TestSuperAuthPassesACLs(t *testing.T) {
	t.Parallel()
	c := zktest.Shared(t)
	conn, _ := connect(t, c, nil, 10*time.Second)
	root := makeRoot(t, c, conn)
	require.NoError(t, conn.AddAuth("digest", []byte("owner:secret")))
	_, err := conn.Create(root+"/locked", []byte("x"), 0, zk.DigestACL(zk.PermAll, "owner", "secret"))
	require.NoError(t, err)

	super, _ := connect(t, c, nil, 10*time.Second)
	require.NoError(t, super.AddAuth(zktest.SuperAuth()))
	data, _, err := super.Get(root + "/locked")
	require.NoError(t, err)
	assert.Equal(t, "x", string(data))
}
