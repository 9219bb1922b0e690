package strategy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// DefaultForceWait is how long Admin.DeleteStrategy with force waits for the
// registrations of a paused strategy to go, by default.
const DefaultForceWait = 30 * time.Second

// casRetries bounds the read-compare-write rounds of the admin's writes.
const casRetries = 5

// Admin changes the configuration and the operator state in the store and
// reads the runtime: the API under the CLI and the tests. Every write
// validates first (nothing is written on an error, which names every
// field at fault) and is a compare-and-set against the version just read,
// re-read and retried a few times when another writer won the race, so an
// apply never overwrites a change it has not seen. An Admin holds no
// session state of its own: it may share a store with a Factory, and is
// safe for concurrent use.
type Admin struct {
	store storekit.Store
	cfg   AdminConfig // with its defaults applied
	clock schedule.Clock
}

// AdminConfig holds the tunables of an Admin. A zero field means its
// default, so AdminConfig{} is the default configuration.
type AdminConfig struct {
	// Operator names who acts, recorded in the stop flag (FactoryState.By)
	// and in run-now requests (TaskType.RunNowBy). Default (""):
	// "<user>@<host>" of this process.
	Operator string
	// ForceWait is how long DeleteStrategy with force waits for the
	// registrations of the strategy it paused to go. Default (0):
	// DefaultForceWait. Negative: no wait (the strategy is deleted at once,
	// registrations or not).
	ForceWait time.Duration
}

// withDefaults returns c with every zero field set to its default: the one
// place they are applied (NewAdmin uses it).
func (c AdminConfig) withDefaults() AdminConfig {
	if c.Operator == "" {
		host, _ := os.Hostname()
		user := os.Getenv("USER")
		if user == "" {
			user = "admin"
		}
		c.Operator = user + "@" + host
	}
	if c.ForceWait == 0 {
		c.ForceWait = DefaultForceWait
	}
	return c
}

// NewAdmin returns an Admin working on store with cfg (zero fields take
// their defaults: AdminConfig{} is the default). Of the options, an Admin
// uses WithClock (the clock of its waits); the others concern a Factory
// and are ignored.
func NewAdmin(store storekit.Store, cfg AdminConfig, opts ...Option) *Admin {
	o := options{clock: schedule.SystemClock()}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return &Admin{store: store, cfg: cfg.withDefaults(), clock: o.clock}
}

