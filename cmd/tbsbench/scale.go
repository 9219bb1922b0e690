package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/internal/zkreq"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// Defaults of the scale scenario.
const (
	// defaultScaleLimit bounds each wait for balance of a size (start,
	// after the crash, after the join).
	defaultScaleLimit = time.Minute
	// wchcMaxWatches: above this many watches in all, wchc (which lists
	// every watch) is not asked, only wchs (totals).
	wchcMaxWatches = 300_000
	// finishBound bounds the wait for one factory to return once its store
	// is closed.
	finishBound = 30 * time.Second
)

// scaleResult is one size run on one read path.
type scaleResult struct {
	size     scaleSize
	path     readPath
	opened   time.Duration
	phases   []phase
	watches  watchFigures
	watchErr error
	// heapPerSession, goroutinesPerSession: growth of the process from
	// before the sessions were opened to the first balance, per session.
	heapPerSession       float64
	goroutinesPerSession float64
	expired              int64
	stuck                int
	// settled: how long the sessions took to go quiet after the first
	// balance (quiet false: they did not within the bound); the watches,
	// heap and goroutines are counted then.
	settled time.Duration
	quiet   bool
}

// scale runs every size of b.scaleSizes on the read paths b.readPath asks,
// through factories and strategies as users run them.
func (b *bench) scale(ctx context.Context) (Section, error) {
	sizes := b.scaleSizes
	if len(sizes) == 0 {
		sizes = []scaleSize{{200, 5, 10000}}
		if b.quick {
			sizes = []scaleSize{{10, 2, 1000}}
		}
	}
	sec := Section{Name: "scale", Columns: scaleColumns,
		Note: fmt.Sprintf("per size sessions × task types × items in all: one process with that many sessions, each its own store (session timeout %v) "+
			"running a strategy.Factory; one strategy per task type (AssignNum = sessions, one thread group per factory); "+
			"an observer session reads every task type until all are balanced; each wait gives up after %v (-scale-limit)", sessionTimeout, b.scaleLimit)}
	for _, z := range sizes {
		res := map[readPath]*scaleResult{}
		for _, p := range b.readPath.runs() {
			if ctx.Err() != nil {
				return sec, ctx.Err()
			}
			fmt.Printf("  %s, read path %s\n", z, p)
			r, err := b.scaleRun(ctx, z, p)
			part := Section{Columns: sec.Columns}
			if r != nil {
				res[p] = r
				r.addTo(&part)
			}
			if err != nil {
				part.row(z.String(), string(p), "not measured: "+err.Error(), "", "", "", "", "", "", "")
			}
			if old, nw := res[readOld], res[readNew]; old != nil && nw != nil {
				addRatios(&part, old, nw)
			}
			sec.Rows = append(sec.Rows, part.Rows...)
			for k, v := range part.Values {
				sec.set(k, v)
			}
			if ctx.Err() != nil {
				// Cut short: keep what this size measured.
				return sec, ctx.Err()
			}
		}
	}
	return sec, nil
}

// scaleSetUp makes the root, the task types and one strategy per task type.
func (b *bench) scaleSetUp(ctx context.Context, z scaleSize) (*observerStore, error) {
	var tts []schedule.TaskType
	for k := range z.types {
		tt := taskType(fmt.Sprintf("scale%d", k), z.items/z.types)
		tt.HeartBeatRate = 2 * time.Second
		tt.DealBeanName = fmt.Sprintf("benchDeal%d", k)
		tts = append(tts, tt)
	}
	root, admin, err := b.setUp(ctx, "scale", tts...)
	if err != nil {
		return nil, err
	}
	a := strategy.NewAdmin(admin, strategy.AdminConfig{})
	for _, tt := range tts {
		st := schedule.DefaultStrategy(tt.BaseTaskType + "-s")
		st.TaskName = tt.BaseTaskType
		st.AssignNum = z.sessions
		st.NumOfSingleServer = 1
		if _, err := a.ApplyStrategy(ctx, st); err != nil {
			_ = admin.Close()
			return nil, err
		}
	}
	return &observerStore{root: root, observer: observer{store: admin, tts: tts, every: 250 * time.Millisecond}}, nil
}

