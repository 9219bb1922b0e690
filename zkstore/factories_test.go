package zkstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TestFactoriesReadsOnlyNewRecords: Factories lists the directory and reads
// only the factory records it has not read before (a record never changes
// after its node is created); a factory gone is dropped, and a directory
// made again (its sequence numbers restart) is read afresh. Every factory
// re-reads the list at each change of a cluster's membership, so reading
// every record each time cost O(factories²) reads at a start.
func TestFactoriesReadsOnlyNewRecords(t *testing.T) {
	c := sharedCluster(t)
	root := c.UniqueRoot(t)
	reg := openStore(t, testConfig(c, root, testAuth))
	s := openStore(t, testConfig(c, root, testAuth))
	ctx := ctxT(t, time.Minute)
	sess := sessionOf(t, reg)

	register := func(host string) schedule.Factory {
		t.Helper()
		f, err := reg.RegisterFactory(ctx, sess, schedule.Factory{IP: "10.0.0.1", HostName: host})
		require.NoError(t, err)
		return f
	}
	// list calls Factories and returns the hosts listed and the gets it sent.
	list := func() (hosts []string, gets uint64) {
		t.Helper()
		before := s.requestStats()
		got, err := s.Factories(ctx)
		require.NoError(t, err)
		after := s.requestStats()
		require.Equal(t, before.Children+1, after.Children, "one listing per call")
		for _, f := range got {
			hosts = append(hosts, f.HostName)
		}
		return hosts, after.Get - before.Get
	}

	a := register("a")
	register("b")
	hosts, gets := list()
	require.Equal(t, []string{"a", "b"}, hosts)
	require.EqualValues(t, 2, gets, "first call: every record")

	hosts, gets = list()
	require.Equal(t, []string{"a", "b"}, hosts)
	require.EqualValues(t, 0, gets, "nothing new: no record read")

	register("c")
	hosts, gets = list()
	require.Equal(t, []string{"a", "b", "c"}, hosts)
	require.EqualValues(t, 1, gets, "only the new factory's record")

	require.NoError(t, reg.UnregisterFactory(ctx, a.UUID))
	hosts, gets = list()
	require.Equal(t, []string{"b", "c"}, hosts)
	require.EqualValues(t, 0, gets)

	// The directory deleted and made again: a sequence number may come
	// back with another record under the same name prefix.
	conn := superConn(t, c)
	dir := reg.p.factories()
	names, _, err := conn.Children(dir)
	require.NoError(t, err)
	for _, n := range names {
		require.NoError(t, conn.Delete(dir+"/"+n, -1))
	}
	require.NoError(t, conn.Delete(dir, -1))
	register("d")
	hosts, gets = list()
	require.Equal(t, []string{"d"}, hosts)
	require.EqualValues(t, 1, gets)
}
