package storetest

import (
	"testing"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// RawTarget names a stored node whose bytes a test overwrites directly, to
// check how a store handles corrupt data.
type RawTarget struct {
	// Kind is "taskType", "strategy", "server", "item", "strategyRuntime" or "factoryState".
	Kind string
	// Runtime is the runtime ("base" or "base$ownSign") for "server" and "item".
	Runtime string
	// Name is the task type, strategy, server id, item id or "ip$host".
	// For "strategyRuntime", Name is "strategyName/factoryID".
	Name string
}

// Harness adapts one Store implementation to the conformance suite.
// Every func is required unless its comment says otherwise.
type Harness struct {
	// Name labels the subtests ("memstore", "zk-standalone", "zk-ensemble").
	Name string
	// NewClient opens a new client (with its own session) on a backend that
	// is shared by every client of this call of Run, under a root that no
	// other Run uses. The client is closed in t.Cleanup.
	NewClient func(t testing.TB) storekit.Store
	// NewClientWithoutAuth opens a client on the same root that does not hold
	// the credentials the other clients use: it may read, never write.
	NewClientWithoutAuth func(t testing.TB) storekit.Store
	// Expire ends the current session of a client the way the backend does
	// (on ZooKeeper: a real server-side expiry), and returns once the server
	// has expired it.
	Expire func(t testing.TB, s storekit.Store)
	// WriteRaw overwrites the bytes of a stored node, bypassing the Store, as
	// one ordinary write: the node's version grows by one (on ZooKeeper: a
	// setData with version -1), so the suite knows the corrupt node's version.
	WriteRaw func(t testing.TB, target RawTarget, data []byte)
	// Disrupt, if not nil, makes the backend unavailable for a short while
	// without expiring sessions (on an ensemble: kill a member, the leader
	// included) and returns a func that undoes it. The suite checks that
	// operations succeed again once the backend is back.
	Disrupt func(t testing.TB) (restore func())

	// ReadRaw, if not nil, returns the bytes of a stored node, bypassing the
	// Store. The suite uses it to check that no read or refused write
	// overwrote corrupt data; without it, the suite checks only that the
	// node still reads as corrupt.
	ReadRaw func(t testing.TB, target RawTarget) []byte
	// Wait bounds every wait for something that happens asynchronously (a
	// watch event, a node vanishing, a new session). Default 5s.
	Wait time.Duration
	// Serial runs the subtests one at a time instead of in parallel (for
	// debugging a backend).
	Serial bool
}