// observerStore is a size's root and its observer.
type observerStore struct {
	root string
	observer
}

// sizeRun is the state of one size on one read path.
type sizeRun struct {
	b   *bench
	obs *observerStore
	res *scaleResult
	// live: the sessions running now; all: every session opened.
	live, all []*scaleSession
	// closing: the crashed sessions being finished.
	closing sync.WaitGroup
}

// scaleRun runs one size on one read path: start, crash of 10 %, join.
// Each step runs only if the one before reached the balance.
func (b *bench) scaleRun(ctx context.Context, z scaleSize, p readPath) (*scaleResult, error) {
	obs, err := b.scaleSetUp(ctx, z)
	if err != nil {
		return nil, err
	}
	defer obs.store.Close()
	r := &sizeRun{b: b, obs: obs, res: &scaleResult{size: z, path: p}}
	if b.timelinePath != "" {
		b.tl = newTimeline()
		defer func() {
			b.tl.summary(os.Stdout)
			if err := b.tl.write(timelineFile(b.timelinePath, z, p, len(b.scaleSizes) > 1 || b.readPath == readBoth)); err != nil {
				fmt.Printf("  timeline not written: %v\n", err)
			}
			b.tl, obs.tl = nil, nil
		}()
		b.tl.phase("open sessions")
		obs.tl = b.tl
	}
	heap0, g0 := heapInUse()
	t0 := time.Now()
	setReadPath(p)
	if r.live, err = b.openSessions(ctx, obs.root, 0, z.sessions, obs.tts); err != nil {
		return nil, err
	}
	r.res.opened = time.Since(t0)
	r.all = append([]*scaleSession(nil), r.live...)
	obs.expired = func() int64 { return expiredOf(r.all) }
	defer r.finish()
	if !r.step(ctx, "start → all balanced", z.sessions, func() {
		for _, ss := range r.live {
			ss.start(ctx)
		}
	}) {
		return r.res, nil
	}
	r.res.settled, r.res.quiet = settle(ctx, r.live, time.Second, 10*time.Second)
	heap1, g1 := heapInUse()
	r.res.heapPerSession = (float64(heap1) - float64(heap0)) / float64(z.sessions)
	r.res.goroutinesPerSession = float64(g1-g0) / float64(z.sessions)
	r.res.watches, r.res.watchErr = b.watchesOf(ctx, r.live, obs.tts)
	if !r.crash(ctx) {
		return r.res, nil
	}
	return r.res, r.join(ctx)
}

// finish ends every session and counts what is left to count.
func (r *sizeRun) finish() {
	r.closing.Wait()
	r.res.stuck += finishAll(r.all, finishBound)
	r.res.expired = expiredOf(r.all)
}

// step runs one phase and records it; it reports whether the balance was
// reached.
func (r *sizeRun) step(ctx context.Context, name string, want int, act func()) bool {
	ph := r.b.scalePhase(ctx, &r.obs.observer, name, func() []*scaleSession { return r.live }, want, act)
	r.res.phases = append(r.res.phases, ph)
	return ph.reached
}

// crash crashes the first 10 % of the sessions (at least one; the first
// registered, so the leaders are likely among them).
func (r *sizeRun) crash(ctx context.Context) bool {
	z := r.res.size
	kill := max(1, z.sessions/10)
	victims := r.live[:kill]
	r.live = r.live[kill:]
	return r.step(ctx, fmt.Sprintf("%d of %d sessions crashed → balanced again", kill, z.sessions), len(r.live), func() {
		for _, ss := range victims {
			ss.crash()
		}
		r.closing.Add(1)
		go func() { defer r.closing.Done(); finishAll(victims, finishBound) }()
	})
}

