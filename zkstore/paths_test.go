package zkstore

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"syscall"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestPaths(t *testing.T) {
	p := paths{root: "/app"}
	must := func(s string, err error) string {
		t.Helper()
		require.NoError(t, err)
		return s
	}
	assert.Equal(t, "/app", p.rootPath())
	assert.Equal(t, "/app/baseTaskType", p.taskTypes())
	assert.Equal(t, "/app/strategy", p.strategies())
	assert.Equal(t, "/app/factory", p.factories())
	assert.Equal(t, "/app/factoryState", p.factoryStates())
	assert.Equal(t, "/app/systime", p.systime())
	assert.Equal(t, "/app/baseTaskType/t1", must(p.taskType("t1")))
	assert.Equal(t, "/app/baseTaskType/t1/t1", must(p.runtime("t1")))
	assert.Equal(t, "/app/baseTaskType/t1/t1$TEST", must(p.runtime("t1$TEST")))
	assert.Equal(t, "/app/baseTaskType/t1/t1$TEST/server", must(p.servers("t1$TEST")))
	id := schedule.ServerID("t1$TEST$10.0.0.1$0C78AB0C78AB0C78AB0C78AB0C78AB01$0000000007")
	assert.Equal(t, "/app/baseTaskType/t1/t1$TEST/server/"+string(id), must(p.server("t1$TEST", id)))
	assert.Equal(t, "/app/baseTaskType/t1/t1/taskItem", must(p.items("t1")))
	assert.Equal(t, "/app/baseTaskType/t1/t1/taskItem/3", must(p.item("t1", "3")))
	assert.Equal(t, "/app/strategy/s1", must(p.strategy("s1")))
	fid := schedule.FactoryID("10.0.0.1$host1$0C78AB0C78AB0C78AB0C78AB0C78AB01$0000000003")
	assert.Equal(t, "/app/strategy/s1/"+string(fid), must(p.strategyRuntime("s1", fid)))
	assert.Equal(t, "/app/factory/"+string(fid), must(p.factory(fid)))
	assert.Equal(t, "/app/factoryState/10.0.0.1$host1", must(p.factoryState("10.0.0.1", "host1")))
	assert.Equal(t, "t1$TEST$10.0.0.1$U$", must(serverPrefix("t1$TEST", "10.0.0.1", "U")))
	assert.Equal(t, "10.0.0.1$h$U$", must(factoryPrefix("10.0.0.1", "h", "U")))
}

func TestPathsRefuseBadNames(t *testing.T) {
	p := paths{root: "/app"}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "a\x00", "a\x7f", "a\uE000"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			calls := map[string]error{}
			_, calls["taskType"] = p.taskType(bad)
			_, calls["runtime"] = p.runtime(bad)
			_, calls["servers"] = p.servers(bad)
			_, calls["server"] = p.server("t1", schedule.ServerID(bad))
			_, calls["item"] = p.item("t1", schedule.ItemID(bad))
			_, calls["strategy"] = p.strategy(bad)
			_, calls["strategyRuntime"] = p.strategyRuntime("s", schedule.FactoryID(bad))
			_, calls["factory"] = p.factory(schedule.FactoryID(bad))
			_, calls["factoryState ip"] = p.factoryState(bad, "h")
			_, calls["factoryState host"] = p.factoryState("10.0.0.1", bad)
			_, calls["serverPrefix"] = serverPrefix("t1", bad, "U")
			_, calls["factoryPrefix"] = factoryPrefix("10.0.0.1", bad, "U")
			for what, err := range calls {
				assert.ErrorIs(t, err, schedule.ErrInvalid, what)
			}
		})
	}
	// '$' is the field separator: refused where it would be ambiguous.
	_, err := p.taskType("a$b")
	assert.ErrorIs(t, err, schedule.ErrInvalid)
	_, err = p.runtime("a$b$c")
	assert.ErrorIs(t, err, schedule.ErrInvalid)
	_, err = p.factoryState("10.0.0.1", "h$x")
	assert.ErrorIs(t, err, schedule.ErrInvalid)
	_, err = p.item("t1", "a$b")
	assert.ErrorIs(t, err, schedule.ErrInvalid)
}

func TestParseSeq(t *testing.T) {
	tests := []struct {
		name string
		seq  int64
	}{
		{"t1$10.0.0.1$ABC$0000000007", 7},
		{"t1$TEST$10.0.0.1$ABC$0000000123", 123},
		{"10.0.0.1$host$ABC$2147483647", 2147483647},
		{"t1$10.0.0.1$ABC$", -1},
		{"t1$10.0.0.1$ABC$12345", -1},
		{"t1$10.0.0.1$ABC$00000000x1", -1},
		{"plain", -1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.seq, parseSeq(tt.name), tt.name)
	}
	assert.Regexp(t, `^[0-9A-F]{32}$`, newUUID32())
	assert.NotEqual(t, newUUID32(), newUUID32())
	assert.Equal(t, "/a", parentOf("/a/b"))
	assert.Equal(t, "/", parentOf("/a"))
	assert.Equal(t, "b", baseOf("/a/b"))
}

