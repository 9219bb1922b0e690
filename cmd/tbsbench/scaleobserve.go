package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/zkreq"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// progress is one look at every task type of a scale run.
type progress struct {
	typesBalanced, types int
	// read: the task types the look could read.
	read                   int
	owned, active, pending int
	// minServers, maxServers: the fewest and most servers registered in a
	// task type's runtime.
	minServers, maxServers int
}

func (p progress) String() string {
	s := fmt.Sprintf("%d/%d task types balanced, %d/%d items owned by live servers, %d pending handovers",
		p.typesBalanced, p.types, p.owned, p.active, p.pending)
	if p.read < p.types {
		s += fmt.Sprintf(" (%d/%d task types could be read)", p.read, p.types)
	}
	if p.read > 0 {
		s += fmt.Sprintf(", %d–%d servers registered", p.minServers, p.maxServers)
	}
	return s
}

// observer watches a scale run's task types through its own session.
type observer struct {
	store *zkstore.Store
	tts   []schedule.TaskType
	// every: without watches (they could not be armed), the least pause
	// between looks; the pause is as long as the last look otherwise.
	every   time.Duration
	expired func() int64
	// tl, if not nil, records every look (-scale-timeline).
	tl *timeline
	// cache holds, per task type, the servers and the items last read,
	// reused while the watches saw no join or leave and the items stamp
	// has not moved. waitBalanced forgets the servers, so that each
	// phase's first look reads them.
	cache map[string]state
}

// Observer timing.
const (
	// quietBeforeLook: the observer looks once its watches have noticed no
	// change for this long (a balance is a state that no longer changes;
	// a look in the middle of a burst of grants would read a state about
	// to change). It delays the decision, not the figure reported.
	quietBeforeLook = 300 * time.Millisecond
	// fallbackLook: the longest the observer waits after a look for the
	// next one, whatever its watches say (a lost signal, or changes that
	// never pause).
	fallbackLook = 5 * time.Second
)

// read returns the registered servers and the items of rt: the servers
// only when the watches saw one join or leave since the last read (or
// nothing watches), the items only when the stamp (one request) moved.
func (o *observer) read(ctx context.Context, rt string, ch *changes) (state, error) {
	c, cached := o.cache[rt]
	if ch.takeServers(rt) || c.servers == nil {
		svs, err := o.store.Servers(ctx, rt)
		if err != nil {
			ch.dirtyServers(rt)
			return state{}, err
		}
		c.servers = []schedule.ServerID{}
		for _, sv := range svs {
			c.servers = append(c.servers, sv.UUID)
		}
	}
	stamp, err := o.store.ItemsStamp(ctx, rt)
	if err != nil {
		return state{}, err
	}
	if !cached || stamp == "" || c.items.Stamp != stamp {
		if c.items, err = o.store.Items(ctx, rt); err != nil {
			return state{}, err
		}
	}
	o.cache[rt] = c
	return state{servers: c.servers, items: c.items}, nil
}

// look reads every task type once; a read that fails (a busy server may
// time the observer out) makes the look incomplete, which never counts as
// balanced.
func (o *observer) look(ctx context.Context, want int, ch *changes) (progress, bool) {
	p := progress{types: len(o.tts), minServers: -1}
	complete := true
	for _, tt := range o.tts {
		st, err := o.read(ctx, tt.BaseTaskType, ch)
		if err != nil {
			complete = false
			continue
		}
		p.read++
		b, ok := checkBalance(st.servers, st.items.Items, want, tt.MaxTaskItemsOfOneThreadGroup)
		if ok {
			p.typesBalanced++
		}
		p.owned, p.active, p.pending = p.owned+b.Owned, p.active+b.Active, p.pending+b.Pending
		if p.minServers < 0 || b.Servers < p.minServers {
			p.minServers = b.Servers
		}
		p.maxServers = max(p.maxServers, b.Servers)
	}
	return p, complete && p.typesBalanced == p.types
}

// lookOutcome is one look as judgeLook sees it; times are from the
// phase's start.
type lookOutcome struct {
	start, end time.Duration
	// balanced: every task type read and balanced.
	balanced bool
	// sigStart, sigEnd: the signals the watches had received before the
	// look's start and by its end (every signal, a change or not); busy:
	// one was still being checked at the end.
	sigStart, sigEnd uint64
	busy             bool
	// lastChange: when the signal of the last change noticed by the end
	// came; negative when none came in the phase (or nothing watches).
	lastChange time.Duration
}

// candidate is a balanced look waiting for the next look to confirm it.
type candidate struct {
	ok    bool
	start time.Duration
	// sig: the signals received before its start.
	sig uint64
}

// balanceBound is where the balance moment of a phase lies, from the
// phase's start: after unbalanced and at most atMost.
type balanceBound struct {
	// unbalanced: the start of the last look that saw a task type
	// unbalanced (0 when none did: the phase's start).
	unbalanced time.Duration
	// atMost: the last change noticed before the look that found the
	// balance (byChange), or, when none was noticed since unbalanced (a
	// lost signal, or no watches), that look's start.
	atMost   time.Duration
	byChange bool
	// look: the start of the look that found the balance; decided: the end
	// of the look that confirmed it, when the observer knew.
	look, decided time.Duration
}

