// Package zkreq counts the requests a zkstore.Store sends to ZooKeeper, by
// kind, for measuring the load an operation puts on ZooKeeper: tbsbench's
// tables, the itest read-path benchmark and zkstore's round-trip tests read
// it. It is the project's instrumentation, not part of the API: a program
// that wants such numbers opens its store with zkstore.WithMetrics, whose
// Request receives every request with the kind names of Stats.String.
package zkreq

import (
	"fmt"
	"strings"
)

// Stats counts the requests a zkstore.Store has sent to ZooKeeper since Open,
// by kind. Each field counts requests, not round trips: requests issued
// concurrently share round trips on the one connection.
type Stats struct {
	// Get, Children, Exists: reads without a watch.
	Get, Children, Exists uint64
	// Create, Set, Delete: single writes. Multi: atomic multi-operation
	// writes (one request whatever the number of operations inside).
	Create, Set, Delete, Multi uint64
	// Sync requests.
	Sync uint64
	// Watch: reads that arm a watch (getData, getChildren or exists with the
	// watch flag), sent by Watch and when watches are re-armed.
	Watch uint64
	// Probe: liveness probes (exists on the root every sixth of the session
	// timeout).
	Probe uint64
	// Auth: authentication requests.
	Auth uint64
}

// Total is the number of requests of every kind.
func (r Stats) Total() uint64 {
	return r.Get + r.Children + r.Exists + r.Create + r.Set + r.Delete + r.Multi + r.Sync + r.Watch + r.Probe + r.Auth
}

// String lists the non-zero counts, as "get=101 children=1".
func (r Stats) String() string {
	var b strings.Builder
	for _, f := range []struct {
		name string
		n    uint64
	}{
		{"get", r.Get}, {"children", r.Children}, {"exists", r.Exists}, {"create", r.Create},
		{"set", r.Set}, {"delete", r.Delete}, {"multi", r.Multi}, {"sync", r.Sync},
		{"watch", r.Watch}, {"probe", r.Probe}, {"auth", r.Auth},
	} {
		if f.n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", f.name, f.n)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Sub returns r - o, field by field (the requests between two snapshots).
func (r Stats) Sub(o Stats) Stats {
	return Stats{
		Get: r.Get - o.Get, Children: r.Children - o.Children, Exists: r.Exists - o.Exists,
		Create: r.Create - o.Create, Set: r.Set - o.Set, Delete: r.Delete - o.Delete, Multi: r.Multi - o.Multi,
		Sync: r.Sync - o.Sync, Watch: r.Watch - o.Watch, Probe: r.Probe - o.Probe, Auth: r.Auth - o.Auth,
	}
}

// Of returns the requests store, a *zkstore.Store, has sent so far. Package
// zkstore sets it when it is initialised.
var Of func(store any) Stats
