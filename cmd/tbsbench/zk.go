package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/internal/zkreq"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// startGroup opens one store per manager and starts n managers of tt.
func (b *bench) startGroup(ctx context.Context, root string, tt schedule.TaskType, n int, cfg func(*schedule.ManagerConfig), wrap func(storekit.Store) storekit.Store, deal func() processor.Deal) (*group, error) {
	g := newGroup()
	gctx, cancel := context.WithCancel(ctx)
	g.cancel = cancel
	for i := range n {
		s, err := b.open(ctx, root)
		if err != nil {
			g.stop()
			return nil, err
		}
		g.stores = append(g.stores, s)
		mc := managerConfig(fmt.Sprintf("bench-%d", i))
		if cfg != nil {
			cfg(&mc)
		}
		var store storekit.Store = s
		if wrap != nil {
			store = wrap(s)
		}
		m, err := manager.NewManager(store, tt, "", deal(), mc, manager.WithLogger(quiet))
		if err != nil {
			g.stop()
			return nil, err
		}
		g.start(gctx, m)
	}
	return g, nil
}

// startup: 10 servers × 100 items, from opening the stores to every item
// owned (balanced) and processed once.
func (b *bench) startup(ctx context.Context) (Section, error) {
	const servers, items = 10, 100
	sec := Section{Name: "startup", Columns: []string{"event", "time"},
		Note: fmt.Sprintf("%d managers in this process, each on its own ZooKeeper session, %d items; from opening the first session", servers, items)}
	tt := taskType("startup", items)
	root, admin, err := b.setUp(ctx, "startup", tt)
	if err != nil {
		return sec, err
	}
	defer admin.Close()
	seen := newFirstSeen(items)
	t0 := time.Now()
	g, err := b.startGroup(ctx, root, tt, servers, nil, nil, func() processor.Deal { return onceDeal(seen.saw) })
	if err != nil {
		return sec, err
	}
	defer g.stop()
	opened := time.Since(t0)
	var balanced time.Duration
	err = poll(ctx, 20*time.Millisecond, time.Minute, "balanced", func() (bool, error) {
		st, err := observe(ctx, admin, "startup")
		if err != nil || !st.balanced(servers) {
			return false, err
		}
		balanced = time.Since(t0)
		return true, nil
	})
	if err != nil {
		return sec, err
	}
	select {
	case <-seen.all:
	case <-time.After(time.Minute):
		return sec, errors.New("not every item was processed within a minute")
	case <-ctx.Done():
		return sec, ctx.Err()
	}
	var last time.Time
	for _, at := range seen.first {
		if at.After(last) {
			last = at
		}
	}
	processed := last.Sub(t0)
	sec.row(fmt.Sprintf("%d sessions opened", servers), ms(opened))
	sec.row("all items owned, loads within ±1", ms(balanced))
	sec.row("every item processed at least once", ms(processed))
	sec.set("sessions_opened_s", opened.Seconds())
	sec.set("balanced_s", balanced.Seconds())
	sec.set("all_processed_s", processed.Seconds())
	return sec, nil
}

// noStamp hides the items stamp from the manager, which then reads every
// item at every round: the behaviour before the stamp, for comparison.
type noStamp struct{ storekit.Store }

func (n noStamp) Items(ctx context.Context, rt string) (schedule.Items, error) {
	it, err := n.Store.Items(ctx, rt)
	it.Stamp = ""
	return it, err
}

// mntr returns the numeric fields of ZooKeeper's mntr answer.
func mntr(addr string) (map[string]float64, error) {
	out, err := zktest.FourLetterWord(addr, "mntr", 5*time.Second)
	if err != nil {
		return nil, err
	}
	vals := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			vals[f[0]] = v
		}
	}
	if _, ok := vals["zk_packets_received"]; !ok {
		return nil, fmt.Errorf("mntr: no zk_packets_received in %q", out)
	}
	return vals, nil
}

// wchs returns the total number of watches ZooKeeper holds.
func wchs(addr string) (int, error) {
	out, err := zktest.FourLetterWord(addr, "wchs", 5*time.Second)
	if err != nil {
		return 0, err
	}
	// "N connections watching M paths\nTotal watches:W\n"
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Total watches:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("wchs: no total in %q", out)
}

