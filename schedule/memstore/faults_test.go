package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/schedule/storekit/storetest"
)

const wait = 5 * time.Second

// fixture is a server on a fake clock with one task type.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeClock
	srv   *memstore.Server
}

func newFixture(t *testing.T) *fixture {
	clock := newFakeClock()
	f := &fixture{t: t, ctx: t.Context(), clock: clock, srv: memstore.New(memstore.Config{}, memstore.WithClock(clock))}
	c := f.connect(memstore.ClientConfig{})
	_, err := c.CreateTaskType(f.ctx, storetest.SampleTaskType("t1"))
	require.NoError(t, err)
	return f
}

func (f *fixture) connect(cfg memstore.ClientConfig) *memstore.Client {
	c := f.srv.Connect(cfg)
	f.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (f *fixture) session(c *memstore.Client) storekit.Session {
	f.t.Helper()
	sess, err := c.Session(f.ctx)
	require.NoError(f.t, err)
	return sess
}

func (f *fixture) register(c *memstore.Client, ip string) schedule.Server {
	f.t.Helper()
	rec, err := c.RegisterServer(f.ctx, f.session(c), storetest.SampleServer("t1", ip))
	require.NoError(f.t, err)
	return rec
}

func (f *fixture) servers(c *memstore.Client) []schedule.ServerID {
	f.t.Helper()
	list, err := c.Servers(f.ctx, "t1")
	require.NoError(f.t, err)
	ids := make([]schedule.ServerID, len(list))
	for i, s := range list {
		ids[i] = s.UUID
	}
	return ids
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func fired(ch <-chan struct{}) bool {
	select {
	case _, ok := <-ch:
		return ok
	default:
		return false
	}
}

func waitFired(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "watch closed")
	case <-time.After(wait):
		t.Fatal("watch did not fire")
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatal("channel not closed")
	}
}

func TestDisconnectShorterThanTimeout(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{SessionTimeout: 10 * time.Second})
	other := f.connect(memstore.ClientConfig{})
	srv := f.register(c, "10.0.0.1")
	sess := f.session(c)
	changed := sess.Changed()
	watch, err := c.Watch(f.ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1"})
	require.NoError(t, err)

	c.Disconnect(3 * time.Second)
	assert.Equal(t, schedule.SessionSuspect, sess.State())
	assert.True(t, isClosed(changed), "Changed not closed at the cut")
	assert.False(t, isClosed(sess.Done()))
	err = c.UpdateServer(f.ctx, srv)
	require.ErrorIs(t, err, memstore.ErrConnectionLoss)
	assert.NotErrorIs(t, err, schedule.ErrSessionLost)
	_, err = c.Watch(f.ctx, storekit.WatchScope{Kind: storekit.WatchConfig})
	require.ErrorIs(t, err, memstore.ErrConnectionLoss)
	_, err = c.Now(f.ctx)
	require.NoError(t, err, "Now needs no round trip")
	assert.Equal(t, []schedule.ServerID{srv.UUID}, f.servers(other), "the session lives at the server during the cut")

	// An event during the cut is held until the client reconnects.
	f.register(other, "10.0.0.2")
	assert.False(t, fired(watch), "a watch fired during the cut")

	f.clock.waitTimers(t, 1)
	f.clock.Advance(2 * time.Second)
	assert.Equal(t, schedule.SessionSuspect, sess.State(), "reconnected early")
	f.clock.waitTimers(t, 1)
	changed = sess.Changed()
	f.clock.Advance(time.Second)
	waitClosed(t, changed)
	assert.Equal(t, schedule.SessionConnected, sess.State())
	waitFired(t, watch)
	assert.Equal(t, sess, f.session(c), "the session changed across a short cut")
	require.NoError(t, c.UpdateServer(f.ctx, srv))
	assert.Len(t, f.servers(c), 2)
}