func TestCheckRoot(t *testing.T) {
	ok := []string{`{"schema":1,"software":"tbschedule-go"}`, ` {"software":"tbschedule-go","schema":1,"extra":true} `}
	for _, d := range ok {
		assert.NoError(t, checkRoot("/app", []byte(d)), d)
	}
	bad := map[string]string{
		"tbschedule-3.4.0":                          `TBSchedule (Java) version "tbschedule-3.4.0"`,
		"tbschedule-4.1.0":                          `"tbschedule-4.1.0"`,
		"taobao-pamirs-schedule-3.2.12":             "TBSchedule (Java)",
		`{"schema":2,"software":"tbschedule-go"}`:   "schema 2",
		`{"schema":0,"software":"tbschedule-go"}`:   "schema 0",
		`{"software":"tbschedule-go"}`:              "schema 0",
		`{"schema":1,"software":"something-else"}`:  "foreign data",
		`{"schema":1}`:                              "foreign data",
		"hello":                                     `foreign data "hello"`,
		"[1,2]":                                     "foreign data",
		`{"schema":"1","software":"tbschedule-go"}`: "foreign data",
	}
	for d, want := range bad {
		err := checkRoot("/app", []byte(d))
		require.Error(t, err, d)
		assert.ErrorIs(t, err, schedule.ErrSchema, d)
		assert.Contains(t, err.Error(), want, d)
		assert.Contains(t, err.Error(), "/app", d)
	}
}

func TestErrorMapping(t *testing.T) {
	s := &Store{}
	tests := []struct {
		zkErr error
		want  error
	}{
		{zk.ErrNoNode, schedule.ErrNotFound},
		{zk.ErrNodeExists, schedule.ErrExists},
		{zk.ErrBadVersion, schedule.ErrConflict},
		{zk.ErrNoAuth, schedule.ErrPermission},
		{zk.ErrSessionExpired, schedule.ErrSessionLost},
		{zk.ErrNotEmpty, schedule.ErrNotEmpty},
	}
	for _, tt := range tests {
		err := s.wrapErr("set", "/app/baseTaskType/t1/t1/taskItem/3", tt.zkErr)
		assert.ErrorIs(t, err, tt.want, "%v", tt.zkErr)
		assert.ErrorIs(t, err, tt.zkErr, "the zk error stays reachable")
		assert.Equal(t, fmt.Sprintf("zkstore: set /app/baseTaskType/t1/t1/taskItem/3: %v (%v)", tt.want, tt.zkErr), err.Error())
	}
	// A lost connection is not a domain error while the store is open...
	err := s.wrapErr("get", "/x", zk.ErrConnectionClosed)
	assert.ErrorIs(t, err, zk.ErrConnectionClosed)
	assert.NotErrorIs(t, err, schedule.ErrClosed)
	assert.Equal(t, "zkstore: get /x: zk: connection closed", err.Error())
	// ...and is ErrClosed once it is closed.
	s.isDown.Store(true)
	assert.ErrorIs(t, s.wrapErr("get", "/x", zk.ErrConnectionClosed), schedule.ErrClosed)
	assert.ErrorIs(t, s.wrapErr("get", "/x", zk.ErrClosing), schedule.ErrClosed)
	// Wrapping twice keeps the first operation and path.
	inner := s.wrapErr("set", "/a", zk.ErrBadVersion)
	assert.Same(t, inner, s.wrapErr("multi", "/b", inner))
	assert.NoError(t, s.wrapErr("x", "/y", nil))
	// Other errors pass through, reachable.
	other := errors.New("boom")
	assert.ErrorIs(t, s.wrapErr("get", "/x", other), other)
	// A failed multi operation unwraps to its zk error.
	fe := &failedOp{index: 1, path: "/p", err: zk.ErrNoAuth}
	assert.ErrorIs(t, s.wrapErr("multi", "/p", fe), schedule.ErrPermission)
}

func TestConnLoss(t *testing.T) {
	// The socket's own error for a request written as the server went away.
	reset := &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
	for _, err := range []error{zk.ErrConnectionClosed, zk.ErrNoServer, zk.ErrSessionMoved, zk.ErrClosing, zk.ErrSessionExpired, reset} {
		assert.True(t, isConnLoss(err), "%v", err)
		assert.True(t, isConnLoss(fmt.Errorf("x: %w", err)), "%v wrapped", err)
	}
	for _, err := range []error{nil, zk.ErrNoNode, zk.ErrBadVersion, zk.ErrNoAuth, errors.New("x")} {
		assert.False(t, isConnLoss(err), "%v", err)
	}
}

func TestSortBySeq(t *testing.T) {
	names := func() []string {
		return []string{"b$0000000002", "x", "a$0000000010", "c$0000000002", "w", "d$0000000001"}
	}
	got := names()
	sortBySeq(got, false)
	assert.Equal(t, []string{"w", "x", "d$0000000001", "b$0000000002", "c$0000000002", "a$0000000010"}, got, "servers: no sequence first")
	got = names()
	sortBySeq(got, true)
	assert.Equal(t, []string{"d$0000000001", "b$0000000002", "c$0000000002", "a$0000000010", "w", "x"}, got, "registrations: known sequences first")
	// The same order as runtimeBefore, which orders registration records.
	ids := names()
	slices.SortFunc(ids, func(a, b string) int {
		switch {
		case runtimeBefore(schedule.FactoryID(a), schedule.FactoryID(b)):
			return -1
		case runtimeBefore(schedule.FactoryID(b), schedule.FactoryID(a)):
			return 1
		}
		return 0
	})
	assert.Equal(t, got, ids)
}