// join opens and starts one more session.
func (r *sizeRun) join(ctx context.Context) error {
	var err error
	r.step(ctx, "1 session joins → balanced", len(r.live)+1, func() {
		var joined []*scaleSession
		joined, err = r.b.openSessions(ctx, r.obs.root, len(r.all), 1, r.obs.tts)
		if err == nil {
			joined[0].start(ctx)
			r.live = append(r.live, joined[0])
			r.all = append(r.all, joined[0])
		}
	})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	return nil
}

// scalePhase measures the live sessions, runs act, waits until the observer
// sees every task type balanced over want servers (or the limit passes) and
// measures the sessions live then: live is called before act and after the
// wait.
func (b *bench) scalePhase(ctx context.Context, o *observer, name string, live func() []*scaleSession, want int, act func()) phase {
	ph := phase{name: name}
	if b.tl != nil {
		b.tl.phase(name)
		defer func() { b.tl.seen(name, ph.took, ph.reached) }()
	}
	m0, o0 := measure(live()), zkreq.Of(o.store)
	// The watches are armed before act, so that they notice its first
	// changes.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := o.watch(wctx)
	if err != nil {
		fmt.Printf("  %s: the observer's watches could not be armed (%v): it looks without them, and bounds the balance by its looks only\n", name, err)
		ch = nil
	}
	t0 := time.Now()
	act()
	ph.bound, ph.took, ph.reached, ph.last = o.waitBalanced(ctx, t0, want, b.scaleLimit, ch)
	stop()
	ph.between(m0, measure(live()), live())
	oreq := zkreq.Of(o.store).Sub(o0)
	ph.observer = oreq.Total()
	if ph.reached {
		fmt.Printf("  %s: %s (the observer sent %d requests: %v)\n    %v\n", name, secs(ph.took), ph.observer, oreq, ph.bound)
	} else {
		fmt.Printf("  %s: not reached after %.0f s (%v; the observer sent %d requests)\n", name, ph.took.Seconds(), ph.last, ph.observer)
	}
	return ph
}

// watchFigures are the ZooKeeper watches of the sessions once balanced.
type watchFigures struct {
	// total: wchs's total over every session (the observer's included).
	total int
	// fromWchc: the per-session figures below were counted (wchc); else
	// only total is known.
	fromWchc bool
	// perTypeMean, perTypeMax: watches of one session on one task type.
	perTypeMean float64
	perTypeMax  int
	// otherMean: watches of one session outside every task type (factory,
	// strategies).
	otherMean float64
}

// watchesOf asks ZooKeeper for its watches (wchs; wchc as well when there
// are at most wchcMaxWatches) and counts them per session and task type.
func (b *bench) watchesOf(ctx context.Context, sessions []*scaleSession, tts []schedule.TaskType) (watchFigures, error) {
	var w watchFigures
	addr := b.zk.Servers()[0]
	total, err := wchs(addr)
	if err != nil {
		return w, err
	}
	w.total = total
	if total > wchcMaxWatches {
		return w, nil
	}
	out, err := zktest.FourLetterWord(addr, "wchc", 30*time.Second)
	if err != nil {
		return w, err
	}
	var names []string
	for _, tt := range tts {
		names = append(names, tt.BaseTaskType)
	}
	counts, err := parseWchc(out, names)
	if err != nil {
		return w, err
	}
	n, sum, other := 0, 0, 0
	for _, ss := range sessions {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		sess, err := ss.store.Session(sctx)
		cancel()
		if err != nil {
			return w, fmt.Errorf("session of a store: %w", err)
		}
		c := counts[sess.ID()]
		for _, name := range names {
			k := 0
			if c != nil {
				k = c.byType[name]
			}
			n, sum, w.perTypeMax = n+1, sum+k, max(w.perTypeMax, k)
		}
		if c != nil {
			other += c.other
		}
	}
	w.fromWchc = true
	w.perTypeMean = float64(sum) / float64(max(n, 1))
	w.otherMean = float64(other) / float64(max(len(sessions), 1))
	return w, nil
}
