package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// DefaultWait is the default of Harness.Wait.
const DefaultWait = 5 * time.Second

// subtest is one named test of the suite.
type subtest struct {
	name string
	fn   func(e *env)
	// exclusive subtests never run alongside others: they disturb the whole
	// backend (Disrupt), make shared listings fail (corrupt config), or
	// watch a scope every subtest writes to (config, factories), where the
	// others' events would hide a missing one.
	exclusive bool
}

// suite lists every subtest, in the order they run.
var suite = []subtest{
	{name: "SessionBasics", fn: testSessionBasics},
	{name: "TaskTypeCRUD", fn: testTaskTypeCRUD},
	{name: "StrategyCRUD", fn: testStrategyCRUD},
	{name: "ConfigConcurrentUpdate", fn: testConfigConcurrentUpdate},
	{name: "ConfigValidation", fn: testConfigValidation},
	{name: "InvalidNames", fn: testInvalidNames},
	{name: "DeleteTaskTypeCascade", fn: testDeleteTaskTypeCascade},
	{name: "DeleteStrategyCascade", fn: testDeleteStrategyCascade},
	{name: "ServerSequence", fn: testServerSequence},
	{name: "ServerRecordRoundTrip", fn: testServerRecordRoundTrip},
	{name: "ServerHeartbeat", fn: testServerHeartbeat},
	{name: "SessionExpiry", fn: testSessionExpiry},
	{name: "CloseEndsSession", fn: testCloseEndsSession},
	{name: "WatchServers", fn: testWatchServers},
	{name: "WatchServersOfOne", fn: testWatchServersOfOne},
	{name: "WatchStrategyRuntimeBehindTheFirst", fn: testWatchStrategyRuntimeBehindTheFirst},
	{name: "WatchItems", fn: testWatchItems},
	{name: "WatchConfig", fn: testWatchConfig, exclusive: true},
	{name: "WatchFactories", fn: testWatchFactories, exclusive: true},
	{name: "WatchFactoryOfOne", fn: testWatchFactoryOfOne},
	{name: "WatchStrategyRuntimes", fn: testWatchStrategyRuntimes},
	{name: "WatchStrategyRuntime", fn: testWatchStrategyRuntime},
	{name: "WatchOverlapping", fn: testWatchOverlapping},
	{name: "WatchAfterExpiry", fn: testWatchAfterExpiry},
	{name: "WatchClosed", fn: testWatchClosed},
	{name: "ItemsBuild", fn: testItemsBuild},
	{name: "ItemsBuildConflicts", fn: testItemsBuildConflicts},
	{name: "ItemEpochs", fn: testItemEpochs},
	{name: "ItemFencing", fn: testItemFencing},
	{name: "ItemConcurrentUpdate", fn: testItemConcurrentUpdate},
	{name: "ItemDesc", fn: testItemDesc},
	{name: "ItemsStamp", fn: testItemsStamp},
	{name: "ItemNotes", fn: testItemNotes},
	{name: "UpdateItems", fn: testUpdateItems},
	{name: "GranteeGone", fn: testGranteeGone},
	{name: "WatchNotes", fn: testWatchNotes},
	{name: "EpochsAfterTaskTypeDelete", fn: testEpochsAfterTaskTypeDelete},
	{name: "EpochsAfterRuntimeDelete", fn: testEpochsAfterRuntimeDelete},
	{name: "EpochsAfterItemRemoval", fn: testEpochsAfterItemRemoval},
	{name: "StrategyRuntimes", fn: testStrategyRuntimes},
	{name: "FactorySequence", fn: testFactorySequence},
	{name: "FactoryStateDurable", fn: testFactoryStateDurable},
	{name: "DeleteRuntime", fn: testDeleteRuntime},
	{name: "Permissions", fn: testPermissions},
	{name: "ClusterClock", fn: testClusterClock},
	{name: "CorruptData", fn: testCorruptData, exclusive: true},
	{name: "Disruption", fn: testDisruption, exclusive: true},
}

// Run runs the conformance suite of the storekit.Store contract against the
// backend h adapts, as subtests of t named h.Name/<subtest>. Subtests run in
// parallel (unless h.Serial), each with its own task types, strategies and
// host names derived from its name, except CorruptData and Disruption, which
// run alone. Every wait is bounded by h.Wait; nothing sleeps for a fixed time.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewClient == nil || h.NewClientWithoutAuth == nil || h.Expire == nil || h.WriteRaw == nil {
		t.Fatalf("storetest: harness %q lacks a required func (NewClient, NewClientWithoutAuth, Expire, WriteRaw)", h.Name)
	}
	if h.Wait <= 0 {
		h.Wait = DefaultWait
	}
	t.Run(h.Name, func(t *testing.T) {
		for _, st := range suite {
			t.Run(st.name, func(t *testing.T) {
				if !h.Serial && !st.exclusive {
					t.Parallel()
				}
				st.fn(newEnv(t, h))
			})
		}
	})
}

// env is the context of one subtest.
type env struct {
	*testing.T
	h Harness
	// ctx bounds every store call of the subtest.
	ctx context.Context
	// name is unique per subtest within one Run: a valid task type,
	// strategy and host name, the prefix of every name the subtest uses.
	name string
}

