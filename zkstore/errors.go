package zkstore

import (
	"errors"
	"fmt"
	"net"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// opError is the error of one store operation on one path. It keeps both the
// schedule sentinel (kind) and the underlying error (usually a zk error)
// reachable with errors.Is:
//
//	zkstore: set /app/baseTaskType/t1/t1/taskItem/3: schedule: version conflict (zk: version conflict)
type opError struct {
	op   string
	path string
	kind error // a schedule sentinel, or nil
	err  error // the cause, or nil when kind says it all
}

func (e *opError) Error() string {
	switch {
	case e.kind != nil && e.err != nil:
		return fmt.Sprintf("zkstore: %s %s: %v (%v)", e.op, e.path, e.kind, e.err)
	case e.kind != nil:
		return fmt.Sprintf("zkstore: %s %s: %v", e.op, e.path, e.kind)
	default:
		return fmt.Sprintf("zkstore: %s %s: %v", e.op, e.path, e.err)
	}
}

// Unwrap returns the sentinel and the cause.
func (e *opError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// sentinelOf maps a zk error to its schedule sentinel (nil if none).
// closed tells whether the store has been closed (then a closed connection
// means ErrClosed rather than a lost connection).
func sentinelOf(err error, closed bool) error {
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return schedule.ErrNotFound
	case errors.Is(err, zk.ErrNodeExists):
		return schedule.ErrExists
	case errors.Is(err, zk.ErrBadVersion):
		return schedule.ErrConflict
	case errors.Is(err, zk.ErrNoAuth), errors.Is(err, zk.ErrAuthFailed), errors.Is(err, zk.ErrInvalidACL):
		return schedule.ErrPermission
	case errors.Is(err, zk.ErrNotEmpty):
		return schedule.ErrNotEmpty
	case errors.Is(err, zk.ErrSessionExpired):
		if closed {
			return schedule.ErrClosed
		}
		return schedule.ErrSessionLost
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrClosing), errors.Is(err, zk.ErrNoServer):
		if closed {
			return schedule.ErrClosed
		}
	}
	return nil
}

// wrapErr wraps err with the operation and path, mapping zk errors to the
// schedule sentinels. An error that is already an *opError or already
// carries a schedule sentinel is wrapped without a second mapping.
func (s *Store) wrapErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	kind := sentinelOf(err, s.isClosed())
	if kind == schedule.ErrPermission && s.opened.Load() {
		// Say whose permission it is (Open says it its own way).
		err = fmt.Errorf("%w; %s", err, s.credentials())
	}
	return &opError{op: op, path: path, kind: kind, err: err}
}

// credentials names the store's credentials: the user, never the password.
func (s *Store) credentials() string {
	if s.cfg.Auth == nil {
		return "the store has no credentials (Config.Auth is nil)"
	}
	return fmt.Sprintf("the store's credentials are digest user %q (Config.Auth)", s.cfg.Auth.User)
}

// opErr returns an error of kind for op on path, with an optional cause.
func opErr(op, path string, kind, cause error) error {
	return &opError{op: op, path: path, kind: kind, err: cause}
}

// isConnLoss tells whether err means the request's outcome is unknown or the
// request was not sent because the connection (not the session) is down:
// retry after re-reading.
//
// A request the client could not write (the server went away under it, as
// when an ensemble member is killed) comes back with the socket's own error
// (a *net.OpError such as "connection reset by peer"): a lost connection
// too.
func isConnLoss(err error) bool {
	var netErr net.Error
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionMoved) || errors.Is(err, zk.ErrClosing) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.As(err, &netErr)
}
