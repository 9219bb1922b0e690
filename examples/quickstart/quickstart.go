package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// The scenario's names.
const (
	taskTypeName = "quickstart"
	strategyName = "quickstart-s"
	dealName     = "recordDeal"
	numItems     = 10
	killedIndex  = 1 // factory-b
)

var factoryNames = []string{"factory-a", "factory-b", "factory-c"}

// options are the quickstart's knobs (flags).
type options struct {
	zk      []string // empty: memstore
	root    string
	records int
	session time.Duration
	log     *slog.Logger // nil: discard
}

func defaultOptions() options {
	return options{root: "/tbs-quickstart", records: 300, session: 2 * time.Second}
}

// errKilled is what the deal of a killed factory answers: a dead process
// does nothing.
var errKilled = errors.New("quickstart: factory killed")

// record is one unit of work: row id belongs to item id mod 10.
type record struct{ ID int }

// table is the "database" the deals read and write: rows, and for each row
// how often it was executed and by whom.
type table struct {
	mu   sync.Mutex // guards rows
	rows []row
}

type row struct {
	done  bool
	by    string
	execs int
}

func (t *table) add(n int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for range n {
		t.rows = append(t.rows, row{})
	}
	return len(t.rows)
}

// pending returns up to max undone rows of the given items.
func (t *table) pending(items []processor.TaskItem, itemNum, max int) []record {
	want := map[int]bool{}
	for _, it := range items {
		if n, err := strconv.Atoi(it.ID); err == nil {
			want[n] = true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []record
	for id, r := range t.rows {
		if !r.done && want[id%itemNum] {
			out = append(out, record{ID: id})
			if len(out) == max {
				break
			}
		}
	}
	return out
}

// markDone records one execution of row id by factory.
func (t *table) markDone(id int, factory string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &t.rows[id]
	r.execs++ // a second execution shows in the report as a duplicate
	if !r.done {
		r.done, r.by = true, factory
	}
}

// counts returns produced, done, and done per factory.
func (t *table) counts() (produced, done int, by map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	by = map[string]int{}
	for _, r := range t.rows {
		if r.done {
			done++
			by[r.by]++
		}
	}
	return len(t.rows), done, by
}

// node is one factory with its own connection to the store.
type node struct {
	name   string
	kill   func() // cuts the connection for good
	close  func() // closes the store; idempotent
	f      *strategy.Factory
	dead   atomic.Bool
	cancel context.CancelFunc
	done   chan error
}

// backend opens connections to the store the run uses.
type backend struct {
	name    string
	connect func(ctx context.Context, name string) (store storekit.Store, kill, close func(), err error)
}

func memBackend(o options) backend {
	srv := memstore.New(memstore.Config{})
	return backend{name: "the in-memory store", connect: func(_ context.Context, _ string) (storekit.Store, func(), func(), error) {
		c := srv.Connect(memstore.ClientConfig{SessionTimeout: o.session})
		// A cut much longer than the run: the session expires at the
		// server after the session timeout, as a dead process's would.
		return c, func() { c.Disconnect(24 * time.Hour) }, func() { c.Close() }, nil
	}}
}

func zkBackend(o options, log *slog.Logger) backend {
	return backend{name: "ZooKeeper at " + strings.Join(o.zk, ","), connect: func(ctx context.Context, name string) (storekit.Store, func(), func(), error) {
		d := &cutDialer{}
		s, err := zkstore.Open(ctx, zkstore.Config{Servers: o.zk, Root: o.root, SessionTimeout: o.session,
			ConnectTimeout: 10 * time.Second, Dialer: d.dial}, zkstore.WithLogger(log.With("factory", name)))
		if err != nil {
			return nil, nil, nil, err
		}
		return s, d.cut, func() { s.Close() }, nil
	}}
}

// cutDialer opens the TCP connections of one ZooKeeper client and can cut
// them for good: the server then hears nothing more from the session and
// expires it, exactly as for a crashed process.
type cutDialer struct {
	mu    sync.Mutex // guards isCut and conns
	isCut bool
	conns []net.Conn
}

func (d *cutDialer) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isCut {
		c.Close()
		return nil, fmt.Errorf("dial %s: cut off by the quickstart", addr)
	}
	d.conns = append(d.conns, c)
	return c, nil
}

func (d *cutDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.isCut = true
	for _, c := range d.conns {
		c.Close()
	}
}

// factoryReport is what one factory did.
type factoryReport struct {
	Name        string
	Server      schedule.ServerID
	Killed      bool
	ItemsBefore []string // owned just before the kill
	ItemsAfter  []string // owned at the end (none for the killed one)
	Records     int      // rows it marked done
}

// report is the outcome of a run: every number is computed from the table
// and the store.
type report struct {
	Backend        string
	SessionTimeout time.Duration
	LockDelay      time.Duration // the killed thread group's, as its record published it
	Factories      []factoryReport
	Takeover       time.Duration // kill -> every item owned by a live thread group
	MovedItems     []string      // the killed factory's items
	Produced       int
	Processed      int   // rows done
	Executions     int   // executions counted over all rows
	Duplicates     []int // rows executed more than once
	Missing        []int // rows never done
	Elapsed        time.Duration
}

// OK reports whether every record was processed exactly once.
func (r *report) OK() bool {
	return r.Produced > 0 && r.Processed == r.Produced && r.Executions == r.Produced &&
		len(r.Duplicates) == 0 && len(r.Missing) == 0
}

// run plays the scenario and prints the stream and the report on out.
func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	log := o.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := memBackend(o)
	if len(o.zk) > 0 {
		b = zkBackend(o, log)
	}
	start := time.Now()
	at := func() string { return fmt.Sprintf("%5.1fs", time.Since(start).Seconds()) }
	fmt.Fprintf(out, "tbschedule-go quickstart on %s: 3 factories, task type %q with %d items, %d records\n\n",
		b.name, taskTypeName, numItems, o.records)

	// The configuration, as an operator (or tbsctl apply) would write it.
	adminStore, _, closeAdmin, err := b.connect(ctx, "admin")
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer closeAdmin()
	admin := strategy.NewAdmin(adminStore, strategy.AdminConfig{})
	tt := schedule.DefaultTaskType(taskTypeName)
	tt.DealBeanName = dealName
	tt.ThreadNumber = 2
	tt.FetchDataNumber = 10
	tt.SleepTimeNoData = 100 * time.Millisecond
	for i := range numItems {
		tt.TaskItems = append(tt.TaskItems, strconv.Itoa(i))
	}
	st := schedule.DefaultStrategy(strategyName)
	st.TaskName, st.AssignNum, st.NumOfSingleServer = taskTypeName, 3, 1
	if _, err := admin.ApplyTaskType(ctx, tt); err != nil {
		return nil, fmt.Errorf("apply task type: %w", err)
	}
	if _, err := admin.ApplyStrategy(ctx, st); err != nil {
		return nil, fmt.Errorf("apply strategy: %w", err)
	}

	tab := &table{}
	nodes := make([]*node, len(factoryNames))
	defer func() { // whatever happened, stop everything before returning
		for _, n := range nodes {
			if n != nil {
				stopNode(n, true)
			}
		}
	}()
	for i, name := range factoryNames {
		n, err := startNode(ctx, b, name, tab, log)
		if err != nil {
			return nil, err
		}
		nodes[i] = n
	}
	fmt.Fprintf(out, "%s  started %s\n", at(), strings.Join(factoryNames, ", "))

	rep := &report{Backend: b.name}
	if s, ok := adminStore.(interface {
		Session(context.Context) (storekit.Session, error)
	}); ok {
		if sess, err := s.Session(ctx); err == nil {
			rep.SessionTimeout = sess.Timeout()
		}
	}

	// Produce the records in 30 steps, kill factory-b when half are out
	// (and the items are balanced), keep producing, and wait until every
	// record is done.
	const steps = 30
	produced := 0
	killedAt := time.Time{}
	victim := nodes[killedIndex]
	var before map[string][]string
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastPrint := time.Now()
	deadline := time.Now().Add(45 * time.Second)
	for step := 0; ; step++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			p, d, _ := tab.counts()
			return nil, fmt.Errorf("not done within 45s: %d of %d records processed", d, p)
		}
		if step < steps {
			produced = tab.add(o.records*(step+1)/steps - produced)
		}
		if killedAt.IsZero() && produced >= o.records/2 {
			owners, ok := ownersIfBalanced(nodes)
			if ok {
				before = owners
				if ms := managers(victim); len(ms) == 1 {
					rep.LockDelay = publishedLockDelay(ctx, adminStore, ms[0].Server)
				}
				victim.dead.Store(true)
				victim.kill()
				killedAt = time.Now()
				fmt.Fprintf(out, "%s  KILL %s (items %s): cut off from the store, its deal stopped\n",
					at(), victim.name, strings.Join(owners[victim.name], ","))
				rep.MovedItems = owners[victim.name]
			}
		}
		if !killedAt.IsZero() && rep.Takeover == 0 {
			if ok, err := takenOver(ctx, adminStore, nodes); err == nil && ok {
				rep.Takeover = time.Since(killedAt)
				fmt.Fprintf(out, "%s  items %s owned again by the live factories: takeover %v after the kill\n",
					at(), strings.Join(rep.MovedItems, ","), rep.Takeover.Round(time.Millisecond))
			}
		}
		p, d, by := tab.counts()
		if time.Since(lastPrint) >= 500*time.Millisecond || (d == p && step >= steps) {
			lastPrint = time.Now()
			fmt.Fprintf(out, "%s  produced %4d  processed %4d  (a %d, b %d, c %d)\n",
				at(), p, d, by["factory-a"], by["factory-b"], by["factory-c"])
		}
		if step >= steps && d == p && rep.Takeover != 0 {
			break
		}
	}

	// Final ownership, then a graceful stop of the live factories.
	after := map[string][]string{}
	for i, n := range nodes {
		fr := factoryReport{Name: n.name, Killed: i == killedIndex, ItemsBefore: before[n.name]}
		if ms := managers(n); len(ms) > 0 {
			fr.Server = ms[0].Server
			if !fr.Killed {
				fr.ItemsAfter = ownedIDs(ms[0])
				after[n.name] = fr.ItemsAfter
			}
		}
		rep.Factories = append(rep.Factories, fr)
	}
	for i, n := range nodes {
		stopNode(n, i == killedIndex)
		nodes[i] = nil
	}
	cleanup(ctx, admin)

	tab.mu.Lock()
	rep.Produced = len(tab.rows)
	for id, r := range tab.rows {
		rep.Executions += r.execs
		if r.done {
			rep.Processed++
		} else {
			rep.Missing = append(rep.Missing, id)
		}
		if r.execs > 1 {
			rep.Duplicates = append(rep.Duplicates, id)
		}
	}
	for i := range rep.Factories {
		for _, r := range tab.rows {
			if r.done && r.by == rep.Factories[i].Name {
				rep.Factories[i].Records++
			}
		}
	}
	tab.mu.Unlock()
	rep.Elapsed = time.Since(start)
	printReport(out, rep)
	return rep, nil
}