func TestDisconnectLongerThanTimeout(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{SessionTimeout: 4 * time.Second})
	other := f.connect(memstore.ClientConfig{})
	srv := f.register(c, "10.0.0.1")
	sess := f.session(c)
	watch, err := other.Watch(f.ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1"})
	require.NoError(t, err)
	own, err := c.Watch(f.ctx, storekit.WatchScope{Kind: storekit.WatchItems, Name: "t1"})
	require.NoError(t, err)

	c.Disconnect(6 * time.Second)
	f.clock.waitTimers(t, 1)
	f.clock.Advance(4 * time.Second)
	waitClosed(t, sess.Done())
	assert.Equal(t, schedule.SessionExpired, sess.State())
	assert.ErrorIs(t, sess.Err(), schedule.ErrSessionLost)
	waitFired(t, watch)
	assert.Empty(t, f.servers(other), "the expired session's server is still there")

	// Still cut off: no session yet, operations fail with connection loss.
	ctx, cancel := context.WithTimeout(f.ctx, 20*time.Millisecond)
	_, err = c.Session(ctx)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, c.UpdateServer(f.ctx, srv), memstore.ErrConnectionLoss)
	assert.False(t, fired(own), "a watch fired during the cut")

	f.clock.waitTimers(t, 1)
	f.clock.Advance(2 * time.Second)
	waitFired(t, own)
	cur := f.session(c)
	assert.NotEqual(t, sess.ID(), cur.ID())
	assert.Equal(t, schedule.SessionConnected, cur.State())
	assert.Equal(t, schedule.SessionExpired, sess.State())
	require.ErrorIs(t, c.UpdateServer(f.ctx, srv), schedule.ErrNotFound)
	_, err = c.RegisterServer(f.ctx, sess, storetest.SampleServer("t1", "10.0.0.1"))
	require.ErrorIs(t, err, schedule.ErrSessionLost)
	f.register(c, "10.0.0.1")
}

func TestDisconnectAgainExtendsTheCut(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	sess := f.session(c)
	c.Disconnect(2 * time.Second)
	c.Disconnect(5 * time.Second)
	// Step the clock while the cut's goroutine re-arms its timer.
	start := f.clock.Now()
	for {
		connected := false
		require.Eventually(t, func() bool {
			connected = sess.State() == schedule.SessionConnected
			return connected || f.clock.pending() == 1
		}, wait, time.Millisecond, "neither connected nor waiting")
		if connected {
			break
		}
		require.Less(t, f.clock.Now().Sub(start), 10*time.Second, "the cut did not end")
		f.clock.Advance(100 * time.Millisecond)
	}
	assert.GreaterOrEqual(t, f.clock.Now().Sub(start), 5*time.Second, "the cut ended before the second Disconnect's end")
}

func TestReconnectEndsTheCut(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	sess := f.session(c)
	c.Reconnect() // connected: no-op
	c.Disconnect(time.Hour)
	_, err := c.TaskTypes(f.ctx)
	require.ErrorIs(t, err, memstore.ErrConnectionLoss)
	c.Reconnect()
	assert.Equal(t, schedule.SessionConnected, sess.State())
	f.register(c, "10.0.0.1")
	f.clock.waitTimers(t, 0)
}

func TestExpireSessionDuringCut(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	other := f.connect(memstore.ClientConfig{})
	f.register(c, "10.0.0.1")
	sess := f.session(c)
	c.Disconnect(time.Second)
	f.srv.ExpireSession(c)
	assert.True(t, isClosed(sess.Done()))
	assert.Empty(t, f.servers(other))
	f.clock.waitTimers(t, 1)
	f.clock.Advance(time.Second)
	cur := f.session(c)
	assert.NotEqual(t, sess.ID(), cur.ID())
	assert.Equal(t, schedule.SessionConnected, cur.State())
}

func TestExpireSession(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	sess := f.session(c)
	f.register(c, "10.0.0.1")
	f.srv.ExpireSession(c)
	assert.Equal(t, schedule.SessionExpired, sess.State())
	assert.ErrorIs(t, sess.Err(), schedule.ErrSessionLost)
	cur := f.session(c)
	assert.NotEqual(t, sess.ID(), cur.ID(), "no new session at once")
	assert.Empty(t, f.servers(c))
	require.NoError(t, c.Close())
	f.srv.ExpireSession(c) // closed: no-op
	assert.Equal(t, schedule.SessionClosed, cur.State())
}

