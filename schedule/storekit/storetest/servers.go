package storetest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// checkServerID checks the node name "<runtime>$<ip>$<uuid32>$<seq10>" and
// that Seq is its sequence.
func (e *env) checkServerID(rec schedule.Server, runtime, ip string) {
	e.Helper()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(runtime+"$"+ip+"$") + `[0-9A-F]{32}\$([0-9]{10})$`)
	m := re.FindStringSubmatch(string(rec.UUID))
	require.NotNil(e, m, "server id %q is not <runtime>$<ip>$<uuid32>$<seq10>", rec.UUID)
	seq, _ := strconv.ParseInt(m[1], 10, 64)
	assert.Equal(e, seq, rec.Seq, "Seq of %s", rec.UUID)
}

// testServerSequence: servers registered by two clients get strictly
// increasing sequence numbers in registration order; Servers lists them
// sorted by Seq, in every runtime.
func testServerSequence(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	for _, rt := range []string{e.name, e.name + "$TEST"} {
		var regs []schedule.Server
		for i := range 5 {
			s := []storekit.Store{a, b}[i%2]
			ip := fmt.Sprintf("10.0.0.%d", i+1)
			rec := e.registerServer(s, rt, ip)
			e.checkServerID(rec, rt, ip)
			if len(regs) > 0 {
				require.Greater(e, rec.Seq, regs[len(regs)-1].Seq, "sequence not increasing in %s", rt)
			}
			regs = append(regs, rec)
		}
		for _, s := range []storekit.Store{a, b} {
			eventuallyEqual(e, "Servers("+rt+") in registration order", regs, func() ([]schedule.Server, error) {
				return s.Servers(e.ctx, rt)
			})
			ids := make([]schedule.ServerID, len(regs))
			for i, r := range regs {
				ids[i] = r.UUID
			}
			eventuallyEqual(e, "ServerIDs("+rt+") in registration order", ids, func() ([]schedule.ServerID, error) {
				return s.ServerIDs(e.ctx, rt)
			})
		}
		// A sequence number is never reused, even after a deletion.
		require.NoError(e, a.UnregisterServer(e.ctx, rt, regs[4].UUID))
		rec := e.registerServer(b, rt, "10.0.0.9")
		assert.Greater(e, rec.Seq, regs[4].Seq, "sequence reused after a deletion")
		// ServersByID reads only the servers named, in leader order, and
		// leaves out those that do not exist.
		got, err := a.ServersByID(e.ctx, rt, []schedule.ServerID{regs[2].UUID, regs[4].UUID, regs[0].UUID})
		require.NoError(e, err, "ServersByID")
		assert.Equal(e, []schedule.Server{regs[0], regs[2]}, got, "ServersByID(%s)", rt)
		got, err = a.ServersByID(e.ctx, rt, nil)
		require.NoError(e, err, "ServersByID of no ids")
		assert.Empty(e, got)
	}
	list, err := a.Servers(e.ctx, e.name+"_none")
	require.NoError(e, err, "Servers of a runtime that does not exist")
	assert.Empty(e, list)
	ids, err := a.ServerIDs(e.ctx, e.name+"_none")
	require.NoError(e, err, "ServerIDs of a runtime that does not exist")
	assert.Empty(e, ids)
	list, err = a.ServersByID(e.ctx, e.name+"_none", []schedule.ServerID{schedule.ServerID(e.name + "_none$10.0.0.1$0123456789ABCDEF0123456789ABCDEF$0000000001")})
	require.NoError(e, err, "ServersByID of a runtime that does not exist")
	assert.Empty(e, list)
	_, err = a.RegisterServer(e.ctx, e.session(a), SampleServer(e.name+"_none", "10.0.0.1"))
	require.ErrorIs(e, err, schedule.ErrNotFound, "RegisterServer for a task type that does not exist")
	rts, err := a.Runtimes(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []string{e.name, e.name + "$TEST"}, rts)
	rts, err = a.Runtimes(e.ctx, e.name+"_none")
	require.NoError(e, err, "Runtimes of a task type that does not exist")
	assert.Empty(e, rts)
}