// startNode connects a factory, registers its deal and runs it.
func startNode(ctx context.Context, b backend, name string, tab *table, log *slog.Logger) (*node, error) {
	store, kill, closeStore, err := b.connect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", name, err)
	}
	var once sync.Once
	n := &node{name: name, kill: kill, done: make(chan error, 1),
		close: func() { once.Do(closeStore) }}
	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", name
	cfg.ShutdownTimeout = 15 * time.Second
	f, err := strategy.NewFactory(store, cfg, strategy.WithLogger(log.With("factory", name)))
	if err != nil {
		closeStore()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n.f = f
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]record, error) {
			if n.dead.Load() {
				return nil, errKilled
			}
			return tab.pending(req.Items, req.TaskItemNum, req.FetchNum), nil
		},
		func(ctx context.Context, r record, ownSign string) error {
			if n.dead.Load() {
				return errKilled
			}
			t := time.NewTimer(3 * time.Millisecond) // the "work"
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
			tab.markDone(r.ID, name)
			return nil
		})
	if err := f.RegisterDeal(dealName, deal); err != nil {
		closeStore()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	go func() { n.done <- f.Run(runCtx) }()
	return n, nil
}

// stopNode stops a factory: gracefully, or for a killed one (whose store is
// cut off, so there is nothing to hand over) by closing its store first, so
// that its last writes fail at once instead of waiting for a server that
// cannot be reached. Then the store is closed.
func stopNode(n *node, killed bool) {
	if killed {
		n.f.ForceStop()
		n.close()
	}
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		n.f.ForceStop()
		<-n.done
	}
	n.close()
}