func newEnv(t *testing.T, h Harness) *env {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	name := t.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return &env{T: t, h: h, ctx: ctx, name: "st" + name}
}

// sub returns the env of a subtest of e's test.
func (e *env) sub(t *testing.T) *env { return &env{T: t, h: e.h, ctx: e.ctx, name: e.name} }

// client opens a client with the credentials.
func (e *env) client() storekit.Store {
	e.Helper()
	s := e.h.NewClient(e.T)
	require.NotNil(e, s, "Harness.NewClient returned nil")
	return s
}

// session returns s's current session.
func (e *env) session(s storekit.Store) storekit.Session {
	e.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Wait)
	defer cancel()
	sess, err := s.Session(ctx)
	require.NoError(e, err, "Session")
	require.NotNil(e, sess, "Session")
	return sess
}

// eventually polls cond (in the test goroutine) until it returns nil, and
// fails the test with cond's last error after h.Wait.
func (e *env) eventually(what string, cond func() error) {
	e.Helper()
	deadline := time.Now().Add(e.h.Wait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.Fatalf("%s: not within %s: %v", what, e.h.Wait, err)
		}
		<-tick.C
	}
}

// eventuallyEqual polls get until it returns want. Use it wherever a client
// reads what another client wrote: ZooKeeper orders each client's view, but
// a client connected to a follower may lag behind another client's write
// for a moment (sequential consistency, not linearizable reads).
func eventuallyEqual[T any](e *env, what string, want T, get func() (T, error)) {
	e.Helper()
	var got T
	e.eventually(what, func() error {
		var err error
		if got, err = get(); err != nil {
			return err
		}
		if !assert.ObjectsAreEqual(want, got) {
			return fmt.Errorf("got %+v, want %+v", got, want)
		}
		return nil
	})
}

// drain empties a watch channel, so that the next receive is caused by what
// the test does next.
func drain(ch <-chan struct{}) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// fired waits for a signal on a watch channel.
func (e *env) fired(ch <-chan struct{}, after string) {
	e.Helper()
	timer := time.NewTimer(e.h.Wait)
	defer timer.Stop()
	select {
	case _, ok := <-ch:
		require.True(e, ok, "watch channel closed instead of firing after %s", after)
	case <-timer.C:
		e.Fatalf("watch did not fire within %s after %s", e.h.Wait, after)
	}
}

// closed waits until a watch channel is closed (draining signals).
func (e *env) closed(ch <-chan struct{}, after string) {
	e.Helper()
	timer := time.NewTimer(e.h.Wait)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			e.Fatalf("watch channel not closed within %s after %s", e.h.Wait, after)
		}
	}
}

// sessionDone waits until sess has ended.
func (e *env) sessionDone(sess storekit.Session, after string) {
	e.Helper()
	timer := time.NewTimer(e.h.Wait)
	defer timer.Stop()
	select {
	case <-sess.Done():
	case <-timer.C:
		e.Fatalf("session %#x not done within %s after %s (state %s)", sess.ID(), e.h.Wait, after, sess.State())
	}
}

// newSession waits until s has a connected session other than old, and
// returns it.
func (e *env) newSession(s storekit.Store, old storekit.Session) storekit.Session {
	e.Helper()
	var cur storekit.Session
	e.eventually("a new connected session", func() error {
		ctx, cancel := context.WithTimeout(e.ctx, e.h.Wait)
		defer cancel()
		sess, err := s.Session(ctx)
		switch {
		case err != nil:
			return err
		case sess.ID() == old.ID():
			return fmt.Errorf("still session %#x (state %s)", sess.ID(), sess.State())
		case sess.State() != schedule.SessionConnected:
			return fmt.Errorf("session %#x is %s", sess.ID(), sess.State())
		}
		cur = sess
		return nil
	})
	return cur
}

// createTaskType creates SampleTaskType(base) and returns it.
func (e *env) createTaskType(s storekit.Store, base string) schedule.TaskType {
	e.Helper()
	tt := SampleTaskType(base)
	_, err := s.CreateTaskType(e.ctx, tt)
	require.NoError(e, err, "CreateTaskType %s", base)
	return tt
}

// createStrategy creates SampleStrategy(name, taskName) and returns it.
func (e *env) createStrategy(s storekit.Store, name, taskName string) schedule.Strategy {
	e.Helper()
	st := SampleStrategy(name, taskName)
	_, err := s.CreateStrategy(e.ctx, st)
	require.NoError(e, err, "CreateStrategy %s", name)
	return st
}

// registerServer registers SampleServer(runtime, ip) under s's session.
func (e *env) registerServer(s storekit.Store, runtime, ip string) schedule.Server {
	e.Helper()
	rec, err := s.RegisterServer(e.ctx, e.session(s), SampleServer(runtime, ip))
	require.NoError(e, err, "RegisterServer %s", runtime)
	return rec
}

