package zktest

import (
	"fmt"
	"os"
)

// StartProgram starts n fresh ZooKeeper servers (1: standalone) for a
// program that is not a test, such as a benchmark, in a new temporary
// directory, and waits until they serve. jvmOpts are added to the JVM's
// options after the defaults, which suit short tests (a 128 MiB heap, the
// quick compiler only) and which they override: "-Xmx1g" for a server that
// must hold millions of watches. stop kills them and removes the
// directory; call it before exiting (on Linux the servers also die with the
// program). It fails when ZooKeeper is not installed.
func StartProgram(n int, jvmOpts ...string) (c *Cluster, stop func(), err error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("zktest: StartProgram(%d): need at least one member", n)
	}
	inst, err := findInstall()
	if err != nil {
		return nil, nil, err
	}
	inst.jvmExtra = append([]string(nil), jvmOpts...)
	dir, err := os.MkdirTemp("", "zktest-program-")
	if err != nil {
		return nil, nil, fmt.Errorf("zktest: %w", err)
	}
	c, err = startCluster(inst, dir, n)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	return c, func() {
		c.kill()
		_ = os.RemoveAll(dir)
	}, nil
}
