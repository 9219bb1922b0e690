package zktest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests of a package that uses this one; call it from
// TestMain:
//
//	func TestMain(m *testing.M) { zktest.Main(m) }
//
// After m.Run it stops the Shared servers, kills any server process still
// running (a leak, which fails the run), and when the tests passed checks
// for leaked goroutines with goleak (goroutines running before the tests,
// and those opts ignore, are allowed). It then exits with the tests' code.
func Main(m *testing.M, opts ...goleak.Option) {
	opts = append([]goleak.Option{goleak.IgnoreCurrent()}, opts...)
	code := m.Run()

	stopShared()
	if n := reapAll(); n > 0 {
		fmt.Fprintf(os.Stderr, "zktest: %d ZooKeeper server process(es) still ran after the tests; killed them\n", n)
		code = max(code, 1)
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "zktest: goroutines leaked by the tests:\n%v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Shared returns the test binary's shared standalone server, started on
// first use and stopped by Main (so TestMain must call Main). Tests that
// share it must not inject faults into it; give each test its own
// UniqueRoot. When ZK_TEST_SERVERS is set (a comma-separated host:port list)
// those servers are used instead and nothing is started. It skips t (see
// Require) when ZooKeeper is not installed.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if servers := os.Getenv("ZK_TEST_SERVERS"); servers != "" {
		pkgState.sharedMu.Lock()
		defer pkgState.sharedMu.Unlock()
		if pkgState.shared == nil {
			pkgState.shared = externalCluster(strings.Split(servers, ","))
		}
		return pkgState.shared
	}

	Require(t)
	pkgState.sharedMu.Lock()
	defer pkgState.sharedMu.Unlock()
	if pkgState.shared == nil && pkgState.sharedErr == nil {
		pkgState.shared, pkgState.sharedErr = startShared()
	}
	if pkgState.sharedErr != nil {
		t.Fatal(pkgState.sharedErr)
	}
	return pkgState.shared
}

// startShared starts the shared server; called with pkgState.sharedMu held.
func startShared() (*Cluster, error) {
	inst, err := findInstall()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "zktest-shared-")
	if err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	c, err := startCluster(inst, dir, 1)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	pkgState.sharedDir = dir
	return c, nil
}

// stopShared kills the shared servers and removes their directory.
func stopShared() {
	pkgState.sharedMu.Lock()
	defer pkgState.sharedMu.Unlock()
	if pkgState.shared != nil {
		pkgState.shared.kill()
	}
	if pkgState.sharedDir != "" {
		_ = os.RemoveAll(pkgState.sharedDir)
	}
	pkgState.shared, pkgState.sharedErr, pkgState.sharedDir = nil, nil, ""
}

// externalCluster describes servers that this package did not start.
func externalCluster(servers []string) *Cluster {
	c := &Cluster{external: true}
	for i, s := range servers {
		c.members = append(c.members, &Member{c: c, index: i, addr: strings.TrimSpace(s)})
	}
	return c
}
