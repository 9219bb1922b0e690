package zkstore

import (
	"context"
	"errors"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// newUUID32 returns 32 upper-case hex digits, as TBSchedule's names carry.
func newUUID32() string {
	return strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", ""))
}

// ephemeralReq describes one ephemeral create for a session.
type ephemeralReq struct {
	op   string
	path string // the node, or its name prefix when sequential
	data []byte
	seq  bool
	// parents creates the missing parent directories; it is called once,
	// after the create found no parent.
	parents func(ctx context.Context) error
}

// createEphemeral creates an ephemeral (sequential) node owned by session x
// and returns its path.
//
// ZooKeeper makes two things ambiguous, and both are resolved here:
//   - A create that loses its connection may or may not have happened: the
//     node is looked up again (by its unique name, or the uuid in a
//     sequential name) and is ours if its ephemeral owner is x.
//   - A create queued while disconnected is sent on whatever session the
//     client has when it reconnects, a new one if x expired meanwhile. The
//     connection's session id is compared with x before and after the create
//     (ids are never reused, so equal ids prove the create ran on x); a node
//     created on another session is deleted and the call fails with
//     ErrSessionLost.
//
// A non-sequential node that already exists fails with ErrExists.
func (s *Store) createEphemeral(ctx context.Context, x *session, r ephemeralReq) (path string, err error) {
	flags := int32(zk.FlagEphemeral)
	if r.seq {
		flags |= zk.FlagSequence
	}
	parentsMade := false
	lost := false // the last create lost its connection: it may have happened
	defer func() {
		if err != nil && lost {
			// Never leave a registration nobody knows of.
			s.goFunc(func() { s.removeLost(x, r) })
		}
	}()
	backoff := retryBase
	var last error
	for attempt := 0; attempt < retryAttempts; attempt++ {
		if attempt > 0 {
			if err := s.sleep(ctx, jitter(backoff)); err != nil {
				return "", s.wrapErr(r.op, r.path, errors.Join(err, last))
			}
			backoff = min(backoff*2, retryMax)
		}
		if x.ended() || s.conn.SessionID() != x.id {
			return "", opErr(r.op, r.path, schedule.ErrSessionLost, nil)
		}
		if lost {
			found, err := s.findOwn(ctx, x, r)
			if err != nil {
				if isConnLoss(err) && !s.isClosed() && ctx.Err() == nil {
					last = err
					continue
				}
				return "", s.wrapErr(r.op, r.path, err)
			}
			if found != "" {
				return found, nil
			}
			lost = false
		}
		if err := ctx.Err(); err != nil {
			return "", s.wrapErr(r.op, r.path, err)
		}
		// Not abandoned on ctx: the outcome of the create must be known
		// (it ends with its answer or its connection).
		p, err := s.create(context.WithoutCancel(ctx), r.path, r.data, flags)
		switch {
		case err == nil:
			if s.conn.SessionID() != x.id {
				s.dropForeign(p)
				return "", opErr(r.op, r.path, schedule.ErrSessionLost, errors.New("the create ran on a newer session"))
			}
			return p, nil
		case errors.Is(err, zk.ErrNoNode) && r.parents != nil && !parentsMade:
			parentsMade = true
			if err := r.parents(ctx); err != nil {
				return "", err
			}
			attempt-- // not a failure
			continue
		case errors.Is(err, zk.ErrSessionExpired):
			return "", s.wrapErr(r.op, r.path, err)
		case isConnLoss(err) && !s.isClosed():
			s.log.Warn("zkstore: create lost its connection; checking before retrying", keyPath, r.path, keySession, sessionHex(x.id), "err", err)
			lost, last = true, err
			continue
		default:
			return "", s.wrapErr(r.op, r.path, err)
		}
	}
	return "", s.wrapErr(r.op, r.path, last)
}

// removeLost deletes the node of r if a create whose outcome is unknown made
// it after all (the caller got an error and will not use it).
func (s *Store) removeLost(x *session, r ephemeralReq) {
	ctx, cancel := context.WithTimeout(s.ctx, 2*x.timeout)
	defer cancel()
	backoff := retryBase
	for !x.ended() {
		found, err := s.findOwn(ctx, x, r)
		if err == nil {
			if found != "" {
				s.dropForeign(found)
			}
			return
		}
		if !isConnLoss(err) || s.sleep(ctx, jitter(backoff)) != nil {
			s.log.Error("zkstore: a registration may outlive its failed create", keyPath, r.path, keySession, sessionHex(x.id), "err", err)
			return
		}
		backoff = min(backoff*2, retryMax)
	}
}

// findOwn looks for the node of r created by a previous attempt: it returns
// its path if it exists and is owned by x, "" if it does not exist. A node
// created on another of our sessions is deleted (ErrSessionLost).
func (s *Store) findOwn(ctx context.Context, x *session, r ephemeralReq) (string, error) {
	candidates := []string{r.path}
	if r.seq {
		dir, prefix := parentOf(r.path), baseOf(r.path)
		names, err := s.children(ctx, dir)
		if errors.Is(err, zk.ErrNoNode) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		candidates = candidates[:0]
		for _, n := range names {
			if strings.HasPrefix(n, prefix) && len(n) == len(prefix)+seqLen {
				candidates = append(candidates, dir+"/"+n)
			}
		}
	}
	for _, p := range candidates {
		st, err := s.exists(ctx, p)
		if err != nil {
			return "", err
		}
		switch {
		case st == nil:
		case st.EphemeralOwner == x.id:
			return p, nil
		case st.EphemeralOwner == s.conn.SessionID():
			s.dropForeign(p)
			return "", opErr(r.op, r.path, schedule.ErrSessionLost, errors.New("the create ran on a newer session"))
		case !r.seq:
			return "", zk.ErrNodeExists
		}
	}
	return "", nil
}

// dropForeign deletes a registration nobody will use (created on a newer
// session than the one it was meant for, or by a create reported as
// failed), retrying on a context of its own.
func (s *Store) dropForeign(path string) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SessionTimeout)
	defer cancel()
	err := s.retry(ctx, "delete", path, func() error {
		err := s.deleteNode(ctx, path, -1)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		return err
	}, nil)
	if err != nil {
		s.log.Error("zkstore: cannot delete a node created on the wrong session", keyPath, path, "err", err)
	}
}