// managers returns the factory's thread groups of the quickstart strategy.
func managers(n *node) []schedule.Status {
	s, ok := n.f.Status().Strategy(strategyName)
	if !ok {
		return nil
	}
	return s.Managers
}

func ownedIDs(s schedule.Status) []string {
	var ids []string
	for _, it := range s.Owned {
		ids = append(ids, string(it.ID))
	}
	sortItems(ids)
	return ids
}

func sortItems(ids []string) {
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.Atoi(ids[i])
		b, _ := strconv.Atoi(ids[j])
		return a < b
	})
}

// ownersIfBalanced returns each factory's owned items if all numItems
// items are owned, each factory owning 3 or 4.
func ownersIfBalanced(nodes []*node) (map[string][]string, bool) {
	owners := map[string][]string{}
	total := 0
	for _, n := range nodes {
		ms := managers(n)
		if len(ms) != 1 {
			return nil, false
		}
		ids := ownedIDs(ms[0])
		if len(ids) < numItems/len(nodes) || len(ids) > numItems/len(nodes)+1 {
			return nil, false
		}
		owners[n.name] = ids
		total += len(ids)
	}
	return owners, total == numItems
}

// publishedLockDelay reads the lock delay a thread group published in its
// server record (Server.TakeoverDelay: milliseconds, -1 for none), 0 when
// it cannot be read.
func publishedLockDelay(ctx context.Context, s storekit.ServerStore, id schedule.ServerID) time.Duration {
	servers, err := s.Servers(ctx, taskTypeName)
	if err != nil {
		return 0
	}
	for _, sv := range servers {
		if sv.UUID == id && sv.TakeoverDelay > 0 {
			return time.Duration(sv.TakeoverDelay) * time.Millisecond
		}
	}
	return 0
}

