package itest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// eventLog is a factory's WithEvents hook: it keeps every event and wakes
// waiters.
type eventLog struct {
	mu      sync.Mutex
	evs     []schedule.Event
	changed chan struct{} // closed and replaced at every event
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) hook(e schedule.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	close(l.changed)
	l.changed = make(chan struct{})
}

// await waits (on the hook, not by polling) for the first event of kind
// matching pred.
func (l *eventLog) await(t *testing.T, kind schedule.EventKind, pred func(schedule.Event) bool) schedule.Event {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		l.mu.Lock()
		for _, e := range l.evs {
			if e.Kind == kind && (pred == nil || pred(e)) {
				l.mu.Unlock()
				return e
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no %s event within 60s", kind)
		}
	}
}

// runFactoryWith runs a factory on store with the deal as "recorder" and
// the events hook; stop stops it (Run's error is returned, not checked).
func runFactoryWith(t *testing.T, b backend, store storekit.Store, host string, deal processor.Deal, hook func(schedule.Event)) (*strategy.Factory, func() error) {
	t.Helper()
	f, err := strategy.NewFactory(store, factoryConfig(host), strategy.WithLogger(testLogger().With("factory", host)),
		strategy.WithClock(b.clock), strategy.WithEvents(hook))
	require.NoError(t, err)
	require.NoError(t, f.RegisterDeal("recorder", deal))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return f, stop
}

// managerOf returns the first manager of strategy name in f's status.
func managerOf(f *strategy.Factory, name string) (schedule.Status, bool) {
	s, ok := f.Status().Strategy(name)
	if !ok || len(s.Managers) == 0 {
		return schedule.Status{}, false
	}
	return s.Managers[0], true
}

// On real ZooKeeper, a factory is killed (its store closed under it): the
// survivor's events show the leader's hold of the dead server's items,
// with the epochs they had, and then their grant to the survivor with new,
// larger epochs, after the hold ended.
func TestEventsShowHoldAndGrantOfKilledFactory(t *testing.T) {
	b := zkBackend(t, zktest.Shared(t))
	admin := strategy.NewAdmin(b.open(t), strategy.AdminConfig{})
	ctx := context.Background()
	_, err := admin.ApplyTaskType(ctx, testTaskType("evkill", 4))
	require.NoError(t, err)
	s := schedule.DefaultStrategy("evkill-s")
	s.TaskName, s.AssignNum, s.NumOfSingleServer = "evkill", 2, 1
	_, err = admin.ApplyStrategy(ctx, s)
	require.NoError(t, err)

	logA := newEventLog()
	fa, _ := runFactoryWith(t, b, b.open(t), "survivor", idleDeal(), logA.hook)
	logA.await(t, schedule.EventAcquire, nil) // a's manager is up (and leads: it registered first)
	storeB := b.open(t)
	fb, stopB := runFactoryWith(t, b, storeB, "victim", idleDeal(), func(schedule.Event) {})
	var victim schedule.Status
	waitUntil(t, 60*time.Second, func() (bool, string) {
		ma, okA := managerOf(fa, "evkill-s")
		mb, okB := managerOf(fb, "evkill-s")
		victim = mb
		return okA && okB && len(ma.Owned) == 2 && len(mb.Owned) == 2 && ma.IsLeader, "two items each, the survivor leading"
	})
	for i := range victim.Owned {
		victim.Owned[i].Parameter = ""
	}

	require.NoError(t, storeB.(interface{ Close() error }).Close()) // kill: the session ends, nothing is released
	hold := logA.await(t, schedule.EventHoldStart, func(e schedule.Event) bool { return e.Server == victim.Server })
	assert.Equal(t, victim.Owned, hold.Items, "the hold names the victim's items with their epochs")
	assert.Equal(t, "evkill-s", hold.Strategy)
	assert.Equal(t, "evkill", hold.TaskType)
	end := logA.await(t, schedule.EventHoldEnd, func(e schedule.Event) bool { return e.Server == victim.Server })
	me, _ := managerOf(fa, "evkill-s")
	grant := logA.await(t, schedule.EventGrant, func(e schedule.Event) bool { return e.Server == me.Server && e.Seq > hold.Seq })
	require.Len(t, grant.Items, len(victim.Owned))
	for i, it := range grant.Items {
		assert.Equal(t, victim.Owned[i].ID, it.ID)
		assert.Greater(t, it.Epoch, victim.Owned[i].Epoch, "item %s: granted under a larger epoch", it.ID)
	}
	assert.Less(t, hold.Seq, end.Seq)
	assert.False(t, grant.Time.Before(hold.Time), "granted after the hold started")
	acq := logA.await(t, schedule.EventAcquire, func(e schedule.Event) bool { return e.Seq > grant.Seq })
	assert.Equal(t, grant.Items, acq.Items, "the survivor processes them under the granted epochs")
	t.Logf("hold %v, granted %v after the hold started", hold, grant.Time.Sub(hold.Time))
	_ = stopB() // Run ends with the closed store's error
}
