package zkstore

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

var update = flag.Bool("update", false, "rewrite testdata/tree.golden")

// populate writes one of every kind of node through s: a task type with two
// runtimes, servers, items (one removed), a strategy with a factory's
// registration, a factory and a factory state.
func populate(t *testing.T, s *Store) {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	sess := sessionOf(t, s)
	tt := sampleTaskType("orders", 0)
	tt.TaskItems = []string{"0:{TYPE=A,KIND=1}", "1", "2"}
	_, err := s.CreateTaskType(ctx, tt)
	require.NoError(t, err)
	_, err = s.CreateStrategy(ctx, schedule.Strategy{StrategyName: "orders-s", IPList: []string{"127.0.0.1"},
		AssignNum: 2, Kind: schedule.KindSchedule, TaskName: "orders", Sts: schedule.StsResume})
	require.NoError(t, err)
	for _, rt := range []string{"orders", "orders$TEST"} {
		srv, err := s.RegisterServer(ctx, sess, sampleServer(rt, "10.0.0.1"))
		require.NoError(t, err)
		snap, err := s.BuildItems(ctx, rt, srv.UUID, schedule.ItemsMark{Version: storekit.AnyVersion}, tt.TaskItems)
		require.NoError(t, err)
		_, err = s.UpdateItem(ctx, rt, srv.UUID, snap.Items[0], srv.UUID, "")
		require.NoError(t, err)
		if rt != "orders" {
			_, err = s.BuildItems(ctx, rt, srv.UUID, snap.Mark, tt.TaskItems[:2]) // item 2 removed
			require.NoError(t, err)
		}
	}
	require.NoError(t, s.SetItemDesc(ctx, "orders", "1", "FetchDataCount=1"))
	f, err := s.RegisterFactory(ctx, sess, schedule.Factory{IP: "10.0.0.1", HostName: "host1"})
	require.NoError(t, err)
	_, err = s.RegisterStrategyRuntime(ctx, sess, schedule.StrategyRuntime{StrategyName: "orders-s", UUID: f.UUID, RequestNum: 1})
	require.NoError(t, err)
	require.NoError(t, s.SetFactoryState(ctx, "10.0.0.1", "host1", schedule.FactoryState{Stopped: true, By: "ops"}))
	_, err = s.Now(ctx) // a calibration has run (its node is gone)
	require.NoError(t, err)
}

var (
	reUUID = regexp.MustCompile(`[0-9A-F]{32}`)
	reSeq  = regexp.MustCompile(`\$[0-9]{10}$`)
	reSys  = regexp.MustCompile(`^systime[0-9]{10}$`)
)

// dumpTree lists every node under root (root included), children sorted:
// path (variable parts replaced), kind (P persistent, E ephemeral, E+S
// ephemeral sequential), ACL, and the shape of its data.
func dumpTree(t *testing.T, conn *zk.Conn, root string) string {
	t.Helper()
	var b strings.Builder
	var walk func(p string)
	walk = func(p string) {
		data, st, err := conn.Get(p)
		require.NoError(t, err, p)
		acl, _, err := conn.GetACL(p)
		require.NoError(t, err, p)
		name := "<root>" + strings.TrimPrefix(p, root)
		name = reUUID.ReplaceAllString(name, "<UUID>")
		kind := "P"
		if st.EphemeralOwner != 0 {
			kind = "E"
		}
		name = reSeq.ReplaceAllString(name, "$$<SEQ>")
		// Sequential nodes: registrations of servers and factories, and the
		// calibration node (a strategy runtime is named after its factory,
		// sequence included, but is not sequential itself).
		if dir := baseOf(parentOf(p)); dir == nodeServers || dir == nodeFactories || reSys.MatchString(baseOf(p)) {
			kind += "+S"
		}
		fmt.Fprintf(&b, "%-72s %-3s %-24s %s\n", name, kind, aclString(acl), shape(data))
		children, _, err := conn.Children(p)
		require.NoError(t, err, p)
		sort.Strings(children)
		for _, c := range children {
			walk(p + "/" + c)
		}
	}
	walk(root)
	return b.String()
}

func aclString(acl []zk.ACL) string {
	var parts []string
	for _, a := range acl {
		id := a.ID
		if a.Scheme == "digest" {
			id = strings.SplitN(id, ":", 2)[0] + ":<hash>"
		}
		perms := fmt.Sprint(a.Perms)
		switch a.Perms {
		case zk.PermAll:
			perms = "ALL"
		case zk.PermRead:
			perms = "READ"
		}
		parts = append(parts, a.Scheme+":"+id+":"+perms)
	}
	return strings.Join(parts, ",")
}

// shape describes data: empty, or the JSON keys with their JSON types.
func shape(data []byte) string {
	if len(data) == 0 {
		return "-"
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Sprintf("text %q", string(data))
	}
	return jsonShape(v)
}

