package ctl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

// TestReadOnlyCommandsCreateNothing: on a mistyped root, every command that
// only reads fails with an error naming the root, and the root is still
// missing afterwards (read with a raw client).
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	e := newEnv(t)
	cfg := file(t, "c.yaml", runtimeYAML)
	notFound := "zkstore: open " + e.root + ": schedule: not found (no tbschedule-go tree here"
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"status"}, notFound},
		{[]string{"status", "-o", "json"}, notFound},
		{[]string{"status", "orders"}, notFound},
		{[]string{"factories"}, notFound},
		{[]string{"strategies"}, notFound},
		{[]string{"get", "taskType", "orders"}, notFound},
		{[]string{"export"}, notFound},
		{[]string{"apply", "-f", cfg, "--dry-run"}, notFound},
		{[]string{"import", "-f", cfg, "--dry-run"}, notFound},
		{[]string{"tree"}, "tree: node " + e.root + " does not exist"},
		{[]string{"doctor"}, "PROBLEM [schema] " + e.root + ": the root does not exist"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := e.fails(ctl.ExitFailed, tc.args...)
			assert.Contains(t, r.out+r.err, tc.says, "%s", r)
		})
	}
	conn, _ := zktest.Shared(t).Connect(t, nil, 10*time.Second)
	ok, _, err := conn.Exists(e.root)
	require.NoError(t, err)
	assert.False(t, ok, "a read-only command created the root %s", e.root)
}

// TestConnectionRefused: a wrong port fails at once, saying "connection
// refused" for the address, whatever the command (the store's commands and
// the raw reads of tree alike), long before the connect timeout.
func TestConnectionRefused(t *testing.T) {
	e := newEnv(t)
	e.servers = "127.0.0.1:1"
	for _, args := range [][]string{{"status"}, {"tree"}, {"pause", "orders-base"}} {
		start := time.Now()
		r := e.fails(ctl.ExitFailed, append([]string{"-timeout", "30s"}, args...)...)
		t.Logf("tbsctl %s failed after %v: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), r.err)
		assert.Contains(t, r.err, "cannot reach ZooKeeper at 127.0.0.1:1: no server accepted a connection: dial tcp 127.0.0.1:1: connect: connection refused", "%s", r)
		assert.NotContains(t, r.err, "deadline exceeded", "%s", r)
	}
}

// TestPermissionNamesAuth: a refusal by the ACL says where the credentials
// come from: TBSCTL_AUTH's user (never its password), or that it is unset.
func TestPermissionNamesAuth(t *testing.T) {
	e := newEnv(t)
	e.vars[ctl.EnvAuth] = "ops:right-pw-1"
	e.ok("apply", "-f", file(t, "c.yaml", runtimeYAML))

	e.vars[ctl.EnvAuth] = "ops:wrong-pw-2"
	r := e.fails(ctl.ExitFailed, "pause", "orders-base")
	assert.Contains(t, r.err, `ZooKeeper refuses the credentials of digest user "ops" (Config.Auth)`, "%s", r)
	assert.Contains(t, r.err, `(TBSCTL_AUTH names user "ops": check its password`, "%s", r)
	assert.NotContains(t, r.out+r.err, "wrong-pw-2")
	e.ok("status") // reading needs no credentials

	delete(e.vars, ctl.EnvAuth)
	r = e.fails(ctl.ExitFailed, "pause", "orders-base")
	assert.Contains(t, r.err, "permission denied", "%s", r)
	assert.Contains(t, r.err, "(TBSCTL_AUTH is not set", "%s", r)
}

// TestDeleteRoot: delete-root refuses a root with live factories, a
// missing root and a root not ours; with --force it pauses the strategies,
// waits for their registrations and servers, and deletes the whole tree.
func TestDeleteRoot(t *testing.T) {
	e := newEnv(t)
	conn, _ := zktest.Shared(t).Connect(t, nil, 10*time.Second)
	exists := func(p string) bool {
		ok, _, err := conn.Exists(p)
		require.NoError(t, err)
		return ok
	}

	r := e.fails(ctl.ExitFailed, "delete-root", e.root)
	assert.Contains(t, r.err, "delete-root "+e.root+": connect to", "missing root: %s", r)
	assert.Contains(t, r.err, "schedule: not found", "%s", r)
	assert.False(t, exists(e.root))

	e.fails(ctl.ExitUsage, "delete-root", e.root+"-other")

	java := e.otherRoot()
	_, err := conn.Create(java.root, []byte("tbschedule-3.2.18"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	r = java.fails(ctl.ExitFailed, "delete-root", java.root)
	assert.Contains(t, r.err, "incompatible schema", "%s", r)
	assert.True(t, exists(java.root), "a Java root was deleted")

	e.ok("apply", "-f", file(t, "c.yaml", runtimeYAML))
	t.Cleanup(func() { // after the factory's own cleanup has stopped it
		assert.False(t, exists(e.root), "a stopping factory re-created the root")
	})
	e.startFactory("127.0.0.1", "w1")
	waitFor(t, 15*time.Second, "the factory runs orders", func() bool { ok, _ := e.allOwned("orders"); return ok })
	r = e.fails(ctl.ExitFailed, "delete-root", e.root)
	assert.Contains(t, r.err, "delete-root "+e.root+": refused: live 1 factory(ies), 1 strategy registration(s), 2 server(s); stop them first, or --force", "%s", r)
	assert.True(t, exists(e.root+"/baseTaskType/orders"))

	out := e.ok("delete-root", e.root, "--force", "--wait", "30s")
	t.Log(out)
	assert.Contains(t, out, "1 strateg(ies) paused; waiting for 1 strategy registration(s), 2 server(s) to stop")
	assert.Contains(t, out, "every registration and server stopped")
	assert.Contains(t, out, "root "+e.root+": deleted (")
	assert.False(t, exists(e.root), "the root survived delete-root --force")
}

// TestCreateRoot: a dry run refuses a missing root; create-root makes an
// empty one on purpose (and leaves an existing one alone), after which the
// dry run works and still writes nothing.
func TestCreateRoot(t *testing.T) {
	e := newEnv(t)
	f := file(t, "c.yaml", "taskTypes:\n  - baseTaskType: orders\n    dealBeanName: d\n    taskItems: [\"0\"]\n")
	r := e.fails(ctl.ExitFailed, "apply", "-f", f, "--dry-run")
	assert.Contains(t, r.err, "no tbschedule-go tree here")
	e.fails(ctl.ExitUsage, "create-root", "/elsewhere")
	assert.Contains(t, e.ok("create-root", e.root), "root "+e.root+": created")
	assert.Contains(t, e.ok("create-root", e.root), "exists already; nothing was changed")
	assert.Contains(t, e.ok("apply", "-f", f, "--dry-run"), "taskType orders: would be created")
	assert.Contains(t, e.ok("status"), "no task types", "the dry run wrote nothing")
}