func TestFailNext(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	boom := errors.New("boom")
	c.FailNext(2, boom)
	_, err := c.CreateTaskType(f.ctx, storetest.SampleTaskType("t2"))
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "/baseTaskType/t2")
	_, _, err = c.TaskType(f.ctx, "t2")
	require.ErrorIs(t, err, boom)
	_, _, err = c.TaskType(f.ctx, "t2")
	require.ErrorIs(t, err, schedule.ErrNotFound, "the failed create wrote")

	c.FailNext(1, nil)
	_, err = c.TaskTypes(f.ctx)
	require.ErrorIs(t, err, memstore.ErrConnectionLoss)
	_, err = c.TaskTypes(f.ctx)
	require.NoError(t, err)
	sess := f.session(c)
	assert.Equal(t, schedule.SessionConnected, sess.State(), "an injected fault touched the session")
}

func TestErrorsNameOperationAndPath(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	srv := f.register(c, "10.0.0.1")
	snap, err := c.BuildItems(f.ctx, "t1", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"3"})
	require.NoError(t, err)
	stale := snap.Items[0]
	_, err = c.UpdateItem(f.ctx, "t1", "", stale, srv.UUID, "")
	require.NoError(t, err)
	_, err = c.UpdateItem(f.ctx, "t1", "", stale, srv.UUID, "")
	require.EqualError(t, err, "memstore: set /baseTaskType/t1/t1/taskItem/3: schedule: version conflict")
	_, _, err = c.TaskType(f.ctx, "nope")
	require.EqualError(t, err, "memstore: get /baseTaskType/nope: schedule: not found")
}

func TestDigest(t *testing.T) {
	srv := memstore.New(memstore.Config{Auth: &memstore.DigestAuth{User: "app", Password: "secret"}})
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		auth  *memstore.DigestAuth
		write error
	}{
		{"right credentials", &memstore.DigestAuth{User: "app", Password: "secret"}, nil},
		{"wrong password", &memstore.DigestAuth{User: "app", Password: "guess"}, schedule.ErrPermission},
		{"wrong user", &memstore.DigestAuth{User: "ap", Password: "p:secret"}, schedule.ErrPermission},
		{"no credentials", nil, schedule.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.Connect(memstore.ClientConfig{Auth: tc.auth})
			defer c.Close()
			_, err := c.CreateStrategy(ctx, storetest.SampleStrategy("s-"+tc.name[:2], "t1"))
			if tc.write == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.write)
			}
			_, err = c.Strategies(ctx)
			require.NoError(t, err, "reads need no credentials")
		})
	}
	open := memstore.New(memstore.Config{})
	c := open.Connect(memstore.ClientConfig{Auth: &memstore.DigestAuth{User: "any", Password: "thing"}})
	defer c.Close()
	_, err := c.CreateStrategy(ctx, storetest.SampleStrategy("s", "t1"))
	require.NoError(t, err, "a server without digest is world-writable")
}

// TestInvalidConfig: New and Connect do not fail, but every operation of a
// client made with a config that is not valid (its own or its server's)
// fails with schedule.ErrInvalid naming every field at fault.
func TestInvalidConfig(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		srv  memstore.Config
		cli  memstore.ClientConfig
		want []string // the problems named; nil: valid
	}{
		{"zero", memstore.Config{}, memstore.ClientConfig{}, nil},
		{"auth on both", memstore.Config{Auth: &memstore.DigestAuth{User: "app", Password: "secret"}},
			memstore.ClientConfig{SessionTimeout: time.Millisecond, Auth: &memstore.DigestAuth{User: "app", Password: "secret"}}, nil},
		{"negative session timeout", memstore.Config{}, memstore.ClientConfig{SessionTimeout: -time.Second},
			[]string{"ClientConfig.SessionTimeout (-1s) must not be negative"}},
		{"client auth", memstore.Config{}, memstore.ClientConfig{Auth: &memstore.DigestAuth{User: "a:b"}},
			[]string{`ClientConfig.Auth.User ("a:b") must not contain ':' or a newline`, "ClientConfig.Auth.Password must not be empty"}},
		{"server auth", memstore.Config{Auth: &memstore.DigestAuth{Password: "secret"}}, memstore.ClientConfig{},
			[]string{"Config.Auth.User must not be empty"}},
		{"both", memstore.Config{Auth: &memstore.DigestAuth{User: "app"}}, memstore.ClientConfig{SessionTimeout: -1},
			[]string{"Config.Auth.Password must not be empty", "ClientConfig.SessionTimeout (-1ns) must not be negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := memstore.New(tc.srv).Connect(tc.cli)
			defer c.Close()
			_, sessErr := c.Session(ctx)
			_, nowErr := c.Now(ctx)
			_, readErr := c.Strategies(ctx)
			_, writeErr := c.CreateTaskType(ctx, storetest.SampleTaskType("t1"))
			if tc.want == nil {
				for _, err := range []error{sessErr, nowErr, readErr, writeErr} {
					require.NoError(t, err)
				}
				return
			}
			for _, err := range []error{sessErr, nowErr, readErr, writeErr} {
				require.ErrorIs(t, err, schedule.ErrInvalid)
				for _, w := range tc.want {
					assert.Contains(t, err.Error(), w)
				}
			}
			var lines []string
			for _, w := range tc.want {
				lines = append(lines, "schedule: invalid: "+w)
			}
			assert.EqualError(t, readErr, "memstore: list /strategy: "+strings.Join(lines, "\n"))
		})
	}
}

