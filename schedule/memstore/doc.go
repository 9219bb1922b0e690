// Package memstore is an in-memory schedule.Store with ZooKeeper's semantics:
// sessions, ephemeral nodes that vanish when their session expires, sequence
// numbers, versions and one-shot watches, plus fault hooks (expire a session,
// disconnect a client, fail the next operations).
//
// It is for unit tests, examples and simulation. It is not a coordination
// service: every client lives in one process, and nothing survives it.
// Production code uses package zkstore.
package memstore