// registerFactory registers SampleFactory(ip, host) under s's session.
func (e *env) registerFactory(s storekit.Store, ip, host string) schedule.Factory {
	e.Helper()
	rec, err := s.RegisterFactory(e.ctx, e.session(s), SampleFactory(ip, host))
	require.NoError(e, err, "RegisterFactory %s$%s", ip, host)
	return rec
}

// build builds the items of runtime with guard on the first build.
func (e *env) build(s storekit.Store, runtime string, guard schedule.ServerID, defs ...string) schedule.Items {
	e.Helper()
	snap, err := s.BuildItems(e.ctx, runtime, guard, schedule.ItemsMark{Version: storekit.AnyVersion}, defs)
	require.NoError(e, err, "BuildItems %s", runtime)
	return snap
}

// items reads the items of a runtime.
func (e *env) items(s storekit.Store, runtime string) schedule.Items {
	e.Helper()
	snap, err := s.Items(e.ctx, runtime)
	require.NoError(e, err, "Items %s", runtime)
	return snap
}

// item returns the item id of a snapshot.
func (e *env) item(snap schedule.Items, id schedule.ItemID) schedule.Item {
	e.Helper()
	for _, it := range snap.Items {
		if it.ID == id {
			return it
		}
	}
	e.Fatalf("no item %q in %+v", id, snap.Items)
	return schedule.Item{}
}

// serverIDs returns the ids of servers, in order.
func serverIDs(servers []schedule.Server) []schedule.ServerID {
	ids := make([]schedule.ServerID, len(servers))
	for i, s := range servers {
		ids[i] = s.UUID
	}
	return ids
}

// ownFactories returns the factories whose host name is name or starts
// with name+"-".
func ownFactories(fs []schedule.Factory, name string) []schedule.Factory {
	var out []schedule.Factory
	for _, f := range fs {
		if f.HostName == name || strings.HasPrefix(f.HostName, name+"-") {
			out = append(out, f)
		}
	}
	return out
}

// millis returns t truncated to milliseconds in UTC: how a stored time reads back.
func millis(t time.Time) schedule.Time {
	if t.IsZero() {
		return schedule.Time{}
	}
	return schedule.Time{Time: t.Truncate(time.Millisecond).UTC()}
}

// isOneOf reports whether err matches one of targets.
func isOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// SampleTaskType returns a valid task type named base whose every field
// differs from its default, so that a lossy codec shows in a round trip. Its
// items are "0:{TYPE=A,KIND=1}", "1", "2" and "3".
func SampleTaskType(base string) schedule.TaskType {
	return schedule.TaskType{
		BaseTaskType:                 base,
		HeartBeatRate:                2 * time.Second,
		JudgeDeadInterval:            20 * time.Second,
		SleepTimeNoData:              250 * time.Millisecond,
		SleepTimeInterval:            10 * time.Millisecond,
		FetchDataNumber:              300,
		ExecuteNumber:                2,
		ThreadNumber:                 3,
		ProcessorType:                schedule.ProcessorNotSleep,
		PermitRunStartTime:           "0 0 * * * ?",
		PermitRunEndTime:             "0 30 * * * ?",
		ExpireOwnSignInterval:        36 * time.Hour,
		DealBeanName:                 "sampleDeal",
		TaskParameter:                "AREA=杭州,YEAR>30",
		TaskItems:                    []string{"0:{TYPE=A,KIND=1}", "1", "2", "3"},
		MaxTaskItemsOfOneThreadGroup: 2,
		Sts:                          schedule.StsResume,
		FetchDataCountEachSchedule:   5,
		TimeZone:                     "UTC",
	}
}

// SampleStrategy returns a valid Schedule strategy named name for the
// runtime taskName ("base" or "base$ownSign").
func SampleStrategy(name, taskName string) schedule.Strategy {
	return schedule.Strategy{
		StrategyName:      name,
		IPList:            []string{"127.0.0.1"},
		NumOfSingleServer: 2,
		AssignNum:         4,
		Kind:              schedule.KindSchedule,
		TaskName:          taskName,
		TaskParameter:     "中国",
		Sts:               schedule.StsResume,
	}
}

// SampleServer returns a server record of runtime ("base" or
// "base$ownSign") on ip, ready for RegisterServer, with times at millisecond
// precision in UTC (so it compares equal after a round trip).
func SampleServer(runtime, ip string) schedule.Server {
	base, ownSign, _ := strings.Cut(runtime, "$")
	if ownSign == "" {
		ownSign = schedule.DefaultOwnSign
	}
	now := millis(time.Now())
	return schedule.Server{
		TaskType:           runtime,
		BaseTaskType:       base,
		OwnSign:            ownSign,
		IP:                 ip,
		HostName:           "host-" + strings.ReplaceAll(ip, ".", "-"),
		ThreadNum:          3,
		RegisterTime:       now,
		HeartBeatTime:      now,
		Version:            1,
		IsRegister:         true,
		ManagerFactoryUUID: "",
	}
}

// SampleFactory returns a factory record of ip and hostName, ready for
// RegisterFactory, with its time at millisecond precision in UTC.
func SampleFactory(ip, hostName string) schedule.Factory {
	return schedule.Factory{IP: ip, HostName: hostName, RegisterTime: millis(time.Now())}
}
