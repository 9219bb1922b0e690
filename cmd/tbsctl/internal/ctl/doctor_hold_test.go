package ctl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// TestDoctorHoldIsNotAFault: during a normal crash takeover the leader
// holds the vanished server's items for its lock delay; doctor reports the
// hold with its end and exits 0 (it exited 1, so "doctor || alert" paged on
// every crash).
func TestDoctorHoldIsNotAFault(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "rt.yaml", runtimeYAML))
	long := func(c *strategy.Config) { c.ManagerConfig.LockDelay = time.Minute }
	e.startFactoryWith("10.0.0.1", "worker-1", long)
	// Two processes on one IP: only the host name tells them apart.
	victim := e.startFactoryWith("10.0.0.1", "worker-2", long)
	waitFor(t, 30*time.Second, "one server on each factory, 3 items each", func() bool {
		rt := e.status().TaskTypes[0].Runtimes
		if len(rt) != 1 || len(rt[0].Servers) != 2 {
			return false
		}
		s := rt[0].Servers
		return s[0].HostName != s[1].HostName && s[0].Items == 3 && s[1].Items == 3
	})
	// The crash: the victim's session ends, its nodes vanish, its items stay
	// owned by it.
	require.NoError(t, victim.store.Close())
	var r result
	waitFor(t, 15*time.Second, "doctor sees the hold", func() bool {
		r = e.run("doctor")
		return regexp.MustCompile(`HOLD \[held\] .*held for its lock delay until`).MatchString(r.out)
	})
	assert.Equal(t, ctl.ExitOK, r.code, "%s", r)
	assert.Regexp(t, `HOLD \[held\] `+regexp.QuoteMeta(e.root)+`/baseTaskType/orders/orders/taskItem: 3 item\(s\) of server worker-2#\d+ \(orders\$10\.0\.0\.1\$[0-9A-F]+\$\d+\), which is not live: [0-9:{}A-Z=, ]+; held for its lock delay until \d{4}-\d\d-\d\dT[0-9:.]+Z \((\d+m)?\d+(\.\d+)?s from now\), then the leader reassigns them`, r.out)
	assert.Contains(t, r.out, "no problems found; 1 takeover(s) under way (items held for a lock delay)\n")

	// status names the vanished owner by its host, shows the hold and its
	// end; the full ids are in -o wide and -o json.
	var doc struct {
		TaskTypes []struct {
			Runtimes []struct {
				Held  int
				Holds []schedule.ServerHold
				Items []struct {
					CurServer string         `json:"cur_server"`
					OwnerName string         `json:"ownerName"`
					Flag      string         `json:"flag"`
					HeldUntil *schedule.Time `json:"heldUntil"`
				}
				Servers []struct {
					Name, Session string
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(e.ok("status", "-o", "json")), &doc))
	rt := doc.TaskTypes[0].Runtimes[0]
	require.Len(t, rt.Holds, 1)
	hold := rt.Holds[0]
	assert.Equal(t, "worker-2", hold.HostName)
	assert.Equal(t, 3, rt.Held)
	name := fmt.Sprintf("worker-2#%d", seqOf(t, string(hold.Server)))
	for _, it := range rt.Items {
		if it.CurServer == string(hold.Server) {
			assert.Equal(t, name, it.OwnerName)
			assert.Equal(t, "held", it.Flag)
			require.NotNil(t, it.HeldUntil)
			assert.Equal(t, hold.Until, *it.HeldUntil)
		}
	}
	require.NotEmpty(t, rt.Servers)
	for _, sv := range rt.Servers { // worker-1 may have started a second server by now
		assert.Regexp(t, `^worker-1#\d+$`, sv.Name)
		assert.Regexp(t, `^0x[0-9a-f]+$`, sv.Session)
	}
	until := hold.Until.UTC().Format("2006-01-02T15:04:05.000Z")
	text := e.ok("status")
	assert.Regexp(t, `runtime orders \(ownSign BASE\): [12] server\(s\), 6 item\(s\), 3 HELD for a lock delay;`, text)
	assert.Contains(t, text, "    hold: 3 item(s) of vanished "+name+" until "+until+"\n")
	assert.Regexp(t, `\n    \d+ +`+regexp.QuoteMeta(name)+` +- +\d+ +\S+ +HELD until `+regexp.QuoteMeta(until)+`\n`, text)
	assert.NotContains(t, text, string(hold.Server))
	assert.Contains(t, e.ok("status", "-o", "wide"), string(hold.Server))
}

// seqOf is the sequence number at the end of a server id.
func seqOf(t *testing.T, id string) int {
	var n int
	_, err := fmt.Sscanf(id[strings.LastIndex(id, "$")+1:], "%d", &n)
	require.NoError(t, err, id)
	return n
}

// TestDoctorJudgesOrphans drives the four cases on a tree written by hand:
// the leader has not looked yet (hold, exit 0); it wrote its record but
// holds nothing (problem); its hold is under way (exit 0); its hold ended
// long ago and the items did not move (problem).
func TestDoctorJudgesOrphans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tt := fastTaskType("ghost", 2)
	admin := e.store()
	_, err := admin.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	leaderStore := e.store()
	sess, err := leaderStore.Session(ctx)
	require.NoError(t, err)
	now := time.Now()
	leader, err := leaderStore.RegisterServer(ctx, sess, schedule.Server{TaskType: "ghost", BaseTaskType: "ghost", OwnSign: "BASE",
		IP: "10.0.0.5", HostName: "lead-host", HeartBeatTime: schedule.Time{Time: now}})
	require.NoError(t, err)
	dying := e.store()
	dsess, err := dying.Session(ctx)
	require.NoError(t, err)
	gone, err := dying.RegisterServer(ctx, dsess, schedule.Server{TaskType: "ghost", BaseTaskType: "ghost", OwnSign: "BASE", IP: "10.0.0.6", HostName: "gone-host"})
	require.NoError(t, err)
	items, err := leaderStore.BuildItems(ctx, "ghost", leader.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
	require.NoError(t, err)
	_, err = leaderStore.UpdateItem(ctx, "ghost", leader.UUID, items.Items[0], leader.UUID, "")
	require.NoError(t, err)
	_, err = leaderStore.UpdateItem(ctx, "ghost", leader.UUID, items.Items[1], gone.UUID, "")
	require.NoError(t, err)
	require.NoError(t, dying.Close())
	node := e.root + "/baseTaskType/ghost/ghost/taskItem"
	what := fmt.Sprintf("1 item(s) of server 10.0.0.6#%d (%s), which is not live: 1", gone.Seq, gone.UUID)

	fs := e.doctor(ctl.ExitOK)
	require.Len(t, fs, 1, "%+v", fs)
	assert.Equal(t, "hold", fs[0].Severity)
	assert.Equal(t, node, fs[0].Node)
	assert.Equal(t, what+"; it vanished moments ago and the leader has not yet written its record since: it holds them for the server's lock delay", fs[0].Detail)

	setHolds := func(h ...schedule.ServerHold) {
		leader.Holds = h
		leader.HeartBeatTime = schedule.Time{Time: time.Now()}
		require.NoError(t, leaderStore.UpdateServer(ctx, leader))
	}
	setHolds()
	fs = e.doctor(ctl.ExitFailed)
	require.Len(t, fs, 1, "%+v", fs)
	assert.Equal(t, "problem", fs[0].Severity)
	assert.Equal(t, "dead owner", fs[0].Check)
	assert.Equal(t, what, fs[0].Detail)
	assert.Contains(t, fs[0].Fix, "holds no lock delay for them: look at the leader's log (lead-host#")

	until := schedule.Time{Time: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
	setHolds(schedule.ServerHold{Server: gone.UUID, HostName: "gone-host", Items: 1, Until: until})
	fs = e.doctor(ctl.ExitOK)
	require.Len(t, fs, 1, "%+v", fs)
	assert.Equal(t, "hold", fs[0].Severity)
	assert.Contains(t, fs[0].Detail, fmt.Sprintf("1 item(s) of server gone-host#%d (%s), which is not live: 1; held for its lock delay until %s (", gone.Seq, gone.UUID,
		until.UTC().Format("2006-01-02T15:04:05.000Z")))

	setHolds(schedule.ServerHold{Server: gone.UUID, HostName: "gone-host", Items: 1, Until: schedule.Time{Time: time.Now().Add(-time.Minute)}})
	fs = e.doctor(ctl.ExitFailed)
	require.Len(t, fs, 1, "%+v", fs)
	assert.Equal(t, "problem", fs[0].Severity)
	assert.Contains(t, fs[0].Detail, "; the leader's lock-delay hold ended at ")
	assert.Contains(t, fs[0].Detail, "but they were not reassigned")
}