// steady: requests per server per second while nothing changes.
func (b *bench) steady(ctx context.Context) (Section, error) {
	const servers = 10
	resync := 2 * time.Second
	window := 30 * time.Second
	type run struct {
		items int
		stamp bool
	}
	runs := []run{{100, true}, {1000, true}, {10000, true}, {100, false}, {1000, false}, {10000, false}}
	if b.quick {
		window = 3 * time.Second
		resync = time.Second
		runs = []run{{100, true}, {1000, true}, {1000, false}}
	}
	if len(b.steadyItems) > 0 {
		runs = nil
		for _, stamp := range []bool{true, false} {
			for _, n := range b.steadyItems {
				if stamp || !b.steadyNoBaseline {
					runs = append(runs, run{n, stamp})
				}
			}
		}
	}
	sec := Section{Name: "steady",
		Columns: []string{"items", "manager", "client req/s per server", "reads/s", "writes/s", "watch re-arms/s", "probes/s", "ZooKeeper packets/s per server", "watches per server"},
		Note: fmt.Sprintf("%d managers, each on its own session, balanced and idle; %v window; heartbeat every 1 s, resync every %v, liveness probe every %v; "+
			"client = zkstore's request counters, ZooKeeper = mntr zk_packets_received and wchs (includes the idle observer session's probes)",
			servers, window, resync, sessionTimeout/6)}
	for _, r := range runs {
		name := "with items stamp"
		if !r.stamp {
			name = "without stamp (before the fix)"
		}
		fmt.Printf("  %d items, %s ...\n", r.items, name)
		res, err := b.steadyRun(ctx, servers, r.items, r.stamp, resync, window)
		if ctx.Err() != nil {
			return sec, ctx.Err()
		}
		if err != nil {
			// Keep the other rows: this one says why it has no figures.
			fmt.Printf("  %d items, %s: %v\n", r.items, name, err)
			sec.row(strconv.Itoa(r.items), name, "not measured: "+err.Error(), "", "", "", "", "", "")
			continue
		}
		if res.churn {
			name += " (never quiet: ownership kept changing)"
		}
		key := fmt.Sprintf("%d_%s", r.items, map[bool]string{true: "stamp", false: "nostamp"}[r.stamp])
		f := func(v float64) string { return fmt.Sprintf("%.2f", v) }
		sec.row(strconv.Itoa(r.items), name, f(res.total), f(res.reads), f(res.writes), f(res.watch), f(res.probe), f(res.zkPackets), strconv.Itoa(res.watches))
		sec.set(key+"_client_req_per_s", res.total)
		sec.set(key+"_reads_per_s", res.reads)
		sec.set(key+"_writes_per_s", res.writes)
		sec.set(key+"_zk_packets_per_s", res.zkPackets)
		sec.set(key+"_watches", float64(res.watches))
	}
	return sec, nil
}

type steadyResult struct {
	total, reads, writes, watch, probe, zkPackets float64
	watches                                       int
	// churn: items still changed owner 90 s after balance (no quiet stretch).
	churn bool
}

func (b *bench) steadyRun(ctx context.Context, servers, items int, stamp bool, resync, window time.Duration) (steadyResult, error) {
	var res steadyResult
	tt := taskType("steady", items)
	root, admin, err := b.setUp(ctx, "steady", tt)
	if err != nil {
		return res, err
	}
	defer admin.Close()
	var wrap func(storekit.Store) storekit.Store
	if !stamp {
		wrap = func(s storekit.Store) storekit.Store { return noStamp{s} }
	}
	g, err := b.startGroup(ctx, root, tt, servers, func(c *schedule.ManagerConfig) { c.ResyncInterval = resync }, wrap,
		func() processor.Deal { return onceDeal(nil) })
	if err != nil {
		return res, err
	}
	defer g.stop()
	err = poll(ctx, 500*time.Millisecond, 5*time.Minute, "balanced", func() (bool, error) {
		st, err := observe(ctx, admin, "steady")
		return err == nil && st.balanced(servers), err
	})
	if err != nil {
		return res, err
	}
	// Settle: wait until no store arms watches or writes items any more
	// (watch arming and the last handovers' rounds), for two resyncs.
	sumQuiet := func() uint64 {
		var n uint64
		for _, s := range g.stores {
			r := zkreq.Of(s)
			n += r.Watch + r.Multi + r.Create + r.Delete
		}
		return n
	}
	last, quietSince := sumQuiet(), time.Now()
	err = poll(ctx, 250*time.Millisecond, 90*time.Second, "quiet", func() (bool, error) {
		if n := sumQuiet(); n != last {
			last, quietSince = n, time.Now()
		}
		return time.Since(quietSince) >= 2*resync, nil
	})
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	// Never quiet (the items keep changing hands): measure anyway, and say so.
	res.churn = err != nil
	addr := b.zk.Servers()[0]
	before := make([]zkreq.Stats, len(g.stores))
	for i, s := range g.stores {
		before[i] = zkreq.Of(s)
	}
	m0, err := mntr(addr)
	if err != nil {
		return res, err
	}
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	m1, err := mntr(addr)
	if err != nil {
		return res, err
	}
	var sum zkreq.Stats
	for i, s := range g.stores {
		d := zkreq.Of(s).Sub(before[i])
		sum.Get += d.Get
		sum.Children += d.Children
		sum.Exists += d.Exists
		sum.Create += d.Create
		sum.Set += d.Set
		sum.Delete += d.Delete
		sum.Multi += d.Multi
		sum.Sync += d.Sync
		sum.Watch += d.Watch
		sum.Probe += d.Probe
		sum.Auth += d.Auth
	}
	per := func(n uint64) float64 { return float64(n) / window.Seconds() / float64(servers) }
	res.total = per(sum.Total())
	res.reads = per(sum.Get + sum.Children + sum.Exists + sum.Sync)
	res.writes = per(sum.Create + sum.Set + sum.Delete + sum.Multi)
	res.watch = per(sum.Watch)
	res.probe = per(sum.Probe)
	res.zkPackets = (m1["zk_packets_received"] - m0["zk_packets_received"]) / window.Seconds() / float64(servers)
	w, err := wchs(addr)
	if err != nil {
		return res, err
	}
	res.watches = w / servers
	select {
	case err := <-g.errs:
		return res, fmt.Errorf("a manager failed: %w", err)
	default:
	}
	return res, nil
}