// testServerRecordRoundTrip: every field of a server record survives the
// store; times read back at millisecond precision in UTC; UUID and Seq come
// from the node, whatever the caller put there.
func testServerRecordRoundTrip(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	sess := e.session(s)
	cst := time.FixedZone("CST", 8*3600)
	rt := e.name + "$PRE"
	in := schedule.Server{
		UUID:               "ignored",
		Seq:                99,
		TaskType:           rt,
		BaseTaskType:       e.name,
		OwnSign:            "PRE",
		IP:                 "192.168.7.42",
		HostName:           "worker-7.example.com",
		ThreadNum:          7,
		RegisterTime:       schedule.Time{Time: time.Date(2026, 11, 21, 18, 5, 2, 123456789, cst)},
		HeartBeatTime:      schedule.Time{Time: time.Date(2026, 11, 21, 18, 5, 3, 999999999, cst)},
		DealInfoDesc:       "开启服务立即启动:FetchDataCount=12,FetchDataNum=6000",
		NextRunStartTime:   "2026-11-21 10:00:00",
		NextRunEndTime:     "当不能获取到数据的时候pause",
		Version:            61,
		IsRegister:         true,
		ManagerFactoryUUID: "192.168.7.42$worker-7$0C78AB$0000000003",
		Session:            sess.ID(),
		WindowState:        "running",
		Message:            `quote " backslash \ newline` + "\n",
	}
	got, err := s.RegisterServer(e.ctx, sess, in)
	require.NoError(e, err)
	e.checkServerID(got, rt, in.IP)

	want := in
	want.UUID, want.Seq = got.UUID, got.Seq
	want.RegisterTime = schedule.Time{Time: time.Date(2026, 11, 21, 10, 5, 2, 123000000, time.UTC)}
	want.HeartBeatTime = schedule.Time{Time: time.Date(2026, 11, 21, 10, 5, 3, 999000000, time.UTC)}
	list, err := s.Servers(e.ctx, rt)
	require.NoError(e, err)
	require.Len(e, list, 1)
	assert.Equal(e, want, list[0], "server record round trip")
	assert.Equal(e, time.UTC, list[0].RegisterTime.Location(), "stored times read back in UTC")
	assert.True(e, list[0].LastFetchDataTime.IsZero(), "zero time round trip")
}

// testServerHeartbeat: UpdateServer rewrites the record; a lost or
// unregistered server cannot be rewritten (ErrNotFound); unregistering twice
// is fine.
func testServerHeartbeat(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	reg := e.registerServer(s, e.name, "10.0.0.1")
	other := e.registerServer(s, e.name, "10.0.0.2")

	hb := reg
	hb.HeartBeatTime = millis(reg.HeartBeatTime.Add(1500 * time.Millisecond))
	hb.LastFetchDataTime = millis(time.Now())
	hb.DealInfoDesc = "FetchDataCount=1"
	hb.Version++
	hb.NextRunStartTime = "2026-01-01 00:00:00"
	require.NoError(e, s.UpdateServer(e.ctx, hb))
	list, err := s.Servers(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []schedule.Server{hb, other}, list, "after heartbeat")

	require.NoError(e, s.UnregisterServer(e.ctx, e.name, reg.UUID))
	require.NoError(e, s.UnregisterServer(e.ctx, e.name, reg.UUID), "unregistering twice")
	list, err = s.Servers(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []schedule.ServerID{other.UUID}, serverIDs(list))
	require.ErrorIs(e, s.UpdateServer(e.ctx, hb), schedule.ErrNotFound, "heartbeat after unregister")
}

