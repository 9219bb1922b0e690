// Package zktest starts real ZooKeeper servers for tests: standalone servers
// and 3-node ensembles as child processes on free loopback ports, with faults
// (stop, kill, restart, pause), a TCP fault proxy per server, and session
// expiry the standard way.
package zktest
