package zkstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// TestWatchArmsBesideTheHub: the hub holds its lock across ZooKeeper calls
// while it re-arms the watches that fired (a round trip or more per batch
// under load). A Watch of a new scope arms it beside the hub instead of
// waiting for it: a new manager's first watches waited 1-4 s so, while
// ZooKeeper answered in 100-500 ms. The scope is armed when Watch returns.
func TestWatchArmsBesideTheHub(t *testing.T) {
	t.Parallel()
	admin, s, ctx, scope := serversScope(t)

	h := s.hub
	require.NoError(t, h.armMu.lock(ctx)) // as the hub does while re-arming
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ch, err := s.Watch(short, scope)
	h.armMu.unlock()
	require.NoError(t, err, "Watch waited for the hub's re-arming")
	dir, err := s.p.servers("t1")
	require.NoError(t, err)
	armed := h.isArmed(watchKey{dir, wChild}) || h.isArmed(watchKey{dir, wExist})
	assert.True(t, armed, "the scope is armed when Watch returns")

	_, err = admin.RegisterServer(ctx, sessionOf(t, admin), sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	signalled(t, ctx, ch, "no signal after a server registered")
}

// TestWatchOfAFiredWatchTheHubHasNotTaken: a watch fired and its event
// waits for the hub (busy), so the watch still counts as armed, and a
// Watch of a new scope that needs it leaves it to the hub. The hub lists
// that scope with the event it takes, re-arms the watch and signals the
// scope; the next change is signalled to it too.
func TestWatchOfAFiredWatchTheHubHasNotTaken(t *testing.T) {
	t.Parallel()
	c, admin, s := twoStores(t)
	root := s.cfg.Root
	ctx := ctxT(t, time.Minute)
	_, err := admin.CreateTaskType(ctx, sampleTaskType("t1", 2))
	require.NoError(t, err)
	dir, err := s.p.items("t1")
	require.NoError(t, err)
	conn := superConn(t, c)
	for i := len(root) + 1; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		_, err := conn.Create(dir[:i], nil, 0, zk.WorldACL(zk.PermAll))
		if !errors.Is(err, zk.ErrNodeExists) {
			require.NoError(t, err)
		}
	}
	_, err = s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchItems, Name: "t1"})
	require.NoError(t, err)
	k := watchKey{dir, wData}
	require.True(t, s.hub.isArmed(k))

	h := s.hub
	require.NoError(t, h.armMu.lock(ctx))
	// The event reaches the client and waits for the hub, which cannot
	// take it while the lock is held (in its queue, or in the batch the
	// loop holds): the watch still counts as armed.
	received := h.received.Load()
	_, err = conn.Set(dir, []byte("1"), -1)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "the event received", func() error {
		if h.received.Load() == received {
			return errors.New("no event yet")
		}
		return nil
	})
	before := s.requestStats().Watch
	mark, err := s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchMark, Name: "t1"})
	sent := s.requestStats().Watch - before
	h.armMu.unlock()
	require.NoError(t, err)
	assert.EqualValues(t, 0, sent, "the Watch re-armed a watch the hub had not taken yet")
	signalled(t, ctx, mark, "the hub did not signal the new scope")
	waitFor(t, 10*time.Second, "the watch re-armed", func() error {
		if !h.isArmed(k) {
			return errors.New("not armed")
		}
		return nil
	})
	_, err = conn.Set(dir, []byte("2"), -1)
	require.NoError(t, err)
	signalled(t, ctx, mark, "no signal after the next change")
}