// testSessionExpiry: when the backend expires a client's session, its
// ephemeral nodes vanish for everyone, its old Session is expired for good,
// the client gets a new session, registrations under the old session fail
// with ErrSessionLost, and persistent data stays.
func testSessionExpiry(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	e.createStrategy(a, e.name, e.name)
	old := e.session(a)
	srvA := e.registerServer(a, e.name, "10.0.0.1")
	srvB := e.registerServer(b, e.name, "10.0.0.2")
	facA := e.registerFactory(a, "10.0.0.1", e.name+"-a")
	facB := e.registerFactory(b, "10.0.0.2", e.name+"-b")
	_, err := a.RegisterStrategyRuntime(e.ctx, old, schedule.StrategyRuntime{StrategyName: e.name, UUID: facA.UUID})
	require.NoError(e, err)
	_, err = b.RegisterStrategyRuntime(e.ctx, e.session(b), schedule.StrategyRuntime{StrategyName: e.name, UUID: facB.UUID})
	require.NoError(e, err)
	state := schedule.FactoryState{Stopped: true, By: "ops", At: millis(time.Now()), Reason: "maintenance"}
	require.NoError(e, a.SetFactoryState(e.ctx, "10.0.0.1", e.name+"-a", state))
	e.build(a, e.name, srvA.UUID, "0", "1")

	e.h.Expire(e.T, a)

	e.eventually("the expired session's server vanishes", func() error {
		list, err := b.Servers(e.ctx, e.name)
		if err != nil {
			return err
		}
		if ids := serverIDs(list); !slices.Equal(ids, []schedule.ServerID{srvB.UUID}) {
			return fmt.Errorf("servers %v", ids)
		}
		return nil
	})
	e.eventually("the expired session's factory vanishes", func() error {
		fs, err := b.Factories(e.ctx)
		if err != nil {
			return err
		}
		if own := ownFactories(fs, e.name); len(own) != 1 || own[0].UUID != facB.UUID {
			return fmt.Errorf("factories %+v", own)
		}
		return nil
	})
	e.eventually("the expired session's strategy runtime vanishes", func() error {
		rts, err := b.StrategyRuntimes(e.ctx, e.name)
		if err != nil {
			return err
		}
		if len(rts) != 1 || rts[0].UUID != facB.UUID {
			return fmt.Errorf("strategy runtimes %+v", rts)
		}
		return nil
	})

	e.sessionDone(old, "Expire")
	assert.Equal(e, schedule.SessionExpired, old.State())
	assert.ErrorIs(e, old.Err(), schedule.ErrSessionLost)
	cur := e.newSession(a, old)
	assert.NoError(e, cur.Err())
	assert.Equal(e, schedule.SessionExpired, old.State(), "the old session came back")

	_, err = a.RegisterServer(e.ctx, old, SampleServer(e.name, "10.0.0.1"))
	require.ErrorIs(e, err, schedule.ErrSessionLost, "RegisterServer with the expired session")
	_, err = a.RegisterFactory(e.ctx, old, SampleFactory("10.0.0.1", e.name+"-a"))
	require.ErrorIs(e, err, schedule.ErrSessionLost, "RegisterFactory with the expired session")
	_, err = a.RegisterStrategyRuntime(e.ctx, old, schedule.StrategyRuntime{StrategyName: e.name, UUID: facA.UUID})
	require.ErrorIs(e, err, schedule.ErrSessionLost, "RegisterStrategyRuntime with the expired session")
	require.ErrorIs(e, a.UpdateServer(e.ctx, srvA), schedule.ErrNotFound, "heartbeat of the lost registration")

	again, err := a.RegisterServer(e.ctx, cur, SampleServer(e.name, "10.0.0.1"))
	require.NoError(e, err, "RegisterServer with the new session")
	assert.Greater(e, again.Seq, srvB.Seq)
	_, err = a.RegisterStrategyRuntime(e.ctx, cur, schedule.StrategyRuntime{StrategyName: e.name, UUID: facA.UUID})
	require.NoError(e, err, "RegisterStrategyRuntime with the new session")

	got, err := a.FactoryState(e.ctx, "10.0.0.1", e.name+"-a")
	require.NoError(e, err)
	assert.Equal(e, state, got, "factory state after the expiry")
	snap := e.items(b, e.name)
	assert.Len(e, snap.Items, 2, "items after the expiry")
	assert.Equal(e, srvA.UUID, snap.Mark.Leader)
}

