package zkstore

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/schedule/storekit/storetest"
)

// harness adapts zkstore to the conformance suite on cluster c, under a
// root of its own, with clients of the given session timeout.
func harness(t *testing.T, name string, c *zktest.Cluster, timeout time.Duration) storetest.Harness {
	root := c.UniqueRoot(t)
	p := paths{root: root}
	open := func(t testing.TB, auth *DigestAuth) storekit.Store {
		cfg := testConfig(c, root, auth)
		cfg.SessionTimeout = timeout
		return openStore(t, cfg)
	}
	super := superConn(t, c)
	rawPath := func(t testing.TB, target storetest.RawTarget) string {
		t.Helper()
		var path string
		var err error
		switch target.Kind {
		case "taskType":
			path, err = p.taskType(target.Name)
		case "strategy":
			path, err = p.strategy(target.Name)
		case "server":
			path, err = p.server(target.Runtime, schedule.ServerID(target.Name))
		case "item":
			path, err = p.item(target.Runtime, schedule.ItemID(target.Name))
		case "strategyRuntime":
			st, id, _ := strings.Cut(target.Name, "/")
			path, err = p.strategyRuntime(st, schedule.FactoryID(id))
		case "factoryState":
			ip, host, _ := strings.Cut(target.Name, "$")
			path, err = p.factoryState(ip, host)
		default:
			t.Fatalf("unknown raw target kind %q", target.Kind)
		}
		require.NoError(t, err)
		return path
	}
	h := storetest.Harness{
		Name:                 name,
		NewClient:            func(t testing.TB) storekit.Store { return open(t, testAuth) },
		NewClientWithoutAuth: func(t testing.TB) storekit.Store { return open(t, nil) },
		Expire: func(t testing.TB, s storekit.Store) {
			t.Helper()
			c.ExpireSession(t, sessionOf(t, s.(*Store)).ID())
		},
		WriteRaw: func(t testing.TB, target storetest.RawTarget, data []byte) {
			t.Helper()
			_, err := super.Set(rawPath(t, target), data, -1)
			require.NoError(t, err, "WriteRaw")
		},
		ReadRaw: func(t testing.TB, target storetest.RawTarget) []byte {
			t.Helper()
			data, _, err := super.Get(rawPath(t, target))
			require.NoError(t, err, "ReadRaw")
			return data
		},
	}
	return h
}

// TestConformanceStandalone runs the Store conformance suite on a
// standalone server.
func TestConformanceStandalone(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	// 4s rather than 2s: the liveness probe marks a session Suspect after a
	// third of the timeout without an answer, and a loaded test machine can
	// stall the server that long; nothing in the suite waits for a timeout.
	storetest.Run(t, harness(t, "zk-standalone", c, 4*time.Second))
}

// TestConformanceEnsemble runs the suite on a 3-node ensemble, with the
// leader killed and restarted as the disruption.
func TestConformanceEnsemble(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("ensemble: not in -short")
	}
	c := zktest.StartEnsemble(t, 3)
	// Sessions must outlive the leader's kill and restart (the suite's
	// disruption): a new leader is elected and synced, and the clients
	// reconnect, which on a loaded 2-core machine with four JVMs has taken
	// over 5s. The production default, 10s, leaves room.
	h := harness(t, "zk-ensemble", c, DefaultSessionTimeout)
	h.Disrupt = func(t testing.TB) func() {
		t.Helper()
		leader := c.Leader(t)
		m := c.Member(leader)
		m.Kill(t)
		return func() {
			m.Restart(t)
			c.WaitServing(t)
		}
	}
	storetest.Run(t, h)
}