// TestWatchesArmedBeforeAnExpiryCountForNothing: a watch set on a session
// that expired while its request was in flight is not recorded as armed, so
// the new session's arming sets it again.
func TestWatchesArmedBeforeAnExpiryCountForNothing(t *testing.T) {
	ctx := ctxT(t, time.Minute)
	h := newWatchHub(nil)
	a := watchKey{"/a", wData}
	ta, err := h.claim(ctx, a)
	require.NoError(t, err)
	h.answered(ta, true, a)
	assert.True(t, h.isArmed(a))

	b := watchKey{"/b", wExist}
	tb, err := h.claim(ctx, b) // sent on the old session
	require.NoError(t, err)
	h.clearArmed() // the session expired
	assert.False(t, h.isArmed(a))
	h.answered(tb, true, watchKey{"/b", wData}) // the node existed: a data watch
	assert.False(t, h.isArmed(watchKey{"/b", wData}), "armed on the expired session")
	assert.False(t, h.isArmed(b))
	tb, err = h.claim(ctx, b)
	require.NoError(t, err)
	require.NotNil(t, tb, "not armed, yet not claimed again")
}

// TestAFireBeforeTheArmingReadsItsAnswerIsTaken: the client hands out a
// watch request's answer, then the notification of that watch, and the
// hub's loop may take the notification before the arming goroutine has
// read its answer. The watch counts as armed from before its request, so
// the loop takes the event as a fire (and re-arms the watch and signals);
// the arming does not record it armed again afterwards. With the watch
// recorded only after the answer, the loop dropped the event and the
// arming then recorded a watch that had fired: the scope was never
// signalled again (a leader missed every join and crash after that).
func TestAFireBeforeTheArmingReadsItsAnswerIsTaken(t *testing.T) {
	ctx := ctxT(t, time.Minute)
	h := newWatchHub(nil)
	k := watchKey{"/d", wChild}
	tk, err := h.claim(ctx, k)
	require.NoError(t, err)
	_, fired := h.take([]zk.Event{{Type: zk.EventNodeChildrenChanged, Path: "/d"}})
	assert.Equal(t, []watchKey{k}, fired, "the event of a watch being armed was not taken as a fire")
	h.answered(tk, true, k)
	assert.False(t, h.isArmed(k), "a watch that fired recorded armed")
}

// TestClaimWaitsForTheArmingInFlight: a caller that needs a watch another
// caller is arming waits for that request's answer: armed, it sends
// nothing; failed, it arms the watch itself. Returning at once would let
// it read what the watch guards before the watch is set at the server.
func TestClaimWaitsForTheArmingInFlight(t *testing.T) {
	ctx := ctxT(t, time.Minute)
	h := newWatchHub(nil)
	k := watchKey{"/d", wChild}
	for _, ok := range []bool{true, false} {
		first, err := h.claim(ctx, k)
		require.NoError(t, err)
		require.NotNil(t, first)
		got := make(chan *armTicket, 1)
		go func() {
			second, err := h.claim(ctx, k)
			assert.NoError(t, err)
			got <- second
		}()
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err = h.claim(short, k)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "a claim did not wait for the request in flight")
		h.answered(first, ok, k)
		second := <-got
		if ok {
			assert.Nil(t, second, "armed by the first, yet claimed again")
			h.takeArmed(k)
		} else {
			require.NotNil(t, second, "the first failed, yet no claim")
			h.answered(second, false, k)
		}
	}
}

// TestWatchLeavesAScopeDirtiedWhileItArmsToTheHub: a scope found dirty again
// (lost watches) while a Watch call arms it stays dirty after that call, and
// the hub arms it in full.
func TestWatchLeavesAScopeDirtiedWhileItArmsToTheHub(t *testing.T) {
	t.Parallel()
	const rtt = 300 * time.Millisecond
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	admin := openStore(t, testConfig(c, root, testAuth))
	ctx := ctxT(t, time.Minute)
	_, err := admin.CreateTaskType(ctx, sampleTaskType("t1", 2))
	require.NoError(t, err)
	s, _ := slowStore(t, c, root, rtt)
	scope := storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1"}
	h := s.hub

	before := s.requestStats().Watch
	done := make(chan error, 1)
	go func() {
		_, err := s.Watch(ctx, scope)
		done <- err
	}()
	waitFor(t, 10*time.Second, "the Watch arming", func() error {
		if s.requestStats().Watch == before {
			return errors.New("no watch request sent")
		}
		return nil
	})
	h.mu.Lock()
	st := h.scopes[scope]
	h.mu.Unlock()
	require.NotNil(t, st)
	require.NoError(t, h.armMu.lock(ctx)) // the hub arms nothing until the check
	h.markDirty(st)                       // as the hub does when it loses watches
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Watch did not return")
	}
	h.mu.Lock()
	dirty := st.dirty
	h.mu.Unlock()
	h.armMu.unlock()
	assert.True(t, dirty, "the Watch marked clean a scope dirtied while it armed")
	waitFor(t, 10*time.Second, "the hub arms the scope", func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if st.dirty {
			return errors.New("still dirty")
		}
		return nil
	})
}