// throughput: records per second through a strategy factory.
func (b *bench) throughput(ctx context.Context) (Section, error) {
	window := 10 * time.Second
	if b.quick {
		window = time.Second
	}
	sec := Section{Name: "throughput", Columns: []string{"processor", "deal", "threads", "records/s"},
		Note: fmt.Sprintf("one strategy factory on ZooKeeper runs the task type (1 item, 10 threads, fetches of 500); the deal's select hands out endless records; %v window after the first record", window)}
	for _, pt := range []schedule.ProcessorType{schedule.ProcessorSleep, schedule.ProcessorNotSleep} {
		for _, dealTime := range []time.Duration{0, time.Millisecond} {
			rate, err := b.throughputRun(ctx, pt, dealTime, window)
			if err != nil {
				return sec, err
			}
			deal := "empty"
			if dealTime > 0 {
				deal = "1 ms sleep"
			}
			sec.row(string(pt), deal, "10", fmt.Sprintf("%.0f", rate))
			sec.set(fmt.Sprintf("%s_%s_per_s", pt, strings.ReplaceAll(deal, " ", "_")), rate)
		}
	}
	return sec, nil
}

func (b *bench) throughputRun(ctx context.Context, pt schedule.ProcessorType, dealTime, window time.Duration) (float64, error) {
	root := b.root("throughput")
	store, err := b.open(ctx, root)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	admin := strategy.NewAdmin(store, strategy.AdminConfig{})
	tt := taskType("tput", 1)
	tt.ThreadNumber = 10
	tt.FetchDataNumber = 500
	tt.ProcessorType = pt
	st := schedule.DefaultStrategy("tput-s")
	st.TaskName = "tput"
	for _, apply := range []func() (bool, error){
		func() (bool, error) { return admin.ApplyTaskType(ctx, tt) },
		func() (bool, error) { return admin.ApplyStrategy(ctx, st) },
	} {
		if _, err := apply(); err != nil {
			return 0, err
		}
	}
	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", "tput"
	f, err := strategy.NewFactory(store, cfg, strategy.WithLogger(quiet))
	if err != nil {
		return 0, err
	}
	var next, done atomic.Int64
	err = f.RegisterDeal("benchDeal", processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]int64, error) {
			out := make([]int64, req.FetchNum)
			for i := range out {
				out[i] = next.Add(1)
			}
			return out, nil
		},
		func(ctx context.Context, n int64, ownSign string) error {
			if dealTime > 0 {
				time.Sleep(dealTime)
			}
			done.Add(1)
			return nil
		}, processor.WithKey(func(n int64) int64 { return n })))
	if err != nil {
		return 0, err
	}
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.Run(fctx) }()
	defer func() { cancel(); wg.Wait() }()
	if err := poll(ctx, 10*time.Millisecond, time.Minute, "first record", func() (bool, error) { return done.Load() > 0, nil }); err != nil {
		return 0, err
	}
	n0, t0 := done.Load(), time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(done.Load()-n0) / time.Since(t0).Seconds(), nil
}
