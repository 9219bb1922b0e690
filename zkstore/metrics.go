package zkstore

import (
	"errors"

	"github.com/go-zookeeper/zk"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// Metrics receives the events of a Store worth counting or graphing. All
// methods must be cheap and safe for concurrent use; they are called on the
// store's goroutines, some with its session lock held, so they must not call
// back into the store.
//
// Implementations must embed NopMetrics: methods may be added to this
// interface in later versions, and the embedded no-op implements them until
// the implementation catches up.
type Metrics interface {
	// Request counts one request sent to ZooKeeper, by kind ("get",
	// "children", "exists", "create", "set", "delete", "multi", "sync",
	// "watch", "probe", "auth"). failed: it ended with an error other than
	// an expected outcome (no node, node exists, version mismatch, not
	// empty), e.g. a connection loss or a timeout.
	Request(kind string, failed bool)
	// SessionState reports every state change of the store's sessions:
	// connected (also a new session), suspect, expired, closed.
	SessionState(st schedule.SessionState)
}

// NopMetrics is a Metrics that records nothing; embed it in an
// implementation.
type NopMetrics struct{}

// Request implements Metrics; it does nothing.
func (NopMetrics) Request(string, bool) {}

// SessionState implements Metrics; it does nothing.
func (NopMetrics) SessionState(schedule.SessionState) {}

// WithMetrics makes the store report its requests and session states to m
// (default: none). Pass the same receiver as to the factory
// (strategy.WithMetrics) to see every layer in one place.
func WithMetrics(m Metrics) Option {
	return func(o *options) { o.metrics = m }
}

var kindNames = [numKinds]string{
	kindGet: "get", kindChildren: "children", kindExists: "exists", kindCreate: "create",
	kindSet: "set", kindDelete: "delete", kindMulti: "multi", kindSync: "sync",
	kindWatch: "watch", kindProbe: "probe", kindAuth: "auth",
}

// requestFailed reports whether err is a failure rather than an answer a
// caller expects and handles (the node is missing or there, a version moved).
func requestFailed(err error) bool {
	switch {
	case err == nil, errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNotEmpty):
		return false
	}
	return true
}

// countRequest reports a finished request of kind k to the metrics, if any.
func (s *Store) countRequest(k reqKind, err error) {
	if s.metrics != nil {
		s.metrics.Request(kindNames[k], requestFailed(err))
	}
}

// sessionChanged reports a session state change to the metrics, if any.
func (s *Store) sessionChanged(st schedule.SessionState) {
	if s.metrics != nil {
		s.metrics.SessionState(st)
	}
}
