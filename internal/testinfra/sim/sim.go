// Package sim simulates the item balancing of one task type at a scale no
// machine can run as real processes: thousands of servers and 100,000 items,
// on memstore with a fake clock.
//
// The simulation drives the real Store (memstore) with the very decisions
// manager.Manager makes, in rounds: in each round the leader (the live
// server with the lowest sequence) reads the servers and the items and
// writes what the leader's planner (plan.Lead: the assignment with the task
// type's cap, removed items released, vanished servers' items held for
// their lock delay) decides, then every owner asked to hand over an item
// does what the owner's planner (plan.Own) decides, each write guarded by
// the writer's registration. A round in which nobody writes and nothing is
// held ends the convergence; a round that only holds moves the fake clock
// to the end of the hold. It does not run processors or watches: a round
// stands for one watch-triggered reconcile of every server (the batch
// boundary passes at once), and what is counted are the rounds and the
// writes, which do not depend on timing.
//
// Events: the start of every server at once, the crash of a share of the
// servers (their sessions expire after the session timeout, on the fake
// clock, and the leader then holds their items for their lock delay), a
// graceful stop (the server releases its items, then leaves) and the join
// of a new server. For each, Result gives the rounds, the item writes and
// the items that changed owner, so writes per rebalance can be compared
// with the items moved.
package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/fakeclock"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Config sizes a simulation.
type Config struct {
	// Servers is the number of servers started at once (at least 1).
	Servers int
	// Items is the number of task items (at least 1).
	Items int
	// KillShare is the share of servers that crash in the kill event, in
	// (0, 1); 0 means 0.1.
	KillShare float64
	// SessionTimeout is how long a crashed server's session lives on (fake
	// clock); 0 means 10 s, zkstore's default.
	SessionTimeout time.Duration
	// MaxRounds bounds every convergence; 0 means 100.
	MaxRounds int
	// LockDelay is every server's lock delay, as schedule.ManagerConfig's:
	// 0 means the default derived from SessionTimeout, negative means none.
	LockDelay time.Duration
}

func (c Config) check() error {
	var errs []error
	if c.Servers < 1 {
		errs = append(errs, fmt.Errorf("sim: Config.Servers = %d: need at least 1", c.Servers))
	}
	if c.Items < 1 {
		errs = append(errs, fmt.Errorf("sim: Config.Items = %d: need at least 1", c.Items))
	}
	if c.KillShare < 0 || c.KillShare >= 1 {
		errs = append(errs, fmt.Errorf("sim: Config.KillShare = %v: must be in [0, 1)", c.KillShare))
	}
	if c.SessionTimeout < 0 || c.MaxRounds < 0 {
		errs = append(errs, fmt.Errorf("sim: Config.SessionTimeout (%v) and MaxRounds (%d) must not be negative", c.SessionTimeout, c.MaxRounds))
	}
	return errors.Join(errs...)
}

// Result is what one event cost.
type Result struct {
	// Event names the event ("start", "kill 10%", ...).
	Event string
	// Servers is the number of live servers after the event.
	Servers int
	// Rounds is the number of rounds until a round wrote nothing (that last
	// round not counted).
	Rounds int
	// Writes counts the item writes (each one guarded multi), the releases
	// of a graceful stop included.
	Writes int
	// Moved counts the items whose owner differs before and after.
	Moved int
	// Reads counts the full item reads the managers' previous read path
	// would make: every live server reads the items once per round in
	// which they changed.
	Reads int
	// NoteReads counts the items the managers read by id (following their
	// note boxes, as manager.Manager does): each server the items its
	// notes name, the leader those written by others. MaxNoteReads is the
	// most one server read in the event.
	NoteReads, MaxNoteReads int
	// StoreOps counts the memstore operations of the simulation (reads,
	// writes and multis: what the leader and owners sent).
	StoreOps int64
	// HeldRounds counts the rounds in which the leader wrote nothing and
	// waited for the lock delay of vanished servers (included in Rounds).
	HeldRounds int
	// SimTime is the fake-clock time the event took: the session timeout
	// before the first round for a crash, plus the lock-delay waits.
	SimTime time.Duration
	// Balanced reports that every item has a live owner, no request is
	// pending and the loads differ by at most one.
	Balanced bool
	// Elapsed is the real time the simulation took for the event.
	Elapsed time.Duration
}

