package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// sessionTimeout is asked of ZooKeeper by every store of the benchmark (the
// test servers tick every 100 ms, so 2 s is within their bounds).
const sessionTimeout = 2 * time.Second

// bench holds the ZooKeeper server every scenario uses, each under its own root.
type bench struct {
	zk     *zktest.Cluster
	quick  bool
	trials int
	// scaleSizes overrides the scale scenario's sizes (empty: the
	// default); readPath chooses the managers' read path there, and
	// scaleLimit bounds each of its waits for balance.
	scaleSizes scaleSizes
	readPath   readPath
	scaleLimit time.Duration
	// timelinePath: write each scale run's timeline there (-scale-timeline;
	// empty: none); tl is the timeline of the run under way.
	timelinePath string
	tl           *timeline
	// steadyItems overrides the steady scenario's item counts;
	// steadyNoBaseline skips its runs without the stamp.
	steadyItems      []int
	steadyNoBaseline bool
	roots            atomic.Int64
	// children are ZooKeeper and the workers, killed if the run is
	// abandoned.
	children children
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func (b *bench) root(name string) string {
	return fmt.Sprintf("/tbsbench/%s-%d-%d", name, time.Now().UnixNano(), b.roots.Add(1))
}

func storeConfig(servers []string, root string) zkstore.Config {
	return zkstore.Config{Servers: servers, Root: root, SessionTimeout: sessionTimeout,
		Auth: zkstore.Digest("tbsbench", "secret"), CalibrationInterval: time.Minute}
}

func (b *bench) open(ctx context.Context, root string) (*zkstore.Store, error) {
	return zkstore.Open(ctx, storeConfig(b.zk.Servers(), root), zkstore.WithLogger(quiet))
}

// setUp makes a fresh root named after the scenario, opens the observer's
// store on it and creates the task types there.
func (b *bench) setUp(ctx context.Context, scenario string, tts ...schedule.TaskType) (root string, admin *zkstore.Store, err error) {
	root = b.root(scenario)
	if admin, err = b.open(ctx, root); err != nil {
		return "", nil, err
	}
	for _, tt := range tts {
		if _, err := admin.CreateTaskType(ctx, tt); err != nil {
			_ = admin.Close()
			return "", nil, err
		}
	}
	return root, admin, nil
}

// itemDefs returns n item definitions "0".."n-1".
func itemDefs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// taskType is the benchmark's task type: n items, the given heartbeat.
func taskType(name string, items int) schedule.TaskType {
	tt := schedule.DefaultTaskType(name)
	tt.DealBeanName = "benchDeal"
	tt.TaskItems = itemDefs(items)
	tt.HeartBeatRate = time.Second
	tt.JudgeDeadInterval = 10 * time.Second
	tt.SleepTimeNoData = 200 * time.Millisecond
	tt.ThreadNumber = 1
	return tt
}

// firstSeen records when each item was first processed, by anyone.
type firstSeen struct {
	mu    sync.Mutex
	first map[string]time.Time
	want  int
	all   chan struct{}
}

func newFirstSeen(want int) *firstSeen {
	return &firstSeen{first: map[string]time.Time{}, want: want, all: make(chan struct{})}
}

func (f *firstSeen) saw(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.first[id]; ok {
		return
	}
	f.first[id] = time.Now()
	if len(f.first) == f.want {
		close(f.all)
	}
}

// onceDeal is a deal that processes one record per owned item, once per
// owner: select returns the items this server has not processed yet, so
// servers go idle (no data) once their items are done and processing starts
// again on an item that moves. seen, if not nil, hears every item processed.
func onceDeal(seen func(id string)) processor.Deal {
	var mu sync.Mutex
	done := map[string]bool{}
	return processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			var out []string
			for _, it := range req.Items {
				if !done[it.ID] {
					out = append(out, it.ID)
				}
			}
			return out, nil
		},
		func(ctx context.Context, id string, ownSign string) error {
			mu.Lock()
			done[id] = true
			mu.Unlock()
			if seen != nil {
				seen(id)
			}
			return nil
		}, processor.WithKey(func(id string) string { return id }))
}

// state is one observation of a runtime.
type state struct {
	servers []schedule.ServerID
	items   schedule.Items
}

func observe(ctx context.Context, s interface {
	storekit.ServerStore
	storekit.ItemStore
}, rt string) (state, error) {
	svs, err := s.Servers(ctx, rt)
	if err != nil {
		return state{}, err
	}
	items, err := s.Items(ctx, rt)
	if err != nil {
		return state{}, err
	}
	st := state{items: items}
	for _, sv := range svs {
		st.servers = append(st.servers, sv.UUID)
	}
	return st, nil
}

// ownedBy reports whether every active item has an owner among live.
func (st state) ownedBy(live map[schedule.ServerID]bool) bool {
	n := 0
	for _, it := range st.items.Items {
		if it.Sts == schedule.ItemRemoved {
			continue
		}
		n++
		if !live[it.CurServer] {
			return false
		}
	}
	return n > 0
}

// balanced: every item owned by a live server, loads within ±1, nothing pending.
func (st state) balanced(wantServers int) bool {
	_, ok := checkBalance(st.servers, st.items.Items, wantServers, 0)
	return ok
}

// poll calls cond every interval until it returns true, an error, or the
// timeout passes.
func poll(ctx context.Context, interval, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not reached within %v", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// percentile returns the p-th percentile (nearest rank) of d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// group runs managers in this process, each on its own store (session).
type group struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stores []*zkstore.Store
	mgrs   []*manager.Manager
	errs   chan error
}

func newGroup() *group { return &group{errs: make(chan error, 1024)} }

// start runs m until the group stops.
func (g *group) start(ctx context.Context, m *manager.Manager) {
	g.mgrs = append(g.mgrs, m)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := m.Run(ctx); err != nil && ctx.Err() == nil {
			select {
			case g.errs <- err:
			default:
			}
		}
	}()
}

// stop ends every manager (gracefully) and closes the stores.
func (g *group) stop() {
	if g.cancel != nil {
		g.cancel()
	}
	g.wg.Wait()
	for _, s := range g.stores {
		_ = s.Close()
	}
}

func managerConfig(host string) schedule.ManagerConfig {
	c := schedule.DefaultManagerConfig()
	c.IP, c.HostName = "127.0.0.1", host
	return c
}