// judgeLook decides whether l confirms the balance, given the start of
// the last look that saw a task type unbalanced and the candidate (the
// last look, if it was balanced), and returns the next candidate. A
// balanced look is confirmed by a later balanced look when no signal came
// from the first one's start to the second one's end and none is still
// being checked: the first read a state that held throughout (a change
// during a look, or one whose signal came late, only delays the decision).
// The balance then came at or before the last change noticed, all of
// whose signals came before the first look; a change noticed before
// unbalanced cannot be the last one (a later look still saw the balance
// missing), so then the bound is the first look's start. It is pure.
func judgeLook(unbalanced time.Duration, cand candidate, l lookOutcome) (balanceBound, candidate, bool) {
	if !l.balanced {
		return balanceBound{}, candidate{}, false
	}
	if !cand.ok || l.busy || l.sigEnd != cand.sig {
		return balanceBound{}, candidate{ok: true, start: l.start, sig: l.sigStart}, false
	}
	b := balanceBound{unbalanced: unbalanced, atMost: cand.start, look: cand.start, decided: l.end}
	if l.lastChange >= 0 && l.lastChange >= unbalanced && l.lastChange <= cand.start {
		b.atMost, b.byChange = l.lastChange, true
	}
	return b, candidate{}, true
}

// String says where the balance lies and how late the observer knew.
func (b balanceBound) String() string {
	by := "the last change noticed before the look that found it"
	if !b.byChange {
		by = "no change noticed since the last unbalanced look: the start of the look that found it"
	}
	return fmt.Sprintf("balanced at ≤ %s (%s); after %s (the last look that saw it unbalanced started then); "+
		"the look that found it started at %s, the one that confirmed it ended at %s",
		secs(b.atMost), by, secs(b.unbalanced), secs(b.look), secs(b.decided))
}

// nextLook returns when to look next, from the end of the last look
// (end), the changes noticed at its start and now (n0, n) and when the
// last one's signal came: quietBeforeLook after end to confirm a balanced
// look (confirm); else once quietBeforeLook has passed since a change
// noticed after the last look started, or fallbackLook after it ended. It
// is pure.
func nextLook(end time.Time, confirm bool, n0, n uint64, last time.Time) time.Time {
	if confirm {
		return end.Add(quietBeforeLook)
	}
	next := end.Add(fallbackLook)
	if n != n0 {
		if q := last.Add(quietBeforeLook); q.Before(next) {
			next = q
		}
	}
	return next
}

// waitBalanced looks until every task type is balanced over want servers
// (reached), limit has passed since t0 (not reached) or ctx ends. With
// watches (ch not nil), it looks once they have been quiet for
// quietBeforeLook after a change, and at least fallbackLook after the
// last look; without, it waits max(o.every, the last look) between looks.
// A balanced look is confirmed by the next (see judgeLook), looked
// quietBeforeLook after it. It returns where the balance lies (reached),
// or the time since t0 it gave up at. It prints the progress every 5 s.
func (o *observer) waitBalanced(ctx context.Context, t0 time.Time, want int, limit time.Duration, ch *changes) (bound balanceBound, took time.Duration, reached bool, last progress) {
	if o.cache == nil {
		o.cache = map[string]state{}
	}
	for rt, c := range o.cache {
		// The items stay while their stamp holds; the servers are read
		// again, the watches of the last phase having ended with it.
		c.servers = nil
		o.cache[rt] = c
	}
	lastReport := time.Now()
	since := func(t time.Time) time.Duration {
		if t.IsZero() || t.Before(t0) {
			return -1
		}
		return t.Sub(t0)
	}
	var (
		unbalanced time.Duration
		cand       candidate
	)
	// A look ends at the limit too: on an overloaded server one look can
	// take minutes (every read retried until it times out).
	lctx, cancel := context.WithDeadline(ctx, t0.Add(limit))
	defer cancel()
	for {
		w0 := ch.seen()
		lookStart := time.Now()
		p, ok := o.look(lctx, want, ch)
		lookEnd := time.Now()
		w1 := ch.seen()
		if o.tl != nil {
			o.tl.add(tlRec{at: o.tl.since(lookStart), sess: -1, src: "look", what: fmt.Sprintf("balanced=%v", ok),
				dur: lookEnd.Sub(lookStart), detail: p.String()})
		}
		if p.read > 0 || last.types == 0 {
			last = p // keep the last look that read something
		}
		b, next, found := judgeLook(unbalanced, cand, lookOutcome{start: lookStart.Sub(t0), end: lookEnd.Sub(t0),
			balanced: ok, sigStart: w0.signals, sigEnd: w1.signals, busy: w1.busy > 0, lastChange: since(w1.last)})
		if found {
			return b, b.atMost, true, last
		}
		cand = next
		if p.typesBalanced < p.read {
			unbalanced = lookStart.Sub(t0)
		}
		if time.Since(t0) >= limit || ctx.Err() != nil {
			return balanceBound{}, time.Since(t0), false, last
		}
		if time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			fmt.Printf("  %5.1f s: %v; %d sessions expired\n", time.Since(t0).Seconds(), p, o.expired())
		}
		blind := max(o.every, lookEnd.Sub(lookStart))
		if cand.ok {
			blind = quietBeforeLook
		}
		if !o.pause(ctx, ch, lookEnd, cand.ok, w0.changes, blind, t0.Add(limit)) {
			return balanceBound{}, time.Since(t0), false, last
		}
	}
}

