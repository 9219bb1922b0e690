package zkstore

import (
	"context"
	"sync"

	"github.com/go-zookeeper/zk"
)

// watchedData keeps the data of the strategy registrations, strategies and
// task types this store watches, as its data watches read them, so that
// StrategyRuntimes, Strategies, TaskTypes and the reads of one strategy or
// task type read only what changed since (see cacheable).
//
// An entry is valid while the node's data watch, set at or before the read
// that filled it, has not fired. ZooKeeper sends a session the
// notification of a change before any answer that reflects it, and
// go-zookeeper calls the event callback (event, below) on its receiving
// goroutine before it hands out later answers: once a listing's answer is
// in hand, every registration changed before it has lost its entry, and
// the entries left are what a get would have answered at the listing.
// Every event on a path bumps its generation; a read stores its result only
// if no event came between the moment just before it was sent (token) and
// its answer, so an answer older than an event never lands after it.
type watchedData struct {
	mu      sync.Mutex
	epoch   uint64            // bumped by reset: tokens taken before are stale
	gen     map[string]uint64 // bumped by every event on the path; never shrinks within an epoch
	watched map[string]bool   // a data watch set since the path's last event
	data    map[string]getResult
}

// cacheToken is the state of a path just before a read of it was sent.
type cacheToken struct {
	epoch, gen uint64
	watched    bool
}

func (c *watchedData) init() {
	if c.gen == nil {
		c.gen, c.watched, c.data = map[string]uint64{}, map[string]bool{}, map[string]getResult{}
	}
}

// token is taken just before a read of path is sent.
func (c *watchedData) token(path string) cacheToken {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return cacheToken{epoch: c.epoch, gen: c.gen[path], watched: c.watched[path]}
}

// current reports whether no event on path came since t; caller holds mu.
func (c *watchedData) current(path string, t cacheToken) bool {
	return t.epoch == c.epoch && t.gen == c.gen[path]
}

// armed records the answer of a read that set path's data watch.
func (c *watchedData) armed(path string, t cacheToken, r getResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if c.current(path, t) && r.stat != nil {
		c.watched[path], c.data[path] = true, r
	}
}

// read records the answer of a plain read of path: kept only if path's
// data watch was set before the read was sent.
func (c *watchedData) read(path string, t cacheToken, r getResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if t.watched && c.current(path, t) && r.stat != nil {
		c.data[path] = r
	}
}

// lookup returns path's data if it is valid.
func (c *watchedData) lookup(path string) (getResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.data[path]
	return r, ok
}

// event is called from the client's event callback for every event on a
// path: whatever fired, the path's entry and watch are gone.
func (c *watchedData) event(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.gen[path]++
	delete(c.watched, path)
	delete(c.data, path)
}

// reset forgets everything (a session event: watches may be gone).
func (c *watchedData) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.gen, c.watched, c.data = nil, nil, nil
}

// cacheEvent applies a client event to the store's watched data.
func (s *Store) cacheEvent(ev zk.Event) {
	switch ev.Type {
	case zk.EventSession:
		if ev.State != zk.StateHasSession {
			s.watched.reset()
		}
	case zk.EventNodeCreated, zk.EventNodeDeleted, zk.EventNodeDataChanged, zk.EventNotWatching:
		if s.cacheable(ev.Path) {
			s.watched.event(ev.Path)
		}
	}
}

// cacheable reports whether the store keeps path's watched data: a
// strategy registration, a strategy or a task type (the nodes a factory
// reads at each of its rounds; the configuration scope watches the data of
// every strategy and task type, a factory the registrations under its
// strategies).
func (s *Store) cacheable(path string) bool {
	parent := parentOf(path)
	return parent == s.p.strategies() || parent == s.p.taskTypes() || parentOf(parent) == s.p.strategies()
}

// readWatchedNode is readNode for a node whose data the store may hold
// (see watchedData).
func (s *Store) readWatchedNode(ctx context.Context, path string) ([]byte, *zk.Stat, error) {
	if r, ok := s.watched.lookup(path); ok {
		return r.data, r.stat, nil
	}
	tok := s.watched.token(path)
	data, stat, err := s.readNode(ctx, path)
	if err == nil {
		s.watched.read(path, tok, getResult{data, stat})
	}
	return data, stat, err
}
