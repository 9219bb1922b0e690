// Package itest holds the integration tests of the thread-group manager (and,
// later, the factory): the same scenario bodies run on memstore with a fake
// clock and on real ZooKeeper servers started by internal/testinfra/zktest, plus the
// tests that need real processes (kill -9) or real network faults (the fault
// proxy). It has no non-test code but this comment.
package itest