// TestWatchHonoursContextWhileAnotherWatchArms: a Watch arming a new scope
// waits for its ZooKeeper requests, and here they hang (the proxy forwards
// nothing, as in a partition, for far longer than the test waits: the
// session timeout is 30 s). Another Watch of the scope returns its
// context's error when its context ends, the hanging Watch returns its own
// when it is cancelled, neither leaves its scope subscribed, and once the
// network is back a Watch arms.
func TestWatchHonoursContextWhileAnotherWatchArms(t *testing.T) {
	t.Parallel()
	const prompt = 5 * time.Second // far below the 20 s the client waits for an answer
	c := sharedCluster(t)
	s, _, proxy := proxied(t, c, 30*time.Second)
	ctx := ctxT(t, time.Minute)
	scope := storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1"}
	type result struct {
		ch  <-chan struct{}
		err error
	}
	watch := func(ctx context.Context) <-chan result {
		got := make(chan result, 1)
		go func() {
			ch, err := s.Watch(ctx, scope)
			got <- result{ch, err}
		}()
		return got
	}
	within := func(got <-chan result, what string) result {
		t.Helper()
		select {
		case r := <-got:
			return r
		case <-time.After(prompt):
			t.Fatalf("%s: Watch did not return within %v", what, prompt)
			return result{}
		}
	}

	before := s.requestStats().Watch
	proxy.Blackhole()
	armCtx, cancelArm := context.WithCancel(ctx)
	defer cancelArm()
	arming := watch(armCtx)
	waitFor(t, 10*time.Second, "the first Watch sends its requests", func() error {
		if s.requestStats().Watch == before {
			return errors.New("no watch request sent")
		}
		return nil
	})

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	r := within(watch(short), "beside a Watch whose requests hang")
	require.ErrorIs(t, r.err, context.DeadlineExceeded)
	assert.Nil(t, r.ch)

	cancelArm()
	r = within(arming, "in a request that hangs")
	require.ErrorIs(t, r.err, context.Canceled)
	assert.Nil(t, r.ch)
	s.hub.mu.Lock()
	_, left := s.hub.scopes[scope]
	s.hub.mu.Unlock()
	assert.False(t, left, "an abandoned Watch left its scope subscribed")

	proxy.Pass()
	r = within(watch(ctx), "with the network back")
	require.NoError(t, r.err)
	require.NotNil(t, r.ch)
}

