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
	store   *zkstore.Store
	tts     []schedule.TaskType
	every   time.Duration
	expired func() int64
	// tl, if not nil, records every look (-scale-timeline).
	tl *timeline
	// cache holds the last items read per task type, reused while the
	// items stamp has not moved (for at most fullReadEvery).
	cache map[string]cachedItems
}

type cachedItems struct {
	items schedule.Items
	at    time.Time
}

// fullReadEvery: the observer reads every item at least this often, even
// when the stamp says nothing changed.
const fullReadEvery = 5 * time.Second

// read returns the registered servers and the items of rt: the servers
// and the stamp every time (two requests), the items only when the stamp
// moved or the last full read is fullReadEvery old.
func (o *observer) read(ctx context.Context, rt string) (state, error) {
	svs, err := o.store.Servers(ctx, rt)
	if err != nil {
		return state{}, err
	}
	var st state
	for _, sv := range svs {
		st.servers = append(st.servers, sv.UUID)
	}
	stamp, err := o.store.ItemsStamp(ctx, rt)
	if err != nil {
		return state{}, err
	}
	if c, ok := o.cache[rt]; ok && stamp != "" && c.items.Stamp == stamp && time.Since(c.at) < fullReadEvery {
		st.items = c.items
		return st, nil
	}
	if st.items, err = o.store.Items(ctx, rt); err != nil {
		return state{}, err
	}
	if o.cache == nil {
		o.cache = map[string]cachedItems{}
	}
	o.cache[rt] = cachedItems{items: st.items, at: time.Now()}
	return st, nil
}

// look reads every task type once; a read that fails (a busy server may
// time the observer out) makes the look incomplete, which never counts as
// balanced.
func (o *observer) look(ctx context.Context, want int) (progress, bool) {
	p := progress{types: len(o.tts), minServers: -1}
	complete := true
	for _, tt := range o.tts {
		st, err := o.read(ctx, tt.BaseTaskType)
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

// waitBalanced looks until every task type is balanced over want servers
// (reached), limit has passed since t0 (not reached) or ctx ends. It waits
// o.every between looks, or four times as long as the last look took, so
// that the observer's own reads stay a small part of ZooKeeper's work. It
// prints the progress every 5 s.
func (o *observer) waitBalanced(ctx context.Context, t0 time.Time, want int, limit time.Duration) (took time.Duration, reached bool, last progress) {
	lastReport := time.Now()
	// A look ends at the limit too: on an overloaded server one look can
	// take minutes (every read retried until it times out).
	lctx, cancel := context.WithDeadline(ctx, t0.Add(limit))
	defer cancel()
	for {
		lookStart := time.Now()
		p, ok := o.look(lctx, want)
		pause := max(o.every, 4*time.Since(lookStart))
		if o.tl != nil {
			o.tl.add(tlRec{at: o.tl.since(lookStart), sess: -1, src: "look", what: fmt.Sprintf("balanced=%v", ok),
				dur: time.Since(lookStart), detail: p.String()})
		}
		if p.read > 0 || last.types == 0 {
			last = p // keep the last look that read something
		}
		if ok {
			return time.Since(t0), true, last
		}
		if time.Since(t0) >= limit || ctx.Err() != nil {
			return time.Since(t0), false, last
		}
		if time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			fmt.Printf("  %5.1f s: %v; %d sessions expired\n", time.Since(t0).Seconds(), p, o.expired())
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
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
	took    time.Duration
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
