package zkstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Watches.
//
// A scope (storekit.WatchScope) is a set of directories: for each, the store
// keeps a children watch, and as the scope needs a data watch on the
// directory itself and on each child. ZooKeeper watches fire once; the hub
// re-arms exactly the watch that fired (and data watches on new children),
// and only then signals the scope's channels, so a change between the firing
// and the re-arming is seen by the receiver's re-read. Events come from
// go-zookeeper's event callback, which receives every event with its path:
// there is no goroutine per watch, and the channels go-zookeeper returns per
// watch (buffered, closed after firing) are ignored. A missing directory is
// watched with exists until it appears.
//
// Every Watch caller of one scope shares its ZooKeeper watches, and scopes
// that overlap share the watches on their common nodes; when such a watch
// fires, every interested scope re-arms what it needs of it. When a
// session expires, ZooKeeper drops every watch: the hub re-arms every active
// scope on the new session and signals every channel. Watches survive a mere
// disconnect (the client re-registers them on reconnect, and the server
// fires those whose nodes changed meanwhile).

type wtype uint8

const (
	wData  wtype = iota // getData, or exists on an existing node
	wExist              // exists on a missing node
	wChild              // getChildren
)

type watchKey struct {
	path string
	t    wtype
}

// dirSpec is one directory of a scope.
type dirSpec struct {
	path      string
	self      bool // watch the directory node's own data
	selfOnly  bool // only that: no children watch (their names are not read)
	childData bool // watch the data of each child
	// follow, when set, is the watcher's own child (its server or
	// factory id), and the directory is followed for it alone: while
	// another child comes first in sequence order, only that first child
	// is watched (its deletion); while the watcher's child comes first,
	// or is not there, every join and leave is (see followTarget).
	follow string
	// knownFirst orders the children for follow as the store lists them
	// (sortBySeq).
	knownFirst bool
}

// followed reports whether k is the watch a follow directory sets on its
// first child.
func (d dirSpec) followed(k watchKey) bool {
	return d.follow != "" && k.t == wChild && parentOf(k.path) == d.path
}

type scopeState struct {
	dirs  []dirSpec
	subs  map[*watchSub]struct{}
	dirty bool // must be armed in full (new, or after lost watches)
	// soiled counts the times the scope was found dirty again (lost
	// watches): an arming that began before leaves it dirty.
	soiled uint64
	// arming counts the Watch calls arming the scope now: the hub leaves
	// it to them, and they poke the hub if it is still dirty after.
	arming int
}

// soil marks st for a full arming. Caller holds h.mu.
func (st *scopeState) soil() {
	st.dirty = true
	st.soiled++
}

type watchSub struct {
	ch   chan struct{}
	stop func() bool
}

type watchHub struct {
	s *Store

	qmu   sync.Mutex // guards queue
	queue []zk.Event
	wake  chan struct{}
	// received counts the node events queued (tests wait for one).
	received atomic.Uint64

	mu     sync.Mutex // guards scopes and closed
	scopes map[storekit.WatchScope]*scopeState
	closed bool

	// armMu is the loop's: it holds it while it applies a batch. Watch
	// calls arm their scopes beside it, without it (see Watch).
	armMu armLock
	// armed are the watches set and not yet fired, and those being set (a
	// request in flight: claim). armedGen counts the times they were all
	// lost (an expired session). Watch calls and the loop arm
	// concurrently, so the map has a lock of its own.
	armedMu  sync.Mutex
	armed    map[watchKey]*armEntry
	armedGen uint64
}

// armEntry is a watch set, or being set.
//
// A watch counts as armed from the moment its request is about to be sent,
// so that the loop takes an event of it as a fire even when the event comes
// before the arming goroutine has read the answer (the client hands out the
// answer, then the notifications that follow it). Another caller that
// needs the watch waits for the answer (settled, claim): it must not read
// what the watch guards before the watch is set at the server.
type armEntry struct {
	done chan struct{} // closed when the request is answered
	ok   bool          // the request set the watch (written before done closes)
}