// TestWatchRearmsFiredChildrenInOneRoundTrip: one write that changes many
// children of a watched directory (a leader's distribution rewrites every
// registration under a strategy at once) fires as many data watches in
// every session that follows them. The hub re-arms them pipelined, about
// one round trip for the batch: one round trip each held the arming lock
// (so every Watch call of the store, and the signals of the next batch)
// for seconds when ZooKeeper answered slowly. The client here sees every
// answer rtt late, as over a slow link.
func TestWatchRearmsFiredChildrenInOneRoundTrip(t *testing.T) {
	t.Parallel()
	const n, rtt = 50, 40 * time.Millisecond
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	ctx := ctxT(t, time.Minute)
	admin := openStore(t, testConfig(c, root, testAuth))
	st := schedule.DefaultStrategy("st")
	st.TaskName = "t1"
	_, err := admin.CreateStrategy(ctx, st)
	require.NoError(t, err)
	dir, err := admin.p.strategy("st")
	require.NoError(t, err)
	conn := superConn(t, c)
	var sets []any
	for i := range n {
		p := fmt.Sprintf("%s/child%03d", dir, i)
		_, err := conn.Create(p, []byte("0"), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
		sets = append(sets, &zk.SetDataRequest{Path: p, Data: []byte("1"), Version: -1})
	}

	s, rounds := slowStore(t, c, root, rtt)
	ch, err := s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntimes, Name: "st"})
	require.NoError(t, err)
	armedChildren := func() int {
		require.NoError(t, s.hub.armMu.lock(ctx))
		defer s.hub.armMu.unlock()
		k := 0
		for i := range n {
			if s.hub.isArmed(watchKey{fmt.Sprintf("%s/child%03d", dir, i), wData}) {
				k++
			}
		}
		return k
	}
	require.Equal(t, n, armedChildren(), "Watch armed every child's data watch")

	before := s.requestStats().Watch
	rounds0 := rounds.n.Load()
	t0 := time.Now()
	_, err = conn.Multi(sets...) // one write changes every child
	require.NoError(t, err)
	signalled(t, ctx, ch, "no signal after the children changed")
	waitFor(t, 30*time.Second, "every fired watch re-armed", func() error {
		if got := s.requestStats().Watch - before; got < n {
			return fmt.Errorf("%d of %d re-armed", got, n)
		}
		if k := armedChildren(); k < n {
			return fmt.Errorf("%d of %d armed", k, n)
		}
		return nil
	})
	took, trips := time.Since(t0), rounds.n.Load()-rounds0
	t.Logf("%d fired watches re-armed %v after the write in %d round trips (each %v)", n, took, trips, rtt)
	// Pipelined: the notifications arrive, the re-arms go out together (one
	// round trip, plus the odd ping or probe); one at a time: n round trips.
	assert.Less(t, trips, int64(n/2), "re-arming %d fired watches took %d round trips", n, trips)
}

// Directories whose watches fire together are re-armed together: several
// scopes' children watches (the servers of several runtimes, note boxes,
// registrations) fired by one write were re-armed one round trip after the
// other, holding armMu (so every Watch call of the store) and delaying the
// batch's signals by as many round trips.
func TestWatchRearmsFiredDirectoriesTogether(t *testing.T) {
	t.Parallel()
	const n, rtt = 40, 40 * time.Millisecond
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	ctx := ctxT(t, time.Minute)
	admin := openStore(t, testConfig(c, root, testAuth))
	conn := superConn(t, c)
	s, rounds := slowStore(t, c, root, rtt)
	var dirs []string
	var chans []<-chan struct{}
	var creates []any
	for i := range n {
		name := fmt.Sprintf("st%02d", i)
		st := schedule.DefaultStrategy(name)
		st.TaskName = "t1"
		_, err := admin.CreateStrategy(ctx, st)
		require.NoError(t, err)
		dir, err := admin.p.strategy(name)
		require.NoError(t, err)
		ch, err := s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntimes, Name: name})
		require.NoError(t, err)
		dirs, chans = append(dirs, dir), append(chans, ch)
		creates = append(creates, &zk.CreateRequest{Path: dir + "/child", Data: []byte("0"), Acl: zk.WorldACL(zk.PermAll)})
	}
	armed := func() int {
		k := 0
		for _, d := range dirs {
			if s.hub.isArmed(watchKey{d, wChild}) {
				k++
			}
		}
		return k
	}
	require.Equal(t, n, armed(), "Watch armed every directory's children watch")

	rounds0 := rounds.n.Load()
	_, err := conn.Multi(creates...) // one write fires every directory's watch
	require.NoError(t, err)
	for i, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no signal for %s", dirs[i])
		}
	}
	// Each signal is sent after its scope's watches were re-armed. One at
	// a time, that takes two round trips per directory (its children,
	// then the new child's data): 2n. Together, two per batch of events
	// (the first event wakes the hub, the rest come in the next batches):
	// 6-21 in runs of the package under -race, pings and probes included,
	// so the bound is n, half of one at a time.
	require.Equal(t, n, armed(), "every fired directory re-armed before its signal")
	trips := rounds.n.Load() - rounds0
	t.Logf("%d fired directories re-armed in %d round trips (each %v)", n, trips, rtt)
	assert.Less(t, trips, int64(n), "re-arming %d fired directories took %d round trips", n, trips)
}