// Sim is one simulated task type with its servers.
type Sim struct {
	cfg   Config
	clock *fakeclock.Clock
	srv   *memstore.Server
	admin *memstore.Client
	rt    string
	live  []*server // in registration order: the first is the leader
	next  int
	// What the leader's planner is given besides the snapshot: the task
	// type's cap, every server's lock delay, and the leader's own state
	// (reset when the leader changes).
	maxPerServer int
	lockDelay    time.Duration
	leader       schedule.ServerID
	gone         map[schedule.ServerID]time.Time
	delays       map[schedule.ServerID]time.Duration
}

type server struct {
	c  *memstore.Client
	id schedule.ServerID
}

// New creates the task type with cfg.Items items. No server runs yet: call
// Start.
func New(ctx context.Context, cfg Config) (*Sim, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.KillShare == 0 {
		cfg.KillShare = 0.1
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.MaxRounds == 0 {
		cfg.MaxRounds = 100
	}
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := memstore.New(memstore.Config{}, memstore.WithClock(clock))
	s := &Sim{cfg: cfg, clock: clock, srv: srv, admin: srv.Connect(memstore.ClientConfig{}), rt: "sim",
		lockDelay: fence.LockDelay(cfg.SessionTimeout, 0, cfg.LockDelay)}
	tt := schedule.DefaultTaskType(s.rt)
	tt.DealBeanName = "simDeal"
	tt.TaskItems = make([]string, cfg.Items)
	for i := range tt.TaskItems {
		tt.TaskItems[i] = strconv.Itoa(i)
	}
	if _, err := s.admin.CreateTaskType(ctx, tt); err != nil {
		return nil, err
	}
	s.maxPerServer = tt.MaxTaskItemsOfOneThreadGroup
	return s, nil
}

// Close closes every client.
func (s *Sim) Close() {
	for _, sv := range s.live {
		_ = sv.c.Close()
	}
	_ = s.admin.Close()
}

// join registers one more server.
func (s *Sim) join(ctx context.Context) error {
	c := s.srv.Connect(memstore.ClientConfig{SessionTimeout: s.cfg.SessionTimeout})
	sess, err := c.Session(ctx)
	if err != nil {
		return err
	}
	now, err := c.Now(ctx)
	if err != nil {
		return err
	}
	s.next++
	rec, err := c.RegisterServer(ctx, sess, schedule.Server{
		TaskType: s.rt, BaseTaskType: s.rt, IP: "10.0.0.1", HostName: fmt.Sprintf("sim-%d", s.next),
		ThreadNum: 1, RegisterTime: schedule.Time{Time: now}, HeartBeatTime: schedule.Time{Time: now}, IsRegister: true,
		Session: sess.ID(), TakeoverDelay: fence.EncodeLockDelay(s.lockDelay),
	})
	if err != nil {
		return err
	}
	s.live = append(s.live, &server{c: c, id: rec.UUID})
	return nil
}

// Start registers cfg.Servers servers, lets the first build the items, and
// converges.
func (s *Sim) Start(ctx context.Context) (Result, error) {
	return s.event(ctx, "start", func() (time.Duration, int, error) {
		for range s.cfg.Servers {
			if err := s.join(ctx); err != nil {
				return 0, 0, err
			}
		}
		tt, _, err := s.admin.TaskType(ctx, s.rt)
		if err != nil {
			return 0, 0, err
		}
		now, err := s.admin.Now(ctx)
		if err != nil {
			return 0, 0, err
		}
		mark := schedule.ItemsMark{Leader: s.live[0].id, BuiltAt: schedule.Time{Time: now}, Defs: tt.TaskItems, Version: storekit.AnyVersion}
		_, err = s.live[0].c.BuildItems(ctx, s.rt, s.live[0].id, mark, tt.TaskItems)
		return 0, 0, err // the build is one multi, not an item write
	})
}

// Kill crashes cfg.KillShare of the servers (at least one, never all),
// taken evenly over the registration order, the leader included: their
// sessions expire once the session timeout has passed on the fake clock.
func (s *Sim) Kill(ctx context.Context) (Result, error) {
	n := max(1, int(float64(len(s.live))*s.cfg.KillShare))
	n = min(n, len(s.live)-1)
	name := fmt.Sprintf("kill %d of %d", n, len(s.live))
	return s.event(ctx, name, func() (time.Duration, int, error) {
		if n < 1 {
			return 0, 0, fmt.Errorf("sim: %s: need at least two servers", name)
		}
		step := float64(len(s.live)) / float64(n)
		dead := map[int]bool{}
		for k := range n {
			dead[int(float64(k)*step)] = true
		}
		var keep []*server
		for i, sv := range s.live {
			if !dead[i] {
				keep = append(keep, sv)
				continue
			}
			s.srv.ExpireSession(sv.c) // a crash: nothing released
			_ = sv.c.Close()
		}
		s.live = keep
		s.clock.Advance(s.cfg.SessionTimeout)
		return s.cfg.SessionTimeout, 0, nil
	})
}

// Leave stops the last server gracefully: it releases every item it owns
// (one guarded write each), then unregisters.
func (s *Sim) Leave(ctx context.Context) (Result, error) {
	return s.event(ctx, "graceful stop of 1", func() (time.Duration, int, error) {
		if len(s.live) < 2 {
			return 0, 0, errors.New("sim: graceful stop: need at least two servers")
		}
		sv := s.live[len(s.live)-1]
		items, err := sv.c.Items(ctx, s.rt)
		if err != nil {
			return 0, 0, err
		}
		released := 0
		for _, it := range items.Items {
			if it.CurServer != sv.id {
				continue
			}
			if _, err := sv.c.UpdateItem(ctx, s.rt, sv.id, it, "", ""); err != nil {
				return 0, released, err
			}
			released++
		}
		if err := sv.c.UnregisterServer(ctx, s.rt, sv.id); err != nil {
			return 0, released, err
		}
		_ = sv.c.Close()
		s.live = s.live[:len(s.live)-1]
		return 0, released, nil
	})
}

// Join starts one more server.
func (s *Sim) Join(ctx context.Context) (Result, error) {
	return s.event(ctx, "join of 1", func() (time.Duration, int, error) { return 0, 0, s.join(ctx) })
}

// event runs do, then converges, and reports.
func (s *Sim) event(ctx context.Context, name string, do func() (time.Duration, int, error)) (Result, error) {
	start := time.Now()
	before, err := s.owners(ctx)
	if err != nil {
		return Result{}, err
	}
	ops0 := s.srv.Stats()
	simTime, writes, err := do()
	if err != nil {
		return Result{}, fmt.Errorf("sim: %s: %w", name, err)
	}
	res := Result{Event: name, SimTime: simTime, Writes: writes}
	perServer := map[schedule.ServerID]int{}
	if err := s.readNotes(ctx, perServer); err != nil { // the event's own writes
		return res, err
	}
	for {
		if res.Rounds >= s.cfg.MaxRounds {
			return res, fmt.Errorf("sim: %s: no convergence after %d rounds", name, res.Rounds)
		}
		w, heldUntil, err := s.round(ctx)
		if err != nil {
			return res, fmt.Errorf("sim: %s, round %d: %w", name, res.Rounds+1, err)
		}
		if w == 0 && heldUntil.IsZero() {
			break
		}
		res.Rounds++
		res.Writes += w
		res.Reads += len(s.live)
		if err := s.readNotes(ctx, perServer); err != nil {
			return res, err
		}
		if w == 0 {
			// Only held items are left: the leader looks again when the
			// lock delay ends.
			wait := heldUntil.Sub(s.clock.Now())
			s.clock.Advance(wait)
			res.SimTime += wait
			res.HeldRounds++
		}
	}
	after, err := s.owners(ctx)
	if err != nil {
		return res, err
	}
	for id, o := range after {
		if before[id] != o {
			res.Moved++
		}
	}
	for _, n := range perServer {
		res.NoteReads += n
		res.MaxNoteReads = max(res.MaxNoteReads, n)
	}
	ops := s.srv.Stats()
	res.StoreOps = (ops.Reads - ops0.Reads) + (ops.Writes - ops0.Writes) + (ops.Multis - ops0.Multis)
	res.Servers = len(s.live)
	res.Balanced, err = s.balanced(ctx)
	res.Elapsed = time.Since(start)
	return res, err
}

// readNotes consumes every live server's note box (and the leader's) and
// adds to perServer the items each would read by id: all its notes name,
// and for the leader those of notes written by others.
func (s *Sim) readNotes(ctx context.Context, perServer map[schedule.ServerID]int) error {
	consume := func(c *memstore.Client, box, skip schedule.ServerID) (int, error) {
		notes, err := c.Notes(ctx, s.rt, box)
		if err != nil || len(notes) == 0 {
			return 0, err
		}
		ids := map[schedule.ItemID]bool{}
		names := make([]string, len(notes))
		for i, n := range notes {
			names[i] = n.Name
			if skip != "" && n.By == skip {
				continue
			}
			for _, id := range n.Items {
				ids[id] = true
			}
		}
		return len(ids), c.DeleteNotes(ctx, s.rt, "", box, names)
	}
	for i, sv := range s.live {
		if i == 0 {
			// The leader knows every item: its own box tells it nothing new
			// beyond what the leader box says.
			n, err := consume(sv.c, storekit.LeaderBox, sv.id)
			if err != nil {
				return err
			}
			perServer[sv.id] += n
			if _, err := consume(sv.c, sv.id, ""); err != nil {
				return err
			}
			continue
		}
		n, err := consume(sv.c, sv.id, "")
		if err != nil {
			return err
		}
		perServer[sv.id] += n
	}
	return nil
}

// owners maps every item to its owner.
func (s *Sim) owners(ctx context.Context) (map[schedule.ItemID]schedule.ServerID, error) {
	items, err := s.admin.Items(ctx, s.rt)
	if err != nil {
		return nil, err
	}
	out := make(map[schedule.ItemID]schedule.ServerID, len(items.Items))
	for _, it := range items.Items {
		out[it.ID] = it.CurServer
	}
	return out, nil
}

// round is one leader pass and one owner pass, each deciding with the
// managers' own planners (plan.Lead, plan.Own). It returns the writes made
// and, when the leader holds a vanished server's items for its lock delay,
// when that hold ends.
func (s *Sim) round(ctx context.Context) (int, time.Time, error) {
	leader := s.live[0]
	servers, err := leader.c.Servers(ctx, s.rt)
	if err != nil {
		return 0, time.Time{}, err
	}
	if leader.id != s.leader {
		// A new leader starts counting the lock delays afresh.
		s.leader, s.gone, s.delays = leader.id, map[schedule.ServerID]time.Time{}, map[schedule.ServerID]time.Duration{}
	}
	live := make(map[schedule.ServerID]bool, len(servers))
	ids := make([]schedule.ServerID, len(servers))
	for i, sv := range servers {
		live[sv.UUID], ids[i] = true, sv.UUID
		if d, known := fence.DecodeLockDelay(sv.TakeoverDelay); known {
			s.delays[sv.UUID] = d
		}
	}
	items, err := leader.c.Items(ctx, s.rt)
	if err != nil {
		return 0, time.Time{}, err
	}
	p := plan.Lead(plan.LeadInput[schedule.ItemID, schedule.ServerID]{Items: planItems(items.Items), Servers: ids,
		MaxPerServer: s.maxPerServer, Seed: s.rt, Now: s.clock.Now(), OwnDelay: s.lockDelay, Delays: s.delays, Gone: s.gone})
	s.gone = p.Gone
	for _, id := range p.ForgetDelays {
		delete(s.delays, id)
	}
	writes := 0
	for _, w := range p.Writes {
		if _, err := leader.c.UpdateItem(ctx, s.rt, leader.id, items.Items[w.At], w.Cur, w.Req); err != nil {
			return writes, p.HeldUntil, err
		}
		writes++
	}
	n, err := s.ownerPass(ctx, live)
	return writes + n, p.HeldUntil, err
}

// ownerPass is every owner's pass: each hands over what the leader asked of
// it, at once (the batch boundary is not simulated: plan.Own is asked once
// to start the releases, then again with them finished). Only servers with
// a request or a removed item are asked; the others have nothing to do.
func (s *Sim) ownerPass(ctx context.Context, live map[schedule.ServerID]bool) (int, error) {
	items, err := s.admin.Items(ctx, s.rt)
	if err != nil {
		return 0, err
	}
	mine := map[schedule.ServerID][]schedule.Item{}
	for _, it := range items.Items {
		mine[it.CurServer] = append(mine[it.CurServer], it)
	}
	writes := 0
	for _, sv := range s.live {
		own := mine[sv.id]
		if !slices.ContainsFunc(own, func(it schedule.Item) bool { return it.ReqServer != "" || it.Sts == schedule.ItemRemoved }) {
			continue
		}
		in := plan.OwnInput[schedule.ItemID, schedule.ServerID]{Me: sv.id, Items: planItems(own), Live: live}
		first := plan.Own(in)
		in.Releasing, in.Done = map[schedule.ItemID]time.Time{}, map[schedule.ItemID]bool{}
		for _, id := range first.Release {
			in.Releasing[id], in.Done[id] = s.clock.Now(), true
		}
		for _, h := range plan.Own(in).Handovers {
			if _, err := sv.c.UpdateItem(ctx, s.rt, sv.id, own[h.At], h.Cur, ""); err != nil {
				return writes, err
			}
			writes++
		}
	}
	return writes, nil
}

// planItems is what the planners see of the items, position for position
// (as manager.Manager gives them).
func planItems(items []schedule.Item) []plan.Item[schedule.ItemID, schedule.ServerID] {
	out := make([]plan.Item[schedule.ItemID, schedule.ServerID], len(items))
	for i, it := range items {
		out[i] = plan.Item[schedule.ItemID, schedule.ServerID]{ID: it.ID, Cur: it.CurServer, Req: it.ReqServer,
			Removed: it.Sts == schedule.ItemRemoved}
	}
	return out
}

// balanced reports whether every item has a live owner, none has a pending
// request, and the loads differ by at most one.
func (s *Sim) balanced(ctx context.Context) (bool, error) {
	items, err := s.admin.Items(ctx, s.rt)
	if err != nil {
		return false, err
	}
	load := make(map[schedule.ServerID]int, len(s.live))
	for _, sv := range s.live {
		load[sv.id] = 0
	}
	for _, it := range items.Items {
		if _, ok := load[it.CurServer]; !ok || it.ReqServer != "" {
			return false, nil
		}
		load[it.CurServer]++
	}
	lo, hi := len(items.Items), 0
	for _, n := range load {
		lo, hi = min(lo, n), max(hi, n)
	}
	return hi-lo <= 1, nil
}

// Run runs the standard scenario: start, crash of KillShare of the servers,
// a join, a graceful stop.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	s, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []Result
	for _, ev := range []func(context.Context) (Result, error){s.Start, s.Kill, s.Join, s.Leave} {
		r, err := ev(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