// armTicket is the right to send one watch request for k.
type armTicket struct {
	k   watchKey
	e   *armEntry
	gen uint64
}

// isArmed reports whether k is armed or being armed.
func (h *watchHub) isArmed(k watchKey) bool {
	h.armedMu.Lock()
	defer h.armedMu.Unlock()
	return h.armed[k] != nil
}

// settled reports whether k is armed, waiting for a request in flight.
func (h *watchHub) settled(ctx context.Context, k watchKey) (bool, error) {
	h.armedMu.Lock()
	e := h.armed[k]
	h.armedMu.Unlock()
	if e == nil {
		return false, nil
	}
	select {
	case <-e.done:
		return e.ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// claim returns the ticket to arm k, or nil when k is armed (after waiting
// for a request in flight; if that one failed, k is claimed again).
func (h *watchHub) claim(ctx context.Context, k watchKey) (*armTicket, error) {
	for {
		h.armedMu.Lock()
		e := h.armed[k]
		if e == nil {
			e = &armEntry{done: make(chan struct{})}
			h.armed[k] = e
			t := &armTicket{k: k, e: e, gen: h.armedGen}
			h.armedMu.Unlock()
			return t, nil
		}
		h.armedMu.Unlock()
		select {
		case <-e.done:
			if e.ok {
				return nil, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// answered ends t's request: ok, the watch is set on key set (t's key, or
// another one the answer tells: an exists call on a node that exists sets
// a data watch); not ok, nothing is armed. A watch set on a session that
// expired since the ticket was taken is not recorded.
func (h *watchHub) answered(t *armTicket, ok bool, set watchKey) {
	h.armedMu.Lock()
	defer h.armedMu.Unlock()
	mine := h.armed[t.k] == t.e
	if mine && (!ok || set != t.k) {
		delete(h.armed, t.k)
	}
	if ok && set != t.k && t.gen == h.armedGen && h.armed[set] == nil {
		h.armed[set] = t.e
	}
	t.e.ok = ok
	close(t.e.done)
}

// takeArmed forgets k and reports whether it was armed (or being armed).
func (h *watchHub) takeArmed(k watchKey) bool {
	h.armedMu.Lock()
	defer h.armedMu.Unlock()
	was := h.armed[k] != nil
	delete(h.armed, k)
	return was
}

func (h *watchHub) clearArmed() {
	h.armedMu.Lock()
	defer h.armedMu.Unlock()
	clear(h.armed)
	h.armedGen++
}

// armLock is a mutex that a waiter can give up on: the loop holds it
// across ZooKeeper calls (seconds while a connection hangs).
type armLock chan struct{}

// lock takes the lock, or returns ctx's error if ctx ends first.
func (l armLock) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l armLock) unlock() { <-l }

func newWatchHub(s *Store) *watchHub {
	return &watchHub{
		s:      s,
		wake:   make(chan struct{}, 1),
		scopes: make(map[storekit.WatchScope]*scopeState),
		armMu:  make(armLock, 1),
		armed:  make(map[watchKey]*armEntry),
	}
}

// enqueue is called from go-zookeeper's event callback: it must not block.
func (h *watchHub) enqueue(ev zk.Event) {
	switch ev.Type {
	case zk.EventSession:
		if ev.State != zk.StateExpired && ev.State != zk.StateHasSession {
			return
		}
	case zk.EventNodeCreated, zk.EventNodeDeleted, zk.EventNodeDataChanged,
		zk.EventNodeChildrenChanged, zk.EventNotWatching:
	default:
		return
	}
	h.qmu.Lock()
	h.queue = append(h.queue, ev)
	h.qmu.Unlock()
	if ev.Type != zk.EventSession {
		h.received.Add(1)
	}
	h.poke()
}

func (h *watchHub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Watch implements storekit.Watcher.
func (s *Store) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	const op = "watch"
	dirs, err := s.scopeDirs(scope)
	if err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, opErr(op, dirs[0].path, schedule.ErrClosed, nil)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := s.hub
	sub := &watchSub{ch: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, opErr(op, dirs[0].path, schedule.ErrClosed, nil)
	}
	st := h.scopes[scope]
	if st == nil {
		st = &scopeState{dirs: dirs, subs: make(map[*watchSub]struct{}), dirty: true}
		h.scopes[scope] = st
	}
	// Others watch the scope: if it is dirty, it lost watches, and they
	// learn of the arming below as the hub would have told them.
	others := len(st.subs) > 0
	st.subs[sub] = struct{}{}
	shared := !st.dirty
	if !shared {
		st.arming++
	}
	h.mu.Unlock()

	// Arm (or complete) the scope's watches before returning, so that every
	// change after Watch returns is signalled. A scope that other callers
	// watch already is armed (the hub keeps it so): nothing to send, and
	// nothing to wait for. Its watches are armed, or one fired and the hub
	// re-arms it and then signals every subscriber, this one included (or
	// marks the scope dirty and does so later). Without a session, the hub
	// arms the scope (and signals it) when the session is back.
	//
	// The scope is armed here, beside the loop and other Watch calls, not
	// after them: a Watch that waited for the loop's re-arming of every
	// watch that fired in the store waited a round trip or more for each
	// batch under load (a new manager's first watches took 1-4 s while
	// ZooKeeper answered in 100-500 ms). Arming beside the loop is safe
	// because the loop lists the scopes and takes the fired watches in one
	// step under h.mu (take): a watch this call finds armed either fires
	// later, when the loop lists this scope and re-arms it and signals, or
	// fired already and was taken, and this call arms it again.
	if !shared {
		switch {
		case !s.hasSession():
			err = zk.ErrConnectionClosed
		default:
			err = h.armScope(ctx, st, true)
		}
		h.mu.Lock()
		st.arming--
		again := st.dirty && st.arming == 0
		h.mu.Unlock()
		switch {
		case again:
			// Lost watches meanwhile (left to this call), or this
			// call failed: the loop arms the scope, and signals it.
			h.poke()
		case err == nil && others:
			// Armed again after lost watches: the changes since may
			// have fired nothing, and the hub, which found the scope
			// armed, signals no one.
			h.signalExcept(st, sub)
		}
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Given up (context.DeadlineExceeded passes for a network
		// error): the caller is gone.
		h.unsubscribe(scope, sub)
		return nil, ctx.Err()
	case isConnLoss(err) && !s.isClosed():
		// The hub completes the arming when the connection is back, and
		// signals the channel then.
		s.log.Warn("zkstore: watch armed later (connection lost)", keyPath, dirs[0].path, "err", err)
		h.poke()
	default:
		h.unsubscribe(scope, sub)
		return nil, s.wrapErr(op, dirs[0].path, err)
	}
	stop := context.AfterFunc(ctx, func() { h.unsubscribe(scope, sub) })
	h.mu.Lock()
	sub.stop = stop
	h.mu.Unlock()
	return sub.ch, nil
}

// scopeDirs validates a scope and returns its directories.
func (s *Store) scopeDirs(scope storekit.WatchScope) ([]dirSpec, error) {
	switch scope.Kind {
	case storekit.WatchServers:
		p, err := s.p.servers(scope.Name)
		if err != nil {
			return nil, err
		}
		d := dirSpec{path: p}
		if scope.Server != "" {
			if _, err := s.p.server(scope.Name, scope.Server); err != nil {
				return nil, err
			}
			d.follow = string(scope.Server)
		}
		return []dirSpec{d}, nil
	case storekit.WatchItems:
		p, err := s.p.items(scope.Name)
		if err != nil {
			return nil, err
		}
		return []dirSpec{{path: p, self: true, childData: true}}, nil
	case storekit.WatchMark:
		p, err := s.p.items(scope.Name)
		if err != nil {
			return nil, err
		}
		return []dirSpec{{path: p, self: true, selfOnly: true}}, nil
	case storekit.WatchNotes:
		p, err := s.p.noteBox(scope.Name, scope.Server)
		if err != nil {
			return nil, err
		}
		return []dirSpec{{path: p}}, nil
	case storekit.WatchConfig:
		return []dirSpec{{path: s.p.taskTypes(), childData: true}, {path: s.p.strategies(), childData: true}}, nil
	case storekit.WatchFactories:
		if scope.Factory != "" {
			return s.factoryDirs(scope.Factory)
		}
		return []dirSpec{{path: s.p.factories()}, {path: s.p.factoryStates(), childData: true}}, nil
	case storekit.WatchStrategyRuntimes:
		p, err := s.p.strategy(scope.Name)
		if err != nil {
			return nil, err
		}
		return []dirSpec{{path: p, childData: true}}, nil
	case storekit.WatchStrategyRuntime:
		// The strategy's first registration (or its children, while the
		// watched one comes first), and the data of the watched one: two
		// watches, whatever the number of registrations.
		p, err := s.p.strategy(scope.Name)
		if err != nil {
			return nil, err
		}
		rp, err := s.p.strategyRuntime(scope.Name, scope.Factory)
		if err != nil {
			return nil, err
		}
		return []dirSpec{{path: p, follow: string(scope.Factory), knownFirst: true}, {path: rp, self: true, selfOnly: true}}, nil
	}
	return nil, invalidf("watch scope kind %d is unknown", scope.Kind)
}

// factoryDirs are the watches of WatchFactories for one factory (id): its
// own node's deletion (a children watch on it: an ephemeral node has no
// children, and its data changes fire nothing) and the data of its
// machine's state (the IP and host name its id begins with): two watches,
// whatever the number of factories.
func (s *Store) factoryDirs(id schedule.FactoryID) ([]dirSpec, error) {
	own, err := s.p.factory(id)
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(string(id), sep, 3)
	state, err := s.p.factoryState(parts[0], parts[1])
	if err != nil {
		return nil, err
	}
	return []dirSpec{{path: own}, {path: state, self: true, selfOnly: true}}, nil
}

func (h *watchHub) unsubscribe(scope storekit.WatchScope, sub *watchSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.scopes[scope]
	if st == nil {
		return
	}
	if _, ok := st.subs[sub]; !ok {
		return
	}
	delete(st.subs, sub)
	close(sub.ch)
	if len(st.subs) == 0 {
		// Its armed watches stay until they fire; they are not re-armed.
		delete(h.scopes, scope)
	}
}

// closeAll closes every channel (at Close, after the loop has ended).
func (h *watchHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for scope, st := range h.scopes {
		for sub := range st.subs {
			if sub.stop != nil {
				sub.stop()
			}
			close(sub.ch)
		}
		delete(h.scopes, scope)
	}
}

func (h *watchHub) signal(st *scopeState) { h.signalExcept(st, nil) }

// signalExcept signals every subscriber of st but not.
func (h *watchHub) signalExcept(st *scopeState, not *watchSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range st.subs {
		if sub == not {
			continue
		}
		select {
		case sub.ch <- struct{}{}:
		default:
		}
	}
}

// loop applies events: it re-arms what fired and signals the scopes.
func (h *watchHub) loop() {
	s := h.s
	retry := s.clock.NewTimer(time.Hour)
	retry.Stop()
	backoff := retryBase
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-h.wake:
		case <-retry.C():
		}
		h.qmu.Lock()
		evs := h.queue
		h.queue = nil
		h.qmu.Unlock()
		failed := h.apply(evs)
		if failed {
			retry.Reset(backoff)
			backoff = min(backoff*2, 5*time.Second)
		} else {
			backoff = retryBase
		}
	}
}

// take lists the active scopes and takes the watches that evs fired (or
// lost) in one step under h.mu, which Watch holds to add a scope: a Watch
// call that finds a watch armed (and so leaves it to the hub) added its
// scope before, and the scope is listed here with the watch it needs.
func (h *watchHub) take(evs []zk.Event) (scopes []*scopeState, fired []watchKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	scopes = make([]*scopeState, 0, len(h.scopes))
	for _, st := range h.scopes {
		scopes = append(scopes, st)
	}
	for _, ev := range evs {
		switch ev.Type {
		case zk.EventSession:
			if ev.State == zk.StateExpired {
				// Every watch of the session is gone.
				h.clearArmed()
				for _, st := range scopes {
					st.soil()
				}
			}
		case zk.EventNotWatching:
			for _, t := range []wtype{wData, wExist, wChild} {
				h.takeArmed(watchKey{ev.Path, t})
			}
			for _, st := range scopes {
				if interested(st, watchKey{ev.Path, wData}) || interested(st, watchKey{ev.Path, wChild}) {
					st.soil()
				}
			}
		default:
			for _, t := range firedTypes(ev.Type) {
				k := watchKey{ev.Path, t}
				if h.takeArmed(k) {
					fired = append(fired, k)
				}
			}
		}
	}
	return scopes, fired
}

// apply processes a batch of events; it reports whether some arming failed
// (to be retried).
func (h *watchHub) apply(evs []zk.Event) (failed bool) {
	s := h.s
	if h.armMu.lock(s.ctx) != nil {
		return false // the store is closing
	}
	defer h.armMu.unlock()
	scopes, fired := h.take(evs)

	// While the client has no session, nothing is sent (requests would only
	// queue, holding armMu): the scopes are re-armed in full when the
	// session is back (its HasSession event wakes the loop). The first
	// failure of a batch stops its requests the same way.
	down := !s.hasSession()
	toSignal := make(map[*scopeState]bool)
	// The data watches of children that fired are re-armed together at
	// the end, pipelined (armDataMany): one round trip for the batch, not
	// one each. A write of many registrations or items at once fires as
	// many watches in every session that follows them, and a batch
	// re-armed one round trip at a time held the loop (and the next
	// batch's signals) for seconds under load.
	var childPaths []string
	childScopes := make(map[*scopeState]bool)
	// The directories that fired are re-armed concurrently too (armDirs):
	// a batch often holds several (the servers, a note box, the
	// registrations of a strategy...), and each re-armed one round trip
	// after the other delayed the batch's signals by as many round trips.
	dirScopes := make(map[dirSpec][]*scopeState)
	var dirs []dirSpec
	for _, k := range fired {
		var want []*scopeState
		for _, st := range scopes {
			if interested(st, k) {
				want = append(want, st)
			}
		}
		// Every interested scope re-arms what it needs: scopes that share a
		// node may need different watches on it (the config scope watches
		// a strategy node's data, that strategy's runtimes scope only its
		// children). Re-arming skips what is armed already.
		for _, st := range want {
			toSignal[st] = true
			d, child := rearmTarget(st, k)
			switch {
			case d != nil:
				if _, ok := dirScopes[*d]; !ok {
					dirs = append(dirs, *d)
				}
				dirScopes[*d] = append(dirScopes[*d], st)
			case child:
				childPaths = append(childPaths, k.path)
				childScopes[st] = true
			}
		}
	}
	if len(dirs) > 0 {
		errs := make([]error, len(dirs))
		if down {
			for i := range errs {
				errs[i] = zk.ErrConnectionClosed // not sent
			}
		} else {
			errs = h.armDirs(s.ctx, dirs, false)
		}
		for i, err := range errs {
			if err == nil {
				continue
			}
			if s.isClosed() {
				return false
			}
			if !down {
				s.log.Debug("zkstore: re-arming a watch failed; will retry", keyPath, dirs[i].path, "err", err)
			}
			failed, down = true, true
			for _, st := range dirScopes[dirs[i]] {
				h.markDirty(st)
			}
		}
	}
	if len(childPaths) > 0 {
		err := zk.ErrConnectionClosed // down: not sent
		if !down {
			slices.Sort(childPaths)
			err = h.armDataMany(s.ctx, slices.Compact(childPaths))
		}
		if err != nil {
			if s.isClosed() {
				return false
			}
			if !down {
				s.log.Debug("zkstore: re-arming watches failed; will retry", keyPath, childPaths[0], "err", err)
			}
			failed, down = true, true
			for st := range childScopes {
				h.markDirty(st)
			}
		}
	}
	// Scopes to arm in full (new while the session was down, or after an
	// expiry: every scope at once) are armed concurrently as well.
	var dirty []*scopeState
	for _, st := range scopes {
		if !down && h.needsArming(st) {
			dirty = append(dirty, st)
		}
	}
	for i, err := range h.armScopes(s.ctx, dirty) {
		if err != nil {
			if s.isClosed() {
				return false
			}
			s.log.Debug("zkstore: arming watches failed; will retry", keyPath, dirty[i].dirs[0].path, "err", err)
			failed = true
			continue
		}
		toSignal[dirty[i]] = true
	}
	for st := range toSignal {
		h.signal(st)
	}
	return failed
}

// armDirs arms several directories concurrently (their requests go out
// together on the one connection) and returns each one's error.
func (h *watchHub) armDirs(ctx context.Context, dirs []dirSpec, full bool) []error {
	errs := make([]error, len(dirs))
	if len(dirs) == 1 {
		errs[0] = h.armDir(ctx, dirs[0], full)
		return errs
	}
	var wg sync.WaitGroup
	for i, d := range dirs {
		wg.Go(func() { errs[i] = h.armDir(ctx, d, full) })
	}
	wg.Wait()
	return errs
}

// armScopes arms several scopes in full, concurrently, and returns each
// one's error.
func (h *watchHub) armScopes(ctx context.Context, sts []*scopeState) []error {
	errs := make([]error, len(sts))
	if len(sts) == 1 {
		errs[0] = h.armScope(ctx, sts[0], true)
		return errs
	}
	var wg sync.WaitGroup
	for i, st := range sts {
		wg.Go(func() { errs[i] = h.armScope(ctx, st, true) })
	}
	wg.Wait()
	return errs
}

func (h *watchHub) markDirty(st *scopeState) {
	h.mu.Lock()
	st.soil()
	h.mu.Unlock()
}

// needsArming reports whether the loop must arm st in full: it is dirty,
// subscribed to, and no Watch call arms it now.
func (h *watchHub) needsArming(st *scopeState) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return st.dirty && len(st.subs) > 0 && st.arming == 0
}

// firedTypes lists the watch types an event fires (as go-zookeeper does).
func firedTypes(t zk.EventType) []wtype {
	switch t {
	case zk.EventNodeCreated:
		return []wtype{wExist}
	case zk.EventNodeDataChanged:
		return []wtype{wExist, wData}
	case zk.EventNodeChildrenChanged:
		return []wtype{wChild}
	case zk.EventNodeDeleted:
		return []wtype{wExist, wData, wChild}
	}
	return nil
}

// interested reports whether scope st watches key k.
func interested(st *scopeState, k watchKey) bool {
	for _, d := range st.dirs {
		if k.path == d.path {
			return true
		}
		if d.childData && k.t == wData && parentOf(k.path) == d.path {
			return true
		}
		if d.followed(k) {
			return true
		}
	}
	return false
}

// rearmTarget says what key k of scope st needs re-armed after it fired:
// one of its directories (d), or the data watch of a child (child), or
// nothing. It is pure.
func rearmTarget(st *scopeState, k watchKey) (d *dirSpec, child bool) {
	for i := range st.dirs {
		if k.path == st.dirs[i].path {
			return &st.dirs[i], false
		}
	}
	for i, d := range st.dirs {
		if d.followed(k) {
			return &st.dirs[i], false // the first child went: follow again
		}
		if d.childData && parentOf(k.path) == d.path {
			return nil, true
		}
	}
	return nil, false
}

// followTarget decides what a follow directory (dirSpec.follow) watches,
// given its children (names) and the watcher's own (me): the first child
// in sequence order, or, when that is me or me is not among them, the
// whole directory (full). It is pure.
//
// Only the first child can make another one lead by leaving, so a watcher
// that does not lead needs nothing else: its watch costs it nothing when
// others join or leave behind the first, where a watch of the directory
// made every server list it again at every join (servers² listings as a
// cluster starts). One that leads needs every join and leave, and so does
// one that is not registered (yet): its own joining makes it follow.
func followTarget(names []string, me string, knownFirst bool) (first string, full bool) {
	if len(names) == 0 || !slices.Contains(names, me) {
		return "", true
	}
	sorted := slices.Clone(names)
	sortBySeq(sorted, knownFirst)
	if sorted[0] == me {
		return "", true
	}
	return sorted[0], false
}

// armScope arms every watch of st that is not armed, and marks it clean
// unless it was found dirty again meanwhile.
//
// Its directories are armed concurrently: a factory's registration scope
// (the first registration, its own) or its factory scope (its node, its
// machine's state) armed one after the other took a round trip more each.
func (h *watchHub) armScope(ctx context.Context, st *scopeState, full bool) error {
	h.mu.Lock()
	soiled := st.soiled
	h.mu.Unlock()
	for _, err := range h.armDirs(ctx, st.dirs, full) {
		if err != nil {
			return err
		}
	}
	h.mu.Lock()
	if st.soiled == soiled {
		st.dirty = false
	}
	h.mu.Unlock()
	return nil
}

// armDir arms the watches of one directory. full lists the children even if
// their watch is armed, to arm missing child data watches.
func (h *watchHub) armDir(ctx context.Context, d dirSpec, full bool) error {
	s := h.s
	if d.follow != "" {
		return h.armFollow(ctx, d)
	}
	for range 3 {
		missing := false
		if d.self {
			err := h.armData(ctx, d.path)
			switch {
			case err == nil:
			case errors.Is(err, zk.ErrNoNode):
				missing = true
			default:
				return err
			}
		}
		if !missing && d.selfOnly {
			return nil
		}
		if !missing {
			var children []string
			armed, err := h.settled(ctx, watchKey{d.path, wChild})
			if err != nil {
				return err
			}
			listed := false
			if !armed {
				children, listed, err = h.armChildren(ctx, d.path)
			}
			if err == nil && !listed && full && d.childData {
				children, err = s.children(ctx, d.path)
				listed = true
			}
			switch {
			case err == nil:
				if listed && d.childData {
					paths := make([]string, len(children))
					for i, c := range children {
						paths[i] = d.path + "/" + c
					}
					if err := h.armDataMany(ctx, paths); err != nil {
						return err
					}
				}
				return nil
			case errors.Is(err, zk.ErrNoNode):
				missing = true
			default:
				return err
			}
		}
		// The directory does not exist: watch for its creation.
		if created, err := h.armCreation(ctx, d.path); !created || err != nil {
			return err
		}
		// Created meanwhile: exists armed a data watch; arm the rest.
	}
	return nil
}

// armChildren sets a children watch on path and returns the children
// (listed: false when another caller armed it meanwhile, and nothing was
// sent).
func (h *watchHub) armChildren(ctx context.Context, path string) (children []string, listed bool, err error) {
	k := watchKey{path, wChild}
	t, err := h.claim(ctx, k)
	if t == nil || err != nil {
		return nil, false, err
	}
	children, err = call(h.s, ctx, kindWatch, func(c *zk.Conn) ([]string, error) {
		ch, _, _, err := c.ChildrenW(path)
		return ch, err
	})
	h.answered(t, err == nil, k)
	return children, err == nil, err
}

// armCreation watches a missing node for its creation (an exists watch),
// unless a watch on it is armed already. created reports that it exists
// after all: the exists call then armed a data watch, and the caller arms
// the rest.
func (h *watchHub) armCreation(ctx context.Context, path string) (created bool, err error) {
	if armed, err := h.settled(ctx, watchKey{path, wData}); armed || err != nil {
		return false, err
	}
	t, err := h.claim(ctx, watchKey{path, wExist})
	if t == nil || err != nil {
		return false, err
	}
	ok, err := call(h.s, ctx, kindWatch, func(c *zk.Conn) (bool, error) {
		ok, _, _, err := c.ExistsW(path)
		return ok, err
	})
	switch {
	case err != nil:
		h.answered(t, false, t.k)
		return false, err
	case !ok:
		h.answered(t, true, t.k)
		return false, nil
	}
	h.answered(t, true, watchKey{path, wData})
	return true, nil
}

// armFollow arms a follow directory (dirSpec.follow): it lists the
// children without a watch and, per followTarget, watches the children of
// the first child, or of the directory. A children watch on a child fires
// only when that child is deleted (a registration is ephemeral and has no
// children; its data changes, a heartbeat, fire nothing). A first child
// deleted between the listing and its watch is listed again. A missing
// directory is watched for its creation.
func (h *watchHub) armFollow(ctx context.Context, d dirSpec) error {
	s := h.s
	const attempts = 5
	for i := range attempts {
		if armed, err := h.settled(ctx, watchKey{d.path, wChild}); armed || err != nil {
			return err // the whole directory is watched already
		}
		names, err := s.children(ctx, d.path)
		if isNoNode(err) {
			if created, err := h.armCreation(ctx, d.path); !created || err != nil {
				return err
			}
			continue // created meanwhile: list it
		}
		if err != nil {
			return err
		}
		first, whole := followTarget(names, d.follow, d.knownFirst)
		whole = whole || i == attempts-1 // first children that keep going: all of them
		target := d.path
		if !whole {
			target = d.path + "/" + first
		}
		_, _, err = h.armChildren(ctx, target)
		if !isNoNode(err) {
			return err
		}
		// The directory or its first child went since the listing.
	}
	// The hub marks the scope for a full arming and tries again.
	return fmt.Errorf("zkstore: %s changed at every attempt to watch it", d.path)
}

// armDataMany arms the data watches of many children concurrently,
// pipelined on the one connection like getMany (arming 10,000 item watches
// one round trip at a time took seconds before a manager could register).
// A missing child needs none: the parent's children watch covers it.
func (h *watchHub) armDataMany(ctx context.Context, paths []string) error {
	if len(paths) == 1 {
		return ignoreNoNode(h.armData(ctx, paths[0]))
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, parallelReads)
	for _, p := range paths {
		if h.isArmed(watchKey{p, wData}) {
			continue // armed, or being armed (waited for below)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := ignoreNoNode(h.armData(ctx, p)); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	// Those another caller was arming: answered before this returns.
	for _, p := range paths {
		if _, err := h.settled(ctx, watchKey{p, wData}); err != nil {
			return err
		}
	}
	return nil
}

func ignoreNoNode(err error) error {
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return err
}

// armData arms a node's data watch, unless it is armed: ErrNoNode if the
// node is missing (nothing is armed then).
func (h *watchHub) armData(ctx context.Context, path string) error {
	k := watchKey{path, wData}
	t, err := h.claim(ctx, k)
	if t == nil || err != nil {
		return err
	}
	err = h.getW(ctx, path)
	h.answered(t, err == nil, k)
	return err
}

// getW sets a node's data watch; the data it reads is kept for
// StrategyRuntimes and StrategyRuntime if the node is a strategy
// registration (see cacheable).
func (h *watchHub) getW(ctx context.Context, path string) error {
	s := h.s
	keep := s.cacheable(path)
	var tok cacheToken
	if keep {
		tok = s.watched.token(path)
	}
	r, err := call(s, ctx, kindWatch, func(c *zk.Conn) (getResult, error) {
		data, st, _, err := c.GetW(path)
		return getResult{data, st}, err
	})
	if err == nil && keep {
		s.watched.armed(path, tok, r)
	}
	return err
}
