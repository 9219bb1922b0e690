package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/zktest"
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
	size      scaleSize
	path      readPath
	supported bool
	opened    time.Duration
	phases    []phase
	watches   watchFigures
	watchErr  error
	// heapPerSession, goroutinesPerSession: growth of the process from
	// before the sessions were opened to the first balance, per session.
	heapPerSession       float64
	goroutinesPerSession float64
	expired              int64
	stuck                int
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
	supported := true
	for _, z := range sizes {
		res := map[readPath]*scaleResult{}
		for _, p := range b.readPath.runs() {
			if ctx.Err() != nil {
				return sec, ctx.Err()
			}
			fmt.Printf("  %s, read path %s\n", z, p)
			r, err := b.scaleRun(ctx, z, p)
			if ctx.Err() != nil {
				return sec, ctx.Err()
			}
			part := Section{Columns: sec.Columns}
			if err != nil {
				part.row(z.String(), string(p), "not measured: "+err.Error(), "", "", "", "", "", "")
			} else {
				res[p] = r
				supported = supported && r.supported
				r.addTo(&part)
			}
			if old, nw := res[readOld], res[readNew]; old != nil && nw != nil {
				addRatios(&part, old, nw)
			}
			sec.Rows = append(sec.Rows, part.Rows...)
			for k, v := range part.Values {
				sec.set(k, v)
			}
		}
	}
	if !supported {
		sec.Note += "; " + readPathUnavailable
		fmt.Println(readPathUnavailable)
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
	a := strategy.NewAdmin(admin)
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
	every := 250 * time.Millisecond
	if z.items > 5000 {
		every = time.Second
	}
	return &observerStore{root: root, observer: observer{store: admin, tts: tts, every: every}}, nil
}

// observerStore is a size's root and its observer.
type observerStore struct {
	root string
	observer
}

// scaleRun runs one size on one read path: start, crash of 10 %, join.
func (b *bench) scaleRun(ctx context.Context, z scaleSize, p readPath) (*scaleResult, error) {
	run, err := b.scaleSetUp(ctx, z)
	if err != nil {
		return nil, err
	}
	defer run.store.Close()
	res := &scaleResult{size: z, path: p}
	heap0, g0 := heapInUse()
	t0 := time.Now()
	live, supported, err := b.openSessions(ctx, run.root, 0, z.sessions, run.tts, p == readOld)
	if err != nil {
		return nil, err
	}
	res.opened, res.supported = time.Since(t0), supported
	all := append([]*scaleSession(nil), live...)
	run.expired = func() int64 { return expiredOf(all) }
	var closing sync.WaitGroup
	defer func() {
		closing.Wait()
		res.stuck += finishAll(all, finishBound)
		res.expired = expiredOf(all)
	}()

	current := func() []*scaleSession { return live }
	start := b.scalePhase(ctx, &run.observer, "start → all balanced", current, z.sessions, func() {
		for _, ss := range live {
			ss.start(ctx)
		}
	})
	res.phases = append(res.phases, start)
	if !start.reached {
		return res, nil
	}
	heap1, g1 := heapInUse()
	res.heapPerSession = (float64(heap1) - float64(heap0)) / float64(z.sessions)
	res.goroutinesPerSession = float64(g1-g0) / float64(z.sessions)
	res.watches, res.watchErr = b.watchesOf(ctx, live, run.tts)

	kill := max(1, z.sessions/10)
	victims := live[:kill]
	live = live[kill:]
	crash := b.scalePhase(ctx, &run.observer, fmt.Sprintf("%d of %d sessions crashed → balanced again", kill, z.sessions), current, len(live), func() {
		for _, ss := range victims {
			ss.crash()
		}
		closing.Add(1)
		go func() { defer closing.Done(); finishAll(victims, finishBound) }()
	})
	res.phases = append(res.phases, crash)
	if !crash.reached {
		return res, nil
	}

	var joinErr error
	join := b.scalePhase(ctx, &run.observer, "1 session joins → balanced", current, len(live)+1, func() {
		var joined []*scaleSession
		joined, _, joinErr = b.openSessions(ctx, run.root, z.sessions, 1, run.tts, p == readOld)
		if joinErr == nil {
			joined[0].start(ctx)
			live = append(live, joined[0])
			all = append(all, joined[0])
		}
	})
	if joinErr != nil {
		return res, fmt.Errorf("join: %w", joinErr)
	}
	res.phases = append(res.phases, join)
	return res, nil
}

// scalePhase measures the live sessions, runs act, waits until the observer
// sees every task type balanced over want servers (or the limit passes) and
// measures the sessions live then: live is called before act and after the
// wait.
func (b *bench) scalePhase(ctx context.Context, o *observer, name string, live func() []*scaleSession, want int, act func()) phase {
	ph := phase{name: name}
	m0 := measure(live())
	t0 := time.Now()
	act()
	ph.took, ph.reached, ph.last = o.waitBalanced(ctx, t0, want, b.scaleLimit)
	ph.between(m0, measure(live()), live())
	if ph.reached {
		fmt.Printf("  %s: %s\n", name, secs(ph.took))
	} else {
		fmt.Printf("  %s: not reached after %.0f s (%v)\n", name, ph.took.Seconds(), ph.last)
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