func jsonShape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + jsonShape(x[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + jsonShape(x[0]) + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// TestTreeGolden pins the tree: every node a populated store writes, its
// kind, ACL and data shape (testdata/tree.golden; -update rewrites it).
func TestTreeGolden(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	root := c.UniqueRoot(t) + "/app"
	s := openStore(t, testConfig(c, root, testAuth))
	populate(t, s)
	super := superConn(t, c)
	var got string
	// The background calibration may still hold a systime node for a moment.
	waitFor(t, 10*time.Second, "no calibration node left", func() error {
		got = dumpTree(t, super, root)
		if strings.Contains(got, "systime") {
			return fmt.Errorf("calibration node present")
		}
		return nil
	})
	// The root's data, exactly.
	data, _, err := super.Get(root)
	require.NoError(t, err)
	assert.JSONEq(t, `{"schema":1,"software":"tbschedule-go"}`, string(data))

	golden := filepath.Join("testdata", "tree.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestTreeGolden -update to create it")
	assert.Equal(t, string(want), got, "the tree changed; if on purpose, update doc.go and run -update")
}

// TestACL: with Auth, every node the store creates, the root's missing
// ancestors included, is digest ALL + world READ; without, world ALL. A
// client without the digest reads but cannot write (ErrPermission and
// zk.ErrNoAuth).
func TestACL(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	parent := c.UniqueRoot(t)
	root := parent + "/a/b/app" // a and b are missing ancestors
	s := openStore(t, testConfig(c, root, testAuth))
	populate(t, s)
	super := superConn(t, c)
	want := zk.DigestACL(zk.PermAll, testAuth.User, testAuth.Password)
	want = append(want, zk.WorldACL(zk.PermRead)...)
	n := 0
	var walk func(p string)
	walk = func(p string) {
		acl, _, err := super.GetACL(p)
		require.NoError(t, err, p)
		assert.Equal(t, want, acl, "ACL of %s", p)
		n++
		children, _, err := super.Children(p)
		require.NoError(t, err)
		for _, ch := range children {
			walk(p + "/" + ch)
		}
	}
	walk(parent) // the parent of the root was missing too
	assert.Greater(t, n, 20, "nodes checked")

	// A client without the digest reads but cannot write.
	ro := openStore(t, testConfig(c, root, nil))
	ctx := ctxT(t, time.Minute)
	got, _, err := ro.TaskType(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, "orders", got.BaseTaskType)
	_, err = ro.UpdateTaskType(ctx, got, storekit.AnyVersion)
	assert.ErrorIs(t, err, schedule.ErrPermission)
	assert.ErrorIs(t, err, zk.ErrNoAuth)
	err = ro.SetFactoryState(ctx, "10.0.0.9", "h", schedule.FactoryState{})
	assert.ErrorIs(t, err, schedule.ErrPermission)
	assert.ErrorIs(t, err, zk.ErrNoAuth)
	now, err := ro.Now(ctx) // it cannot calibrate: local time
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), now, time.Second)

	// Without Auth, nodes are open to all.
	openRoot := c.UniqueRoot(t) + "/open"
	o := openStore(t, testConfig(c, openRoot, nil))
	_, err = o.CreateTaskType(ctx, sampleTaskType("t1", 1))
	require.NoError(t, err)
	for _, p := range []string{openRoot, openRoot + "/baseTaskType", openRoot + "/baseTaskType/t1"} {
		acl, _, err := super.GetACL(p)
		require.NoError(t, err)
		assert.Equal(t, zk.WorldACL(zk.PermAll), acl, p)
	}
}

// TestRootSchema: a root written by TBSchedule (Java), by a newer schema or
// by something else is refused with ErrSchema saying what was found; an
// existing empty root is adopted.
func TestRootSchema(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	parent := c.UniqueRoot(t)
	raw := superConn(t, c)
	_, err := raw.Create(parent, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	tests := []struct {
		name, data, want string
	}{
		{"java", "tbschedule-3.4.0", `TBSchedule (Java) version "tbschedule-3.4.0"`},
		{"java-j", "tbschedule-4.1.0", `"tbschedule-4.1.0"`},
		{"schema2", `{"schema":2,"software":"tbschedule-go"}`, "schema 2"},
		{"foreign", `{"owner":"kafka"}`, `foreign data "{\"owner\":\"kafka\"}"`},
		{"text", "hello", `foreign data "hello"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := parent + "/" + tt.name
			_, err := raw.Create(root, []byte(tt.data), 0, zk.WorldACL(zk.PermAll))
			require.NoError(t, err)
			ctx := ctxT(t, time.Minute)
			s, err := Open(ctx, testConfig(c, root, testAuth), WithLogger(testLogger(t)))
			if s != nil {
				_ = s.Close()
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, schedule.ErrSchema)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), root, "the error names the root")
			data, _, err := raw.Get(root)
			require.NoError(t, err)
			assert.Equal(t, tt.data, string(data), "the refused root was changed")
			children, _, err := raw.Children(root)
			require.NoError(t, err)
			assert.Empty(t, children, "something was created under a refused root")
		})
	}
	t.Run("empty root adopted", func(t *testing.T) {
		root := parent + "/empty"
		_, err := raw.Create(root, nil, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
		s := openStore(t, testConfig(c, root, testAuth))
		data, _, err := raw.Get(root)
		require.NoError(t, err)
		assert.JSONEq(t, `{"schema":1,"software":"tbschedule-go"}`, string(data))
		_, err = s.CreateTaskType(ctxT(t, time.Minute), sampleTaskType("t1", 1))
		require.NoError(t, err)
		// And opened again as ours.
		openStore(t, testConfig(c, root, testAuth))
	})
}