// takenOver reads the items from the store: true when every item is owned
// by a thread group of a live factory.
func takenOver(ctx context.Context, s storekit.ItemStore, nodes []*node) (bool, error) {
	var live []schedule.ServerID
	for i, n := range nodes {
		if i == killedIndex {
			continue
		}
		for _, m := range managers(n) {
			if m.Server != "" {
				live = append(live, m.Server)
			}
		}
	}
	items, err := s.Items(ctx, taskTypeName)
	if err != nil {
		return false, err
	}
	owned := 0
	for _, it := range items.Items {
		if it.Sts == schedule.ItemRemoved {
			continue
		}
		if !slices.Contains(live, it.CurServer) {
			return false, nil
		}
		owned++
	}
	return owned == numItems, nil
}

// cleanup removes the quickstart's configuration (and so its tree on
// ZooKeeper). Failures are not fatal: the report is what matters.
func cleanup(ctx context.Context, admin *strategy.Admin) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	_ = admin.DeleteStrategy(ctx, strategyName, true)
	_ = admin.DeleteTaskType(ctx, taskTypeName, true)
}

func printReport(out io.Writer, r *report) {
	fmt.Fprintf(out, "\nReport: %s", r.Backend)
	if r.SessionTimeout > 0 {
		fmt.Fprintf(out, ", session timeout %v", r.SessionTimeout)
	}
	if r.LockDelay > 0 {
		fmt.Fprintf(out, ", lock delay %v", r.LockDelay.Round(time.Millisecond))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "  factory    items before kill   items at end      records done")
	for _, f := range r.Factories {
		after := strings.Join(f.ItemsAfter, ",")
		if f.Killed {
			after = "(killed)"
		}
		fmt.Fprintf(out, "  %-10s %-19s %-17s %d\n", f.Name, strings.Join(f.ItemsBefore, ","), after, f.Records)
	}
	fmt.Fprintf(out, "  takeover: items %s owned again %v after the kill\n",
		strings.Join(r.MovedItems, ","), r.Takeover.Round(time.Millisecond))
	fmt.Fprintf(out, "  records: %d produced, %d processed, %d executions, %d duplicates, %d missing\n",
		r.Produced, r.Processed, r.Executions, len(r.Duplicates), len(r.Missing))
	if r.OK() {
		fmt.Fprintf(out, "  every record processed exactly once (in %v)\n", r.Elapsed.Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(out, "  FAILED: duplicates %v, missing %v\n", r.Duplicates, r.Missing)
	}
}
