package zkstore

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TestOpenUnreachable: when every address refuses the connection, Open
// fails after one round of attempts, long before ConnectTimeout, naming
// each address's cause; a server that accepts but gives no session is
// waited for until ConnectTimeout.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, time.Minute)
	t.Run("refused", func(t *testing.T) {
		start := time.Now()
		s, err := Open(ctx, Config{Servers: []string{"127.0.0.1:1", "127.0.0.1:2"}, Root: "/x", ConnectTimeout: 30 * time.Second},
			WithLogger(testLogger(t)))
		t.Logf("Open returned after %v: %v", time.Since(start), err)
		require.Error(t, err)
		assert.Nil(t, s)
		assert.Contains(t, err.Error(), "cannot reach ZooKeeper at 127.0.0.1:1,127.0.0.1:2: no server accepted a connection: ")
		assert.Contains(t, err.Error(), "dial tcp 127.0.0.1:1: connect: connection refused; dial tcp 127.0.0.1:2: connect: connection refused")
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
		// Returned before its ConnectTimeout: the wait did not run out.
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		assert.NotContains(t, err.Error(), "ConnectTimeout")
	})
	t.Run("silent server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		accepted := make(chan net.Conn, 10)
		t.Cleanup(func() {
			_ = ln.Close()
			close(accepted)
			for c := range accepted {
				_ = c.Close()
			}
		})
		go func() { // accept and say nothing
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
		_, err = Open(ctx, Config{Servers: []string{ln.Addr().String()}, Root: "/x", ConnectTimeout: 500 * time.Millisecond},
			WithLogger(testLogger(t)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cannot reach ZooKeeper at "+ln.Addr().String()+": no session within ConnectTimeout (500ms)")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Open(cctx, Config{Servers: []string{"127.0.0.1:1"}, Root: "/x"}, WithLogger(testLogger(t)))
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("invalid", func(t *testing.T) {
		_, err := Open(ctx, Config{Root: "x"})
		assert.ErrorIs(t, err, schedule.ErrInvalid)
	})
}

func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		failed, total int
		accepted      bool
		want          bool
	}{
		{0, 1, false, false},
		{1, 1, false, true},
		{1, 2, false, false},
		{2, 2, false, true},
		{2, 2, true, false}, // a server listens: wait for it
		{0, 0, false, false},
	} {
		t.Run(fmt.Sprintf("%d of %d failed, accepted %v", tc.failed, tc.total, tc.accepted), func(t *testing.T) {
			assert.Equal(t, tc.want, unreachable(tc.failed, tc.total, tc.accepted))
		})
	}
}

// TestOpenWrongCredentials: ZooKeeper accepts any digest at addAuth, so a
// wrong password used to open fine and fail every write after. Open now
// fails with ErrPermission naming the user, never the password.
func TestOpenWrongCredentials(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	root := c.UniqueRoot(t) + "/app"
	openStore(t, testConfig(c, root, testAuth)) // the tree, digest-protected
	ctx := ctxT(t, time.Minute)
	for _, auth := range []*DigestAuth{Digest("tbs", "wrong-pw"), Digest("intruder", "wrong-pw")} {
		t.Run(auth.User, func(t *testing.T) {
			s, err := Open(ctx, testConfig(c, root, auth), WithLogger(testLogger(t)))
			if s != nil {
				_ = s.Close()
			}
			require.Error(t, err)
			t.Log(err)
			assert.ErrorIs(t, err, schedule.ErrPermission)
			assert.ErrorIs(t, err, zk.ErrNoAuth)
			assert.Contains(t, err.Error(), fmt.Sprintf("zkstore: open %s: schedule: permission denied (ZooKeeper refuses the credentials of digest user %q (Config.Auth)", root, auth.User))
			assert.NotContains(t, err.Error(), auth.Password)
		})
	}
	t.Run("right credentials and none", func(t *testing.T) {
		openStore(t, testConfig(c, root, testAuth))
		openStore(t, testConfig(c, root, nil)) // a reader
	})
	t.Run("no credentials under a protected parent", func(t *testing.T) {
		_, err := Open(ctx, testConfig(c, root+"/sub", nil), WithLogger(testLogger(t)))
		require.Error(t, err)
		assert.ErrorIs(t, err, schedule.ErrPermission)
		assert.Contains(t, err.Error(), "zkstore: open "+root+"/sub: schedule: permission denied (ZooKeeper refuses a client without credentials (Config.Auth is nil): create ")
	})
}

// TestOpenReadOnly: a read-only Open creates nothing: a missing or empty
// root is an error naming it, an existing tree opens and reads.
func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	parent := c.UniqueRoot(t)
	super := superConn(t, c)
	ctx := ctxT(t, time.Minute)
	readOnly := func(root string) Config {
		cfg := testConfig(c, root, testAuth)
		cfg.ReadOnly = true
		return cfg
	}

	missing := parent + "/typo/app"
	_, err := Open(ctx, readOnly(missing), WithLogger(testLogger(t)))
	require.Error(t, err)
	assert.ErrorIs(t, err, schedule.ErrNotFound)
	assert.Contains(t, err.Error(), "zkstore: open "+missing+": schedule: not found (no tbschedule-go tree here")
	ok, _, err := super.Exists(parent + "/typo")
	require.NoError(t, err)
	assert.False(t, ok, "a read-only Open created the root's parent")

	empty := parent + "/empty"
	_, err = super.Create(parent, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = super.Create(empty, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = Open(ctx, readOnly(empty), WithLogger(testLogger(t)))
	assert.ErrorIs(t, err, schedule.ErrNotFound)
	data, _, err := super.Get(empty)
	require.NoError(t, err)
	assert.Empty(t, data, "a read-only Open adopted an empty root")

	root := parent + "/app"
	w := openStore(t, testConfig(c, root, testAuth))
	_, err = w.CreateTaskType(ctx, sampleTaskType("t1", 1))
	require.NoError(t, err)
	// A wrong password does not matter to a reader.
	r := openStore(t, readOnly(root))
	tts, err := r.TaskTypes(ctx)
	require.NoError(t, err)
	assert.Len(t, tts, 1)
}