// roundTrips counts the client's round trips on a connection: a write that
// follows an answer the client has read starts a new one.
type roundTrips struct {
	n       atomic.Int64
	sawRead atomic.Bool
}

// slowAnswers wraps dial so that every byte from the server reaches the
// client d late, without limiting how many are on the way (a long link,
// slowStore opens a store on root whose client sees every answer rtt late
// (see slowAnswers), and the count of its round trips.
func slowStore(t *testing.T, c *zktest.Cluster, root string, rtt time.Duration) (*Store, *roundTrips) {
	t.Helper()
	cfg := testConfig(c, root, testAuth)
	rounds := &roundTrips{}
	cfg.Dialer = slowAnswers(cfg.Dialer, rtt, rounds)
	return openStore(t, cfg), rounds
}

// not a slow one): requests sent together are answered together.
func slowAnswers(dial zk.Dialer, d time.Duration, rounds *roundTrips) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := dial(network, address, timeout)
		if err != nil {
			return nil, err
		}
		sc := &slowConn{Conn: c, d: d, in: make(chan slowChunk, 4096), rounds: rounds}
		go sc.pump()
		return sc, nil
	}
}

type slowChunk struct {
	at   time.Time
	data []byte
	err  error
}

type slowConn struct {
	net.Conn
	d    time.Duration
	in   chan slowChunk
	rest []byte // of the chunk being read

	rounds *roundTrips
}

func (c *slowConn) Write(p []byte) (int, error) {
	if c.rounds.sawRead.Swap(false) {
		c.rounds.n.Add(1)
	}
	return c.Conn.Write(p)
}

func (c *slowConn) pump() {
	for {
		buf := make([]byte, 64<<10)
		k, err := c.Conn.Read(buf)
		c.in <- slowChunk{at: time.Now().Add(c.d), data: buf[:k], err: err}
		if err != nil {
			close(c.in)
			return
		}
	}
}

func (c *slowConn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		ch, ok := <-c.in
		if !ok {
			return 0, net.ErrClosed
		}
		if wait := time.Until(ch.at); wait > 0 {
			t := time.NewTimer(wait)
			<-t.C
		}
		if len(ch.data) == 0 {
			return 0, ch.err
		}
		c.rest = ch.data
	}
	k := copy(p, c.rest)
	c.rest = c.rest[k:]
	c.rounds.sawRead.Store(true)
	return k, nil
}

// SetReadDeadline is ignored: the wrapped connection's deadline would end
// the pump's read, not this one.
func (c *slowConn) SetReadDeadline(time.Time) error { return nil }

// TestWatchOfAnArmedScopeWaitsForNoArming: a scope that another caller of
// the store watches already is armed (the hub keeps it so): a second Watch
// of it sends nothing and returns at once, even while the hub holds its
// arming lock (re-arming fired watches, a round trip or more under load).
// A manager's Watch of the configuration, which its factory watches
// already, waited for that lock at every start. A change after it returns
// is signalled to it like to the first.
func TestWatchOfAnArmedScopeWaitsForNoArming(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	s := openStore(t, testConfig(c, root, testAuth))
	admin := openStore(t, testConfig(c, root, testAuth))
	ctx := ctxT(t, time.Minute)
	scope := storekit.WatchScope{Kind: storekit.WatchConfig}
	_, err := s.Watch(ctx, scope)
	require.NoError(t, err)

	h := s.hub
	require.NoError(t, h.armMu.lock(ctx)) // as the hub does while re-arming
	before := s.requestStats()
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ch, err := s.Watch(short, scope)
	after := s.requestStats()
	h.armMu.unlock()
	require.NoError(t, err, "the second Watch waited for the arming lock")
	assert.Equal(t, before.Watch, after.Watch, "no watch request for an armed scope")

	_, err = admin.CreateTaskType(ctx, sampleTaskType("t1", 2))
	require.NoError(t, err)
	signalled(t, ctx, ch, "no signal after a change")
}