// pause waits for the next look (see nextLook: end is the last look's
// end, n0 the changes noticed at its start; without watches, blind after
// end) and reports whether to look: false when ctx ended or the limit
// passed first.
func (o *observer) pause(ctx context.Context, ch *changes, end time.Time, confirm bool, n0 uint64, blind time.Duration, limit time.Time) bool {
	for {
		next := end.Add(blind)
		if ch != nil {
			w := ch.seen()
			next = nextLook(end, confirm, n0, w.changes, w.last)
		}
		if !next.Before(limit) {
			next = limit
		}
		d := time.Until(next)
		if d <= 0 {
			return time.Now().Before(limit)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-ch.kicked():
			t.Stop()
		case <-t.C:
		}
	}
}

// meter is what the sessions have used so far.
type meter struct {
	req     map[*scaleSession]zkreq.Stats
	bytes   map[*scaleSession]uint64
	expired int64
	self    time.Duration
	zk      time.Duration
	cpuOK   bool
	at      time.Time
}

func measure(sessions []*scaleSession) meter {
	m := meter{req: map[*scaleSession]zkreq.Stats{}, bytes: map[*scaleSession]uint64{}, at: time.Now()}
	for _, ss := range sessions {
		m.req[ss] = zkreq.Of(ss.store)
		m.bytes[ss] = ss.net.bytes.Load()
	}
	m.expired = expiredOf(sessions)
	m.self, m.zk, m.cpuOK = cpuTimes()
	return m
}

// expiredOf returns the session expiries the stores of sessions have seen.
func expiredOf(sessions []*scaleSession) int64 {
	var n int64
	for _, ss := range sessions {
		n += ss.expired.n.Load()
	}
	return n
}

// phase is one event of a scale run and what it cost, until balanced or
// given up.
type phase struct {
	name    string
	reached bool
	// took: the balance's bound (bound.atMost) when reached, else when
	// the observer gave up.
	took    time.Duration
	bound   balanceBound
	last    progress
	servers int
	// observer: the requests of the observer's session (its looks).
	observer uint64
	// req and bytes: used by the servers live at the end of the phase.
	req     zkreq.Stats
	bytes   uint64
	expired int64
	// selfCores, zkCores: CPU used by tbsbench and by ZooKeeper, in cores
	// (CPU seconds per second); cpuOK false when not measured.
	selfCores, zkCores float64
	cpuOK              bool
}

// between fills p with the difference from m0 to m1 over the live sessions
// (a session missing from m0 started during the phase, from zero).
func (p *phase) between(m0, m1 meter, live []*scaleSession) {
	p.servers = len(live)
	for _, ss := range live {
		r := m1.req[ss].Sub(m0.req[ss])
		p.req = addStats(p.req, r)
		p.bytes += m1.bytes[ss] - m0.bytes[ss]
	}
	p.expired = m1.expired - m0.expired
	if wall := m1.at.Sub(m0.at).Seconds(); m0.cpuOK && m1.cpuOK && wall > 0 {
		p.cpuOK = true
		p.selfCores = (m1.self - m0.self).Seconds() / wall
		p.zkCores = (m1.zk - m0.zk).Seconds() / wall
	}
}

func addStats(a, d zkreq.Stats) zkreq.Stats {
	a.Get += d.Get
	a.Children += d.Children
	a.Exists += d.Exists
	a.Create += d.Create
	a.Set += d.Set
	a.Delete += d.Delete
	a.Multi += d.Multi
	a.Sync += d.Sync
	a.Watch += d.Watch
	a.Probe += d.Probe
	a.Auth += d.Auth
	return a
}

// heapInUse collects garbage and returns the heap in use and the number of
// goroutines.
func heapInUse() (uint64, int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, runtime.NumGoroutine()
}

// settle waits until the sessions have armed no watch and made no
// structural write (create, delete, multi; heartbeats are sets) for
// quietFor, at most bound, so that the watches counted next are those of
// the balanced state, not a snapshot of re-arming. It returns how long it
// waited and whether it found the quiet.
func settle(ctx context.Context, sessions []*scaleSession, quietFor, bound time.Duration) (time.Duration, bool) {
	count := func() uint64 {
		var n uint64
		for _, ss := range sessions {
			r := zkreq.Of(ss.store)
			n += r.Watch + r.Create + r.Delete + r.Multi
		}
		return n
	}
	t0 := time.Now()
	last, since := count(), time.Now()
	for ctx.Err() == nil && time.Since(t0) < bound {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quietFor {
			return time.Since(t0), true
		}
	}
	return time.Since(t0), false
}
