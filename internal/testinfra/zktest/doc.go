// Package zktest starts real ZooKeeper servers for tests: standalone servers
// and 3-node ensembles as child processes on free loopback ports, with faults
// (stop, kill, restart, pause), a TCP fault proxy per server, and session
// expiry the standard way.
//
// # Servers
//
// Each server is a JVM running the ZooKeeper 3.8 jar (Debian package
// "zookeeper": apt-get update && apt-get install -y zookeeper) in its own
// temporary directory, with its log in a file there: a failed start or wait
// puts the log tail in the error, and a failed test logs it. Servers tick
// every 100 ms and accept session timeouts from 200 ms to 60 s, so a 1 s
// session expires in about a second. Four-letter words are all enabled, the
// admin server is off, and the super user is enabled (SuperDigest,
// SuperAuth) while ACLs stay enforced.
//
// Every wait polls ruok/srvr or a real request against a deadline; none
// sleeps for a fixed time. Servers are SIGKILLed in t.Cleanup (paused ones
// too), Main reaps the Shared server and anything left over, and on Linux
// the kernel kills them if the test binary dies (parent-death signal).
//
// # Usage
//
// Every test package that uses zktest calls Main from TestMain; it also
// checks for leaked goroutines:
//
//	func TestMain(m *testing.M) { zktest.Main(m) }
//
//	func TestOwnership(t *testing.T) {
//		c := zktest.Shared(t)        // one server per test binary; no faults on it
//		root := c.UniqueRoot(t)      // "/tbs-test/TestOwnership-3fa2c1d0", deleted afterwards
//		conn, _ := c.Connect(t, nil, 2*time.Second)
//		_, err := conn.Create(root, nil, 0, zk.WorldACL(zk.PermAll))
//		require.NoError(t, err)
//		...
//	}
//
//	func TestFailover(t *testing.T) {
//		c := zktest.StartEnsemble(t, 3)  // this test's own servers
//		p := c.NewProxy(t)               // clients connect to p.Servers()
//		conn, _, err := zk.Connect(p.Servers(), time.Second, zk.WithDialer(c.Dialer()))
//		...
//		c.Member(c.Leader(t)).Kill(t)    // or Stop, Pause/Resume, Restart
//		p.Blackhole()                    // or Cut, Delay, Pass
//		c.ExpireSession(t, conn.SessionID())
//	}
//
// Use Shared for tests that only need a working server (give each its own
// UniqueRoot, and t.Parallel freely); use StartStandalone or StartEnsemble
// for tests that inject server faults. A Proxy belongs to one test, so
// proxy faults are fine on the Shared server. ExpireSession needs the
// client to dial through Cluster.Dialer (Connect and every Proxy do).
//
// # A server to try things on
//
// Daemon runs one standalone server from the same installation in a folder
// the user names, detached so that it outlives the program that started
// it: scripts/zookeeper (start, stop, status; its engine is the command in
// zkserver/) uses it, and the README's "Run it on ZooKeeper" tells how.
//
// # Environment
//
//   - ZOOKEEPER_HOME: a ZooKeeper binary distribution to run instead of the
//     Debian package (its conf/, *.jar and lib/*.jar form the classpath).
//     JAVA_HOME, if set, selects the java binary; otherwise java on PATH.
//   - ZK_TEST_SERVERS: a comma-separated host:port list; Shared then
//     returns those servers and starts nothing (Java is not needed).
//     Start them with -Dzookeeper.DigestAuthenticationProvider.superDigest
//     set to SuperDigest so UniqueRoot can clean up ACL-protected nodes.
//     Fault methods of their Members fail the test.
//   - TBS_REQUIRE_ZK=1: when ZooKeeper is not installed, fail instead of
//     skipping (set it in CI).
//
// # Thread safety
//
// Cluster, Member and Proxy methods are safe for concurrent use. The only
// package state is the Shared cluster and the set of live server
// processes, both behind mutexes.
package zktest