// TestFollowTarget: a watcher that does not come first watches the first
// child only; one that comes first, or is not listed, every child.
func TestFollowTarget(t *testing.T) {
	a, b, c := "x$0000000003", "x$0000000007", "x$0000000012"
	for _, tc := range []struct {
		name      string
		names     []string
		me        string
		first     string
		whole     bool
		knownLast bool
	}{
		{name: "none", names: nil, me: a, whole: true},
		{name: "me first", names: []string{c, a, b}, me: a, whole: true},
		{name: "behind the first", names: []string{c, b, a}, me: c, first: a},
		{name: "second", names: []string{b, a}, me: b, first: a},
		{name: "not listed", names: []string{a, b}, me: c, whole: true},
		{name: "unsequenced sorts first", names: []string{a, "odd"}, me: a, first: "odd"},
		{name: "unsequenced sorts last (knownFirst)", names: []string{"odd", a}, me: "odd", first: a, knownLast: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.names)
			first, whole := followTarget(tc.names, tc.me, tc.knownLast)
			assert.Equal(t, tc.first, first)
			assert.Equal(t, tc.whole, whole)
			assert.Equal(t, in, tc.names, "the listing is left as it was")
		})
	}
}

// armedUnder returns the watches s's hub holds armed on dir and its
// children (every watch when dir is ""), taken between two armings.
func armedUnder(t *testing.T, ctx context.Context, s *Store, dir string) []watchKey {
	t.Helper()
	require.NoError(t, s.hub.armMu.lock(ctx))
	defer s.hub.armMu.unlock()
	s.hub.armedMu.Lock()
	defer s.hub.armedMu.Unlock()
	var out []watchKey
	for k, on := range s.hub.armed {
		if on != nil && (dir == "" || k.path == dir || parentOf(k.path) == dir) {
			out = append(out, k)
		}
	}
	return out
}

// TestServersWatchForOneServer: a servers watch for a server that does not
// lead holds one watch, on the leader's node, which its heartbeats and
// other servers' joins do not fire; the leader leaving fires it, and the
// server, leading now, watches every join.
func TestServersWatchForOneServer(t *testing.T) {
	_, other, s := twoStores(t)
	ctx := ctxT(t, time.Minute)
	_, err := other.CreateTaskType(ctx, sampleTaskType("t1", 4))
	require.NoError(t, err)
	lead, err := other.RegisterServer(ctx, sessionOf(t, other), sampleServer("t1", "10.0.0.1"))
	require.NoError(t, err)
	me, err := s.RegisterServer(ctx, sessionOf(t, s), sampleServer("t1", "10.0.0.2"))
	require.NoError(t, err)
	dir, err := s.p.servers("t1")
	require.NoError(t, err)
	leadPath, err := s.p.server("t1", lead.UUID)
	require.NoError(t, err)

	ch, err := s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1", Server: me.UUID})
	require.NoError(t, err)
	assert.ElementsMatch(t, []watchKey{{leadPath, wChild}}, armedUnder(t, ctx, s, dir), "a follower: the leader's deletion only")

	// A join and the leader's heartbeat reach no watch of s: they arm
	// nothing new and fire nothing (ZooKeeper sends s no event at all).
	_, err = other.RegisterServer(ctx, sessionOf(t, other), sampleServer("t1", "10.0.0.3"))
	require.NoError(t, err)
	require.NoError(t, other.UpdateServer(ctx, lead))
	assert.ElementsMatch(t, []watchKey{{leadPath, wChild}}, armedUnder(t, ctx, s, dir), "still the leader's deletion only")

	select {
	case <-ch:
		t.Fatal("the watch fired for a join or a heartbeat")
	default:
	}
	require.NoError(t, other.UnregisterServer(ctx, "t1", lead.UUID))
	signalled(t, ctx, ch, "no signal after the leader left")
	assert.ElementsMatch(t, []watchKey{{dir, wChild}}, armedUnder(t, ctx, s, dir), "leading now: every join and leave")
	_, err = other.RegisterServer(ctx, sessionOf(t, other), sampleServer("t1", "10.0.0.4"))
	require.NoError(t, err)
	signalled(t, ctx, ch, "no signal after a server joined the leader")

	_, err = s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1", Server: "no/such"})
	require.ErrorIs(t, err, schedule.ErrInvalid, "a server id that is not one")
}

