package itest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/readpath"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/internal/zkreq"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// BenchmarkReadPath measures, on a ZooKeeper server of its own, what the
// managers' way of following their items costs per server: sessions
// processes (one store each) run one manager per task type, the items
// split evenly over the task types. It reports the ZooKeeper watches per
// session once balanced (mntr, wchs) and the requests each process sent for the
// join of one more process (until balanced, and quiet again), for the note
// boxes ("notes") and for the previous read path ("old", internal/readpath).
// Numbers, not assertions:
//
//	TBS_REQUIRE_ZK=1 go test -run '^$' -bench BenchmarkReadPath -benchtime 1x ./internal/testinfra/itest/
//
// TBS_BENCH_SCALE=sessions,types,items changes the size (default 20,2,2000).
func BenchmarkReadPath(b *testing.B) {
	sessions, types, items := 20, 2, 2000
	if v := os.Getenv("TBS_BENCH_SCALE"); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d,%d", &sessions, &types, &items); err != nil {
			b.Fatalf("TBS_BENCH_SCALE=%q: want sessions,types,items: %v", v, err)
		}
	}
	for _, old := range []bool{false, true} {
		name := "notes"
		if old {
			name = "old"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				readPathRun(b, old, sessions, types, items)
			}
		})
	}
}

// process is one simulated process: a store and its managers.
type process struct {
	store *zkstore.Store
	mgrs  []*manager.Manager
	stop  []context.CancelFunc
	done  []chan error
}

func readPathRun(b *testing.B, old bool, sessions, types, items int) {
	c := zktest.StartStandalone(b)
	be := zkBackend(b, c)
	admin := be.open(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var tts []schedule.TaskType
	for i := range types {
		tt := testTaskType("scale"+strconv.Itoa(i), items/types)
		tt.DealBeanName = "idle"
		if _, err := admin.CreateTaskType(ctx, tt); err != nil {
			b.Fatal(err)
		}
		tts = append(tts, tt)
	}
	readpath.UseOld(old)
	defer readpath.UseOld(false)
	var procs []*process
	start := time.Now()
	for i := range sessions {
		procs = append(procs, startProcess(b, be, tts, i))
	}
	balanced := waitProcsBalanced(b, procs, tts, items/types)
	b.Logf("%d sessions × %d task types × %d items: start → balanced %v", sessions, types, items, balanced.Sub(start).Round(time.Millisecond))
	data, all := watchCounts(b, c)
	perSession := float64(all) / float64(sessions)
	b.Logf("ZooKeeper watches: %d in all (%d data watches, wchs; the rest children watches), %.1f per session, %.1f per session and task type",
		all, data, perSession, perSession/float64(types))
	b.ReportMetric(perSession/float64(types), "watches/session/type")

	procs = measureJoin(b, be, procs, tts, items/types)
	for _, p := range procs {
		p.close(b)
	}
}

// measureJoin starts one more process and reports the requests every
// process sent until the runtime is balanced and quiet again.
func measureJoin(b *testing.B, be backend, procs []*process, tts []schedule.TaskType, perType int) []*process {
	sessions := len(procs)
	before := make([]zkreq.Stats, sessions)
	for i, p := range procs {
		before[i] = zkreq.Of(p.store)
	}
	joined := time.Now()
	procs = append(procs, startProcess(b, be, tts, sessions))
	balanced := waitProcsBalanced(b, procs, tts, perType)
	waitQuiet(b, procs)
	var reads, maxReads, reqs uint64
	for i := range before {
		d := zkreq.Of(procs[i].store).Sub(before[i])
		r := d.Get + d.Children + d.Exists
		reads += r
		maxReads = max(maxReads, r)
		reqs += d.Total() - d.Probe
	}
	b.Logf("the first session's requests for the join: %s", zkreq.Of(procs[0].store).Sub(before[0]))
	joiner := zkreq.Of(procs[sessions].store)
	b.Logf("join of 1 → balanced %v; reads per existing session: mean %.1f, max %d; requests per existing session %.1f; the joiner: %d reads, %d requests",
		balanced.Sub(joined).Round(time.Millisecond), float64(reads)/float64(sessions), maxReads, float64(reqs)/float64(sessions),
		joiner.Get+joiner.Children+joiner.Exists, joiner.Total()-joiner.Probe)
	b.ReportMetric(float64(reads)/float64(sessions), "reads/session/join")
	b.ReportMetric(float64(maxReads), "maxreads/session/join")
	return procs
}

func startProcess(b *testing.B, be backend, tts []schedule.TaskType, i int) *process {
	store := be.open(b).(*zkstore.Store)
	p := &process{store: store}
	for _, tt := range tts {
		cfg := schedule.DefaultManagerConfig()
		cfg.IP, cfg.HostName, cfg.ShutdownTimeout = "127.0.0.1", "p"+strconv.Itoa(i), 2*time.Second
		m, err := manager.NewManager(store, tt, "", idleDeal(), cfg,
			manager.WithLogger(testLogger()), manager.WithClock(be.clock))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		p.mgrs, p.stop, p.done = append(p.mgrs, m), append(p.stop, cancel), append(p.done, done)
	}
	return p
}

func (p *process) close(b *testing.B) {
	for i, stop := range p.stop {
		stop()
		select {
		case <-p.done[i]:
		case <-time.After(30 * time.Second):
			b.Fatalf("a manager did not stop within 30s")
		}
	}
}

// waitProcsBalanced polls the managers' Status (no ZooKeeper request) until
// every task type's items are owned, none is being released, and the loads
// differ by at most one; it returns when.
func waitProcsBalanced(b *testing.B, procs []*process, tts []schedule.TaskType, perType int) time.Time {
	deadline := time.Now().Add(5 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok := true
		for k := range tts {
			lo, hi, sum := perType, 0, 0
			for _, p := range procs {
				st := p.mgrs[k].Status()
				n := len(st.Owned)
				if len(st.Releasing) > 0 {
					ok = false
				}
				lo, hi, sum = min(lo, n), max(hi, n), sum+n
			}
			ok = ok && sum == perType && hi-lo <= 1
		}
		if ok {
			return time.Now()
		}
		if time.Now().After(deadline) {
			b.Fatalf("not balanced within 5 minutes")
		}
		<-tick.C
	}
}

// waitQuiet waits until the processes' reads stop growing for a few
// polls: the rounds that follow a rebalance (notes consumed, trailing
// rounds) counted too. Periodic resyncs and heartbeats go on; a stretch
// without reads ends it.
func waitQuiet(b *testing.B, procs []*process) {
	reads := func() uint64 {
		var n uint64
		for _, p := range procs {
			d := zkreq.Of(p.store)
			n += d.Get + d.Children + d.Exists
		}
		return n
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last, still := reads(), 0
	for deadline := time.Now().Add(time.Minute); still < 3 && time.Now().Before(deadline); {
		<-tick.C
		if n := reads(); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
}

// watchCounts asks the server for its watches: the data watches (wchs,
// which leaves children watches out) and every watch (mntr's
// zk_watch_count).
func watchCounts(b *testing.B, c *zktest.Cluster) (data, all int) {
	addr := c.Servers()[0]
	out, err := zktest.FourLetterWord(addr, "wchs", 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	if m := regexp.MustCompile(`Total watches:(\d+)`).FindStringSubmatch(out); m != nil {
		data, _ = strconv.Atoi(m[1])
	}
	out, err = zktest.FourLetterWord(addr, "mntr", 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "zk_watch_count" {
			all, _ = strconv.Atoi(f[1])
		}
	}
	return data, all
}