// TestConcurrentItemCAS: many goroutines on several clients race to update
// one item from the same version; exactly one wins each version.
func TestConcurrentItemCAS(t *testing.T) {
	f := newFixture(t)
	const clients, perClient, rounds = 4, 8, 50
	cs := make([]*memstore.Client, clients)
	ids := make([]schedule.ServerID, clients)
	for i := range cs {
		cs[i] = f.connect(memstore.ClientConfig{})
		ids[i] = f.register(cs[i], fmt.Sprintf("10.0.0.%d", i+1)).UUID
	}
	snap, err := cs[0].BuildItems(f.ctx, "t1", ids[0], schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"0"})
	require.NoError(t, err)
	it := snap.Items[0]
	for round := range rounds {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []schedule.Item
		start := make(chan struct{})
		for i := range clients * perClient {
			c, id := cs[i%clients], ids[i%clients]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := c.UpdateItem(f.ctx, "t1", id, it, id, "")
				if err != nil {
					assert.ErrorIs(t, err, schedule.ErrConflict)
					return
				}
				mu.Lock()
				winners = append(winners, got)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		require.Len(t, winners, 1, "round %d", round)
		want := it.Epoch
		if winners[0].CurServer != it.CurServer {
			want++
		}
		require.Equal(t, want, winners[0].Epoch)
		require.Equal(t, it.Version+1, winners[0].Version)
		it = winners[0]
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t)
	before := f.srv.Stats()
	c := f.connect(memstore.ClientConfig{})
	srv := f.register(c, "10.0.0.1")
	_, err := c.Servers(f.ctx, "t1")
	require.NoError(t, err)
	_, err = c.BuildItems(f.ctx, "t1", srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, []string{"0"})
	require.NoError(t, err)
	assert.Equal(t, memstore.Stats{Reads: 1, Writes: 1, Multis: 1}, c.Stats())
	after := f.srv.Stats()
	assert.Equal(t, memstore.Stats{Reads: 1, Writes: 1, Multis: 1},
		memstore.Stats{Reads: after.Reads - before.Reads, Writes: after.Writes - before.Writes, Multis: after.Multis - before.Multis})
}

func TestWatchIgnoresHeartbeats(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	srv := f.register(c, "10.0.0.1")
	ch, err := c.Watch(f.ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1"})
	require.NoError(t, err)
	require.NoError(t, c.UpdateServer(f.ctx, srv))
	assert.False(t, fired(ch), "a heartbeat fired the servers watch")
}

func TestRawAccess(t *testing.T) {
	f := newFixture(t)
	c := f.connect(memstore.ClientConfig{})
	srv := f.register(c, "10.0.0.1")
	n, err := f.srv.ReadRaw("/baseTaskType/t1/t1/server/" + string(srv.UUID))
	require.NoError(t, err)
	assert.Equal(t, f.session(c).ID(), n.EphemeralOwner)
	assert.Equal(t, int32(0), n.Version)
	assert.Equal(t, f.clock.Now(), n.Ctime)
	n, err = f.srv.ReadRaw("/baseTaskType/t1")
	require.NoError(t, err)
	assert.Equal(t, []string{"t1"}, n.Children)
	_, err = f.srv.ReadRaw("/nope")
	require.ErrorIs(t, err, schedule.ErrNotFound)
	require.ErrorIs(t, f.srv.WriteRaw("/nope", nil), schedule.ErrNotFound)
}