// ApplyTaskType creates the task type, or updates it to t if it differs
// (compare-and-set on the version read). It reports whether it wrote. t is
// validated first (schedule.ErrInvalid naming every field). A stored task
// type that does not decode (schedule.ErrCorrupt) is replaced. Running
// managers pick up a changed item list by themselves; factories restart
// the managers of the task type, gracefully, for any other change.
func (a *Admin) ApplyTaskType(ctx context.Context, t schedule.TaskType) (changed bool, err error) {
	if err := t.Validate(); err != nil {
		return false, err
	}
	for range casRetries {
		cur, v, err := a.store.TaskType(ctx, t.BaseTaskType)
		switch {
		case errors.Is(err, schedule.ErrNotFound):
			_, err = a.store.CreateTaskType(ctx, t)
			if errors.Is(err, schedule.ErrExists) {
				continue
			}
			return err == nil, err
		case errors.Is(err, schedule.ErrCorrupt):
		case err != nil:
			return false, err
		case reflect.DeepEqual(normTaskType(cur), normTaskType(keepRunNow(t, cur))):
			return false, nil
		}
		_, err = a.store.UpdateTaskType(ctx, keepRunNow(t, cur), v)
		if errors.Is(err, schedule.ErrConflict) || errors.Is(err, schedule.ErrNotFound) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("strategy: apply task type %q: %w (%d concurrent changes in a row)", t.BaseTaskType, schedule.ErrConflict, casRetries)
}

func normTaskType(t schedule.TaskType) schedule.TaskType {
	if len(t.TaskItems) == 0 {
		t.TaskItems = nil
	}
	return t
}

func normStrategy(s schedule.Strategy) schedule.Strategy {
	if len(s.IPList) == 0 {
		s.IPList = nil
	}
	return s
}

// DeleteTaskType deletes a task type with all its runtimes (servers and
// items of every ownSign). Without force it refuses (ErrInUse) while a
// server of the task type is live or a strategy names it. With force it
// deletes anyway: factories stop the managers of strategies whose task
// type is gone, and show it in the strategies' messages.
func (a *Admin) DeleteTaskType(ctx context.Context, base string, force bool) error {
	if err := schedule.ValidateName(schedule.NameBaseTaskType, base); err != nil {
		return err
	}
	for range casRetries {
		_, v, err := a.store.TaskType(ctx, base)
		if err != nil && !errors.Is(err, schedule.ErrCorrupt) {
			return err
		}
		if !force {
			if err := a.taskTypeInUse(ctx, base); err != nil {
				return err
			}
		}
		err = a.store.DeleteTaskType(ctx, base, v)
		if errors.Is(err, schedule.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("strategy: delete task type %q: %w (%d concurrent changes in a row)", base, schedule.ErrConflict, casRetries)
}

func (a *Admin) taskTypeInUse(ctx context.Context, base string) error {
	runtimes, err := a.store.Runtimes(ctx, base)
	if err != nil {
		return err
	}
	for _, rt := range runtimes {
		servers, err := a.store.Servers(ctx, rt)
		if err != nil {
			return err
		}
		if len(servers) > 0 {
			return fmt.Errorf("%w: task type %q: runtime %s has %d live servers (pause or delete its strategies first, or force): %w",
				ErrInUse, base, rt, len(servers), schedule.ErrNotEmpty)
		}
	}
	strategies, err := a.store.Strategies(ctx)
	if err != nil {
		return err
	}
	for _, s := range strategies {
		if s.Kind != schedule.KindSchedule {
			continue
		}
		if b, _, err := schedule.SplitRuntimeName(s.TaskName); err == nil && b == base {
			return fmt.Errorf("%w: task type %q: strategy %q runs it (delete the strategy first, or force)", ErrInUse, base, s.StrategyName)
		}
	}
	return nil
}

// ApplyStrategy creates the strategy, or updates it to s if it differs
// (compare-and-set on the version read). It reports whether it wrote. s is
// validated first; a Schedule strategy must name an existing task type
// (schedule.ErrNotFound otherwise). Factories react within one refresh.
func (a *Admin) ApplyStrategy(ctx context.Context, s schedule.Strategy) (changed bool, err error) {
	if err := s.Validate(); err != nil {
		return false, err
	}
	if s.Kind == schedule.KindSchedule {
		base, _, _ := schedule.SplitRuntimeName(s.TaskName)
		if _, _, err := a.store.TaskType(ctx, base); errors.Is(err, schedule.ErrNotFound) {
			return false, fmt.Errorf("strategy %q: taskName %q: task type %q does not exist (apply it first): %w",
				s.StrategyName, s.TaskName, base, err)
		}
	}
	return a.updateStrategy(ctx, s.StrategyName, true, func(cur schedule.Strategy, found bool) (schedule.Strategy, bool) {
		if found && reflect.DeepEqual(normStrategy(cur), normStrategy(s)) {
			return cur, false
		}
		return s, true
	})
}

// updateStrategy is a read-modify-write of one strategy with
// compare-and-set; edit returns the new value and whether to write. With
// create, a missing strategy is created (edit sees found false).
func (a *Admin) updateStrategy(ctx context.Context, name string, create bool, edit func(cur schedule.Strategy, found bool) (schedule.Strategy, bool)) (bool, error) {
	if err := schedule.ValidateName(schedule.NameStrategy, name); err != nil {
		return false, err
	}
	for range casRetries {
		cur, v, err := a.store.Strategy(ctx, name)
		found := err == nil
		switch {
		case errors.Is(err, schedule.ErrNotFound) && create:
		case errors.Is(err, schedule.ErrCorrupt) && create:
			found = true // replace it
		case err != nil:
			return false, err
		}
		next, write := edit(cur, found && err == nil)
		if !write {
			return false, nil
		}
		if !found {
			_, err = a.store.CreateStrategy(ctx, next)
			if errors.Is(err, schedule.ErrExists) {
				continue
			}
			return err == nil, err
		}
		_, err = a.store.UpdateStrategy(ctx, next, v)
		if errors.Is(err, schedule.ErrConflict) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("strategy: update strategy %q: %w (%d concurrent changes in a row)", name, schedule.ErrConflict, casRetries)
}

// PauseStrategy sets the strategy's sts to pause: every factory stops its
// managers or copies (managers hand their items over) and then removes its
// registration. It reports whether it wrote (false: already paused).
func (a *Admin) PauseStrategy(ctx context.Context, name string) (bool, error) {
	return a.setSts(ctx, name, schedule.StsPause)
}

// ResumeStrategy sets the strategy's sts to resume: the factories its
// IPList admits register again and the leader distributes. It reports
// whether it wrote (false: already resumed).
func (a *Admin) ResumeStrategy(ctx context.Context, name string) (bool, error) {
	return a.setSts(ctx, name, schedule.StsResume)
}

func (a *Admin) setSts(ctx context.Context, name, sts string) (bool, error) {
	return a.updateStrategy(ctx, name, false, func(cur schedule.Strategy, _ bool) (schedule.Strategy, bool) {
		if cur.Sts == sts {
			return cur, false
		}
		cur.Sts = sts
		return cur, true
	})
}

// DeleteStrategy deletes a strategy. Without force it refuses (ErrInUse)
// while a factory is registered under it: pause it first, wait for the
// factories to leave, then delete. With force it does exactly that: it
// pauses the strategy, waits until every registration is gone (at most the
// force wait, AdminConfig.ForceWait, and ctx), and deletes the strategy even if
// some registration remains (factories stop the units of a deleted
// strategy too).
func (a *Admin) DeleteStrategy(ctx context.Context, name string, force bool) error {
	if err := schedule.ValidateName(schedule.NameStrategy, name); err != nil {
		return err
	}
	if force {
		if _, err := a.PauseStrategy(ctx, name); err != nil && !errors.Is(err, schedule.ErrCorrupt) {
			return err
		}
		if err := a.waitUnregistered(ctx, name); err != nil {
			return err
		}
	}
	for range casRetries {
		_, v, err := a.store.Strategy(ctx, name)
		if err != nil && !errors.Is(err, schedule.ErrCorrupt) {
			return err
		}
		if !force {
			rts, err := a.store.StrategyRuntimes(ctx, name)
			if err != nil {
				return err
			}
			if len(rts) > 0 {
				return fmt.Errorf("%w: strategy %q: %d factories are registered under it (pause it first, or force): %w",
					ErrInUse, name, len(rts), schedule.ErrNotEmpty)
			}
		}
		err = a.store.DeleteStrategy(ctx, name, v)
		if errors.Is(err, schedule.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("strategy: delete strategy %q: %w (%d concurrent changes in a row)", name, schedule.ErrConflict, casRetries)
}

// waitUnregistered waits until no factory is registered under the
// strategy, at most the force wait; it fails only if ctx ends.
func (a *Admin) waitUnregistered(ctx context.Context, name string) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := a.store.Watch(wctx, storekit.WatchScope{Kind: storekit.WatchStrategyRuntimes, Name: name})
	if err != nil {
		return err
	}
	t := a.clock.NewTimer(max(a.cfg.ForceWait, 0))
	defer t.Stop()
	for {
		rts, err := a.store.StrategyRuntimes(ctx, name)
		if err != nil {
			return err
		}
		if len(rts) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
			return nil
		case <-ch:
		}
	}
}

// StopFactory sets the durable stop flag of a machine (ip, hostName): its
// factories, now and after any restart or session expiry, stop every
// manager and Bean copy gracefully and leave every strategy, but stay
// registered so operators see them, until StartFactory.
func (a *Admin) StopFactory(ctx context.Context, ip, hostName, reason string) error {
	now, err := a.store.Now(ctx)
	if err != nil {
		return err
	}
	return a.store.SetFactoryState(ctx, ip, hostName, schedule.FactoryState{
		Stopped: true, By: a.cfg.Operator, At: schedule.Time{Time: now}, Reason: reason,
	})
}

// StartFactory clears the stop flag of a machine: its factories register
// under the strategies again.
func (a *Admin) StartFactory(ctx context.Context, ip, hostName string) error {
	now, err := a.store.Now(ctx)
	if err != nil {
		return err
	}
	return a.store.SetFactoryState(ctx, ip, hostName, schedule.FactoryState{By: a.cfg.Operator, At: schedule.Time{Time: now}})
}

// RuntimeView is a read of the whole runtime, for operators.
type RuntimeView struct {
	// At is the cluster time of the read.
	At time.Time
	// Factories are the live factories, in sequence order, with the stop
	// flag of their machine.
	Factories []FactoryView
	// Strategies are every strategy, sorted by name, with the
	// registrations under it.
	Strategies []StrategyView
	// TaskTypes are every task type, sorted by name, with their runtimes.
	TaskTypes []TaskTypeView
}

// FactoryView is one live factory.
type FactoryView struct {
	schedule.Factory
	State schedule.FactoryState
}

// StrategyView is one strategy and its registrations.
type StrategyView struct {
	schedule.Strategy
	// Registrations, in sequence order: requestNum, currentNum, message.
	Registrations []schedule.StrategyRuntime
	// Leader is the factory that distributes (the live registered factory
	// with the lowest sequence), "" if none.
	Leader schedule.FactoryID
	// RequestNum and CurrentNum are the totals over the registrations.
	RequestNum, CurrentNum int
}

// TaskTypeView is one task type and its runtimes (one per ownSign).
type TaskTypeView struct {
	schedule.TaskType
	Runtimes []RuntimeInfo
}

// RuntimeInfo is one runtime ("base" or "base$ownSign"): its live servers
// (the leader first) and its items with owners and epochs.
type RuntimeInfo struct {
	Name    string
	Servers []schedule.Server
	Items   schedule.Items
}

// Runtime reads factories, strategies and task types with their runtimes.
// It is not one atomic snapshot: each part is read in turn.
func (a *Admin) Runtime(ctx context.Context) (RuntimeView, error) {
	var v RuntimeView
	now, err := a.store.Now(ctx)
	if err != nil {
		return v, err
	}
	v.At = now
	factories, err := a.store.Factories(ctx)
	if err != nil {
		return v, err
	}
	states := map[[2]string]schedule.FactoryState{}
	for _, f := range factories {
		k := [2]string{f.IP, f.HostName}
		st, ok := states[k]
		if !ok {
			if st, err = a.store.FactoryState(ctx, f.IP, f.HostName); err != nil {
				return v, err
			}
			states[k] = st
		}
		v.Factories = append(v.Factories, FactoryView{Factory: f, State: st})
	}
	strategies, err := a.store.Strategies(ctx)
	if err != nil {
		return v, err
	}
	slices.SortFunc(strategies, func(x, y schedule.Strategy) int { return strings.Compare(x.StrategyName, y.StrategyName) })
	for _, s := range strategies {
		rts, err := a.store.StrategyRuntimes(ctx, s.StrategyName)
		if err != nil {
			return v, err
		}
		sv := StrategyView{Strategy: s, Registrations: rts, Leader: leaderOf(rts, factories)}
		for _, rt := range rts {
			sv.RequestNum += rt.RequestNum
			sv.CurrentNum += rt.CurrentNum
		}
		v.Strategies = append(v.Strategies, sv)
	}
	tts, err := a.store.TaskTypes(ctx)
	if err != nil {
		return v, err
	}
	for _, tt := range tts {
		tv := TaskTypeView{TaskType: tt}
		runtimes, err := a.store.Runtimes(ctx, tt.BaseTaskType)
		if err != nil {
			return v, err
		}
		for _, rt := range runtimes {
			servers, err := a.store.Servers(ctx, rt)
			if err != nil {
				return v, err
			}
			items, err := a.store.Items(ctx, rt)
			if err != nil {
				return v, err
			}
			tv.Runtimes = append(tv.Runtimes, RuntimeInfo{Name: rt, Servers: servers, Items: items})
		}
		v.TaskTypes = append(v.TaskTypes, tv)
	}
	return v, nil
}