// testCloseEndsSession: Close removes the client's ephemerals at once for
// everyone, ends its session with ErrClosed, closes its watches, and every
// later call fails with ErrClosed.
func testCloseEndsSession(e *env) {
	a, b := e.client(), e.client()
	e.createTaskType(b, e.name)
	e.createStrategy(b, e.name, e.name)
	sess := e.session(a)
	e.registerServer(a, e.name, "10.0.0.1")
	fac := e.registerFactory(a, "10.0.0.1", e.name)
	_, err := a.RegisterStrategyRuntime(e.ctx, sess, schedule.StrategyRuntime{StrategyName: e.name, UUID: fac.UUID})
	require.NoError(e, err)
	ch, err := a.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchServers, Name: e.name})
	require.NoError(e, err)

	require.NoError(e, a.Close())

	e.eventually("the closed client's nodes vanish", func() error {
		servers, err := b.Servers(e.ctx, e.name)
		if err != nil {
			return err
		}
		fs, err := b.Factories(e.ctx)
		if err != nil {
			return err
		}
		rts, err := b.StrategyRuntimes(e.ctx, e.name)
		if err != nil {
			return err
		}
		if len(servers)+len(ownFactories(fs, e.name))+len(rts) != 0 {
			return fmt.Errorf("servers %v, factories %v, strategy runtimes %v", serverIDs(servers), ownFactories(fs, e.name), rts)
		}
		return nil
	})
	e.sessionDone(sess, "Close")
	assert.Equal(e, schedule.SessionClosed, sess.State())
	assert.ErrorIs(e, sess.Err(), schedule.ErrClosed)
	e.closed(ch, "Close")

	_, _, err = a.TaskType(e.ctx, e.name)
	assert.ErrorIs(e, err, schedule.ErrClosed, "TaskType after Close")
	_, err = a.Servers(e.ctx, e.name)
	assert.ErrorIs(e, err, schedule.ErrClosed, "Servers after Close")
	_, err = a.CreateTaskType(e.ctx, SampleTaskType(e.name+"_x"))
	assert.ErrorIs(e, err, schedule.ErrClosed, "CreateTaskType after Close")
	_, err = a.Watch(e.ctx, storekit.WatchScope{Kind: storekit.WatchConfig})
	assert.ErrorIs(e, err, schedule.ErrClosed, "Watch after Close")
	_, err = a.Now(e.ctx)
	assert.ErrorIs(e, err, schedule.ErrClosed, "Now after Close")
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Wait)
	defer cancel()
	_, err = a.Session(ctx)
	assert.ErrorIs(e, err, schedule.ErrClosed, "Session after Close")
	_, _, err = b.TaskType(e.ctx, e.name+"_x")
	assert.ErrorIs(e, err, schedule.ErrNotFound, "a create after Close was written")
}

// testDeleteRuntime: a runtime with a live server cannot be deleted
// (ErrNotEmpty, nothing removed); without one, its items and servers
// directory go in one step; a runtime that does not exist is ErrNotFound.
func testDeleteRuntime(e *env) {
	s := e.client()
	e.createTaskType(s, e.name)
	rt := e.name + "$OLD"
	srv := e.registerServer(s, rt, "10.0.0.1")
	keep := e.registerServer(s, e.name, "10.0.0.1")
	built := e.build(s, rt, srv.UUID, "0", "1", "2")
	granted, err := s.UpdateItem(e.ctx, rt, srv.UUID, e.item(built, "0"), srv.UUID, "")
	require.NoError(e, err, "a grant, which leaves notes")
	built.Items[0] = granted
	built.Stamp = e.items(s, rt).Stamp

	require.ErrorIs(e, s.DeleteRuntime(e.ctx, rt), schedule.ErrNotEmpty)
	assert.Equal(e, built, e.items(s, rt), "a refused DeleteRuntime removed items")
	servers, err := s.Servers(e.ctx, rt)
	require.NoError(e, err)
	assert.Equal(e, []schedule.ServerID{srv.UUID}, serverIDs(servers))

	require.NoError(e, s.UnregisterServer(e.ctx, rt, srv.UUID))
	require.NoError(e, s.DeleteRuntime(e.ctx, rt))
	snap := e.items(s, rt)
	assert.Empty(e, snap.Items, "items after DeleteRuntime")
	assert.Empty(e, snap.Mark.Leader, "mark after DeleteRuntime")
	servers, err = s.Servers(e.ctx, rt)
	require.NoError(e, err)
	assert.Empty(e, servers)
	rts, err := s.Runtimes(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []string{e.name}, rts)
	require.ErrorIs(e, s.DeleteRuntime(e.ctx, rt), schedule.ErrNotFound, "DeleteRuntime twice")

	_, _, err = s.TaskType(e.ctx, e.name)
	require.NoError(e, err, "DeleteRuntime removed the task type")
	servers, err = s.Servers(e.ctx, e.name)
	require.NoError(e, err)
	assert.Equal(e, []schedule.ServerID{keep.UUID}, serverIDs(servers), "DeleteRuntime touched another runtime")
	// The runtime can be used again.
	srv = e.registerServer(s, rt, "10.0.0.1")
	snap = e.build(s, rt, srv.UUID, "7")
	assert.Len(e, snap.Items, 1)
	boxes, err := s.NoteBoxes(e.ctx, rt)
	require.NoError(e, err)
	assert.Empty(e, boxes, "the notes went with the runtime")
	_, err = s.UpdateItem(e.ctx, rt, srv.UUID, snap.Items[0], srv.UUID, "")
	require.NoError(e, err, "a write whose note boxes went with the runtime")
	assert.Len(e, e.noteItems(s, rt, srv.UUID), 1)
}