// TestFactoriesWatchForOneFactory: a factories watch for one factory holds
// two watches, on its own node's deletion and on its machine's state,
// whatever the other factories do.
func TestFactoriesWatchForOneFactory(t *testing.T) {
	_, other, s := twoStores(t)
	ctx := ctxT(t, time.Minute)
	me, err := s.RegisterFactory(ctx, sessionOf(t, s), schedule.Factory{IP: "10.0.0.2", HostName: "me"})
	require.NoError(t, err)
	_, err = s.Watch(ctx, storekit.WatchScope{Kind: storekit.WatchFactories, Factory: me.UUID})
	require.NoError(t, err)
	_, err = other.RegisterFactory(ctx, sessionOf(t, other), schedule.Factory{IP: "10.0.0.3", HostName: "other"})
	require.NoError(t, err)
	own, err := s.p.factory(me.UUID)
	require.NoError(t, err)
	state, err := s.p.factoryState("10.0.0.2", "me")
	require.NoError(t, err)
	// The state node does not exist yet: watched for its creation.
	assert.ElementsMatch(t, []watchKey{{own, wChild}, {state, wExist}}, armedUnder(t, ctx, s, ""), "the watches armed")
}

// signalled waits for a signal on ch, failing with what when ctx ends first.
func signalled(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal(what)
	}
}

// TestWatchThatArmsALostScopeSignalsTheOthers: a scope that lost its
// watches (an expiry) is armed again by whoever comes first: the hub, which
// then signals its subscribers, or a new Watch of it. Armed by the Watch,
// the hub found it armed and signalled no one, so a subscriber from before
// never learned that changes meanwhile may have fired nothing. The Watch
// now signals them.
func TestWatchThatArmsALostScopeSignalsTheOthers(t *testing.T) {
	t.Parallel()
	_, s, ctx, scope := serversScope(t)
	first, err := s.Watch(ctx, scope)
	require.NoError(t, err)

	h := s.hub
	require.NoError(t, h.armMu.lock(ctx)) // the hub arms nothing meanwhile
	h.mu.Lock()
	st := h.scopes[scope]
	h.mu.Unlock()
	h.markDirty(st) // as the hub does when the session expires
	second, err := s.Watch(ctx, scope)
	h.armMu.unlock()
	require.NoError(t, err)
	select {
	case <-first:
	default:
		t.Fatal("the first subscriber was not told of the scope armed again")
	}
	select {
	case <-second:
		t.Fatal("the Watch that armed the scope signalled itself")
	default:
	}
}

// serversScope opens two stores on one root with the task type t1 (made by
// admin), and returns the scope of t1's servers.
func serversScope(t *testing.T) (admin, s *Store, ctx context.Context, scope storekit.WatchScope) {
	t.Helper()
	_, admin, s = twoStores(t)
	ctx = ctxT(t, time.Minute)
	_, err := admin.CreateTaskType(ctx, sampleTaskType("t1", 2))
	require.NoError(t, err)
	return admin, s, ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: "t1"}
}
