package strategy

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/manager"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// unit is one thread group (a manager.Manager) or one Bean copy running in
// this process for a strategy. Its goroutine closes done when it has
// returned; err is set before. The loop owns stopping.
type unit struct {
	strategy string
	key      string // the configuration it was started from (see strat.key)
	mgr      *manager.Manager
	copyNo   int // Bean copies: 1, 2... in start order
	started  time.Time
	ctx      context.Context
	cancel   context.CancelCauseFunc
	done     chan struct{}
	err      error // valid after done is closed

	stopping bool // loop-owned: stop was asked for
}

func (u *unit) exited() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

// stop asks the unit to stop (a manager hands its items over; a copy's
// context is cancelled). It does not wait.
func (u *unit) stop(cause error) {
	u.stopping = true
	u.cancel(cause)
}

// name describes the unit for logs and errors.
func (u *unit) name() string {
	if u.mgr != nil {
		if id := u.mgr.Status().Server; id != "" {
			return fmt.Sprintf("manager %s of strategy %q", id, u.strategy)
		}
		return fmt.Sprintf("manager of %s (strategy %q)", u.mgr.Runtime(), u.strategy)
	}
	return fmt.Sprintf("Bean copy %d of strategy %q", u.copyNo, u.strategy)
}

// what describes the unit without its instance (a copy number, a server
// id), so that the message of a failure is the same at every retry.
func (u *unit) what() string {
	if u.mgr != nil {
		return "manager of " + u.mgr.Runtime()
	}
	return "Bean task"
}

// failure returns why an exited unit stopped when nobody asked it to, or
// nil for an expected exit (stopped, fenced, shut down).
func (u *unit) failure() error {
	if cause := context.Cause(u.ctx); cause != nil {
		return nil
	}
	if u.err != nil {
		return u.err
	}
	if u.mgr != nil {
		return errors.New("strategy: manager stopped by itself")
	}
	return ErrTaskReturned
}

// startManager runs a manager for tt in ownSign on its own goroutine.
func (f *Factory) startManager(strategyName, key string, tt schedule.TaskType, ownSign string, factoryID schedule.FactoryID) (*unit, error) {
	deal := f.deal(tt.DealBeanName)
	if deal == nil {
		return nil, fmt.Errorf("%w: %w: task type %q names dealBeanName %q; register it with RegisterDeal", schedule.ErrInvalid, ErrUnknownDeal, tt.BaseTaskType, tt.DealBeanName)
	}
	mc := f.cfg.ManagerConfig
	mc.IP, mc.HostName, mc.FactoryID = f.cfg.IP, f.cfg.HostName, factoryID
	m, err := manager.NewManager(f.store, tt, ownSign, deal,
		mc, manager.WithLogger(f.log.With("strategy", strategyName)),
		manager.WithClock(f.clock), manager.WithMetrics(f.metrics), manager.WithEvents(f.managerEvents(strategyName)))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	u := &unit{strategy: strategyName, key: key, mgr: m, started: f.clock.Now(), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	f.goUnit(func() {
		defer f.poke()
		defer close(u.done)
		u.err = m.Run(ctx)
	})
	return u, nil
}

// startCopy runs one copy of a Bean task on its own goroutine, with a
// context derived from parent (the session guard's).
func (f *Factory) startCopy(parent context.Context, strategyName, key string, task Task, param string, copyNo int) *unit {
	ctx, cancel := context.WithCancelCause(parent)
	u := &unit{strategy: strategyName, key: key, copyNo: copyNo, started: f.clock.Now(), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	f.goUnit(func() {
		defer f.poke()
		defer close(u.done)
		defer func() {
			if r := recover(); r != nil {
				u.err = &schedule.PanicError{Op: "Start", Value: r, Stack: debug.Stack()}
			}
		}()
		err := task.Start(ctx, strategyName, param)
		if ctx.Err() == nil {
			if err == nil {
				err = ErrTaskReturned
			} else {
				err = fmt.Errorf("%w: %w", ErrTaskReturned, err)
			}
		}
		u.err = err
	})
	return u
}
