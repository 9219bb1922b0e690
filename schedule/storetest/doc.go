// Package storetest is the conformance suite of the schedule.Store contract.
// Every Store implementation runs it through a Harness: memstore in every
// go test, zkstore against real ZooKeeper servers (standalone and a 3-node
// ensemble) started by internal/zktest.
package storetest
