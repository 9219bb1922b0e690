package memstore

import (
	"context"
	"fmt"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// watch is one Watch channel. ZooKeeper's watches are one-shot; this one
// stands for a watch the client re-arms at once after each event, which is
// what the contract's Watch promises. Its fields are guarded by srv.mu.
type watch struct {
	c       *Client
	scope   storekit.WatchScope
	ch      chan struct{}
	pending bool        // an event arrived while the client was cut off
	stop    func() bool // unregisters the context.AfterFunc
	closed  bool
}

// Watch implements storekit.Watcher. No goroutine runs per watch: the
// channel is closed from a context.AfterFunc when ctx ends, or by Close.
// While the client is cut off (Disconnect), events are held and delivered
// when it reconnects, as ZooKeeper re-sets watches on reconnect.
func (c *Client) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	if scope.Kind == storekit.WatchFactories && scope.Factory != "" {
		if err := checkName(schedule.NameFactoryID, string(scope.Factory)); err != nil {
			return nil, fmt.Errorf("memstore: watch: %w", err)
		}
	}
	if scope.Kind != storekit.WatchStrategyRuntime {
		// A factories watch for one factory fires, here, for every
		// factory and state, as the contract allows.
		scope.Factory = ""
	}
	switch scope.Kind {
	case storekit.WatchServers, storekit.WatchItems, storekit.WatchMark:
		if err := checkRuntime(scope.Name); err != nil {
			return nil, fmt.Errorf("memstore: watch: %w", err)
		}
		if scope.Kind == storekit.WatchServers && scope.Server != "" {
			if err := checkName(schedule.NameServerID, string(scope.Server)); err != nil {
				return nil, fmt.Errorf("memstore: watch: %w", err)
			}
		}
		// A servers watch for one server fires, here, for every join and
		// leave, as the contract allows.
		scope.Server = ""
	case storekit.WatchNotes:
		if err := checkRuntime(scope.Name); err != nil {
			return nil, fmt.Errorf("memstore: watch: %w", err)
		}
		if err := checkBox(scope.Server); err != nil {
			return nil, fmt.Errorf("memstore: watch: %w", err)
		}
	case storekit.WatchStrategyRuntimes:
		if err := checkName(schedule.NameStrategy, scope.Name); err != nil {
			return nil, fmt.Errorf("memstore: watch: %w", err)
		}
		scope.Server = ""
	case storekit.WatchStrategyRuntime:
		if err := checkName(schedule.NameStrategy, scope.Name); err != nil {
			return nil, fmt.Errorf("memstore: watch: %w", err)
		}
		if err := checkName(schedule.NameFactoryID, string(scope.Factory)); err != nil {
			return nil, fmt.Errorf("memstore: watch: %w", err)
		}
		scope.Server = ""
	case storekit.WatchConfig, storekit.WatchFactories:
		scope.Name, scope.Server = "", ""
	default:
		return nil, fmt.Errorf("memstore: watch: unknown kind %d: %w", scope.Kind, schedule.ErrInvalid)
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "watch", scopePath(scope), opRead); err != nil {
		return nil, err
	}
	w := &watch{c: c, scope: scope, ch: make(chan struct{}, 1)}
	c.watches[w] = struct{}{}
	set := s.watches[scope]
	if set == nil {
		set = make(map[*watch]struct{})
		s.watches[scope] = set
	}
	set[w] = struct{}{}
	w.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closeWatch(w)
	})
	return w.ch, nil
}

func scopePath(sc storekit.WatchScope) string {
	switch sc.Kind {
	case storekit.WatchServers:
		return serverDirPath(sc.Name)
	case storekit.WatchItems, storekit.WatchMark:
		return itemsPath(sc.Name)
	case storekit.WatchNotes:
		return noteBoxPath(sc.Name, sc.Server)
	case storekit.WatchConfig:
		return dirTaskTypes + "," + dirStrategies
	case storekit.WatchFactories:
		return dirFactories + "," + dirFactoryStates
	case storekit.WatchStrategyRuntimes:
		return strategyPath(sc.Name)
	case storekit.WatchStrategyRuntime:
		return strategyRuntimePath(sc.Name, sc.Factory)
	}
	return ""
}

// fire notifies the watches of every scope the operation touched. s.mu must
// be held.
func (s *Server) fire(tx *txn) {
	for sc := range tx.scopes {
		if sc.Kind == storekit.WatchItems {
			s.gen++
			s.itemGen[sc.Name] = s.gen
		}
		if sc.Kind == storekit.WatchStrategyRuntime && sc.Factory == "" { // everyRegistration
			for wsc, set := range s.watches {
				if wsc.Kind == sc.Kind && wsc.Name == sc.Name {
					for w := range set {
						s.signal(w)
					}
				}
			}
			continue
		}
		for w := range s.watches[sc] {
			s.signal(w)
		}
	}
}

// signal delivers one event to w, or holds it while its client is cut off.
// s.mu must be held.
func (s *Server) signal(w *watch) {
	if w.closed {
		return
	}
	if w.c.disc != nil {
		w.pending = true
		return
	}
	w.pending = false
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// closeWatch closes w's channel and forgets it. s.mu must be held.
func (s *Server) closeWatch(w *watch) {
	if w.closed {
		return
	}
	w.closed = true
	close(w.ch)
	delete(w.c.watches, w)
	if set := s.watches[w.scope]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(s.watches, w.scope)
		}
	}
}
