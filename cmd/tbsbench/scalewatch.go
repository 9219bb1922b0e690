package main

import (
	"context"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// changes is what the observer's watches noticed during one phase: the
// signals received, the changes among them and when the last one's signal
// came, and which runtimes' servers must be read again. A nil *changes
// (the watches could not be armed) notices nothing and has every
// runtime's servers read at every look.
type changes struct {
	mu sync.Mutex
	w  watched
	// servers: the runtimes whose servers joined or left since the
	// observer last read them.
	servers map[string]bool
	// kick receives (buffer 1, sends coalesce) after every signal is
	// checked.
	kick chan struct{}
}

// watched is a snapshot of changes.
type watched struct {
	// signals: every signal received; changes: those that were a change
	// (a join or leave, or the items stamp moved); last: when the last
	// change's signal came (zero: none); busy: signals still being checked.
	signals, changes uint64
	last             time.Time
	busy             int
}

// signal records a signal, which the caller checks (busy until checked),
// and returns when it came.
func (c *changes) signal() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.signals++
	c.w.busy++
	return time.Now()
}

// checked ends the check of the signal that came at at: a change (of
// serversOf's servers, if not empty) or not.
func (c *changes) checked(at time.Time, change bool, serversOf string) {
	c.mu.Lock()
	c.w.busy--
	if change {
		c.w.changes++
		if at.After(c.w.last) {
			c.w.last = at
		}
	}
	if serversOf != "" {
		c.servers[serversOf] = true
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// seen returns what was noticed so far.
func (c *changes) seen() watched {
	if c == nil {
		return watched{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w
}

// takeServers reports whether rt's servers must be read (they changed
// since the last take, or nothing watches them) and forgets the change:
// the caller reads them now, and gives them back with dirtyServers if the
// read fails.
func (c *changes) takeServers(rt string) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.servers[rt]
	c.servers[rt] = false
	return d
}

func (c *changes) dirtyServers(rt string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.servers[rt] = true
	c.mu.Unlock()
}

// kicked returns the channel that receives after each signal is checked
// (nil, which never receives, when nothing watches).
func (c *changes) kicked() <-chan struct{} {
	if c == nil {
		return nil
	}
	return c.kick
}

// stampReadBound bounds the observer's read of an items stamp after a
// signal; a read that fails counts as a change.
const stampReadBound = 2 * time.Second

// watch arms, for every task type, three watches whatever the number of
// items: its servers (joins and leaves), its mark (rebuilds) and its
// leader's note box, which receives a note in the same request as every
// item write (and loses notes when the leader consumes them: a signal of
// the box counts as a change only if the items stamp moved, which takes
// one cheap read). Every change is noted with the time the signal came,
// which is at or after the change itself; every signal is counted when
// it comes, a change or not. The watches live until ctx ends. If a watch
// cannot be armed, watch returns the error (the watches armed before it
// end with ctx).
func (o *observer) watch(ctx context.Context) (*changes, error) {
	c := &changes{servers: map[string]bool{}, kick: make(chan struct{}, 1)}
	type armed struct {
		rt                   string
		servers, mark, notes <-chan struct{}
	}
	var all []armed
	for _, tt := range o.tts {
		rt := tt.BaseTaskType
		a := armed{rt: rt}
		for _, w := range []struct {
			ch    *<-chan struct{}
			scope storekit.WatchScope
		}{
			{&a.servers, storekit.WatchScope{Kind: storekit.WatchServers, Name: rt}},
			{&a.mark, storekit.WatchScope{Kind: storekit.WatchMark, Name: rt}},
			{&a.notes, storekit.WatchScope{Kind: storekit.WatchNotes, Name: rt, Server: storekit.LeaderBox}},
		} {
			ch, err := o.store.Watch(ctx, w.scope)
			if err != nil {
				return nil, err
			}
			*w.ch = ch
		}
		all = append(all, a)
	}
	for _, a := range all {
		go func() {
			for range a.servers {
				c.checked(c.signal(), true, a.rt)
			}
		}()
		go o.followItems(ctx, c, a.rt, a.mark, a.notes)
	}
	return c, nil
}

// followItems notes a change of rt's items when its mark or leader box
// signals and the items stamp moved, until both channels close.
func (o *observer) followItems(ctx context.Context, c *changes, rt string, mark, notes <-chan struct{}) {
	var stamp schedule.ItemsStamp
	for mark != nil || notes != nil {
		var ok bool
		select {
		case _, ok = <-mark:
			if !ok {
				mark = nil
				continue
			}
		case _, ok = <-notes:
			if !ok {
				notes = nil
				continue
			}
		}
		at := c.signal()
		sctx, cancel := context.WithTimeout(ctx, stampReadBound)
		s, err := o.store.ItemsStamp(sctx, rt)
		cancel()
		moved := err != nil || s != stamp || s == ""
		stamp = s
		c.checked(at, moved, "")
	}
}
