package zkstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// open waits for the first session (bounded by wctx), authenticates, checks
// or creates the root and checks the credentials. ctx is Open's own context,
// to tell its end from ConnectTimeout's.
func (s *Store) open(ctx, wctx context.Context) error {
	sess, err := s.firstSession(wctx)
	s.dials.stop()
	if err != nil {
		return s.connectErr(ctx, err)
	}
	s.log.Debug("zkstore: connected", keySession, sessionHex(sess.ID()), "timeout", sess.Timeout())
	if err := s.authenticate(wctx); err != nil {
		return s.permissionErr(err)
	}
	if err := s.initRoot(wctx); err != nil {
		return s.permissionErr(err)
	}
	return s.permissionErr(s.checkCredentials(wctx))
}

// connectErr explains why Open got no session.
func (s *Store) connectErr(ctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no session within ConnectTimeout (%v): %w", s.cfg.ConnectTimeout, err)
		if failed := s.dials.err(); failed != nil {
			err = fmt.Errorf("%w; failed connections: %w", err, failed)
		}
	}
	return fmt.Errorf("zkstore: open: cannot reach ZooKeeper at %s: %w", strings.Join(s.cfg.Servers, ","), err)
}

func (s *Store) authenticate(ctx context.Context) error {
	if s.cfg.Auth == nil {
		return nil
	}
	auth := []byte(s.cfg.Auth.User + ":" + s.cfg.Auth.Password)
	err := s.retry(ctx, "addAuth", s.cfg.Root, func() error {
		_, err := call(s, ctx, kindAuth, func(c *zk.Conn) (struct{}, error) {
			return struct{}{}, c.AddAuth("digest", auth)
		})
		return err
	}, nil)
	return s.wrapErr("addAuth", "digest "+s.cfg.Auth.User, err)
}

// checkCredentials proves that ZooKeeper lets cfg.Auth write under the
// root, by creating (and deleting) a throw-away ephemeral node. A digest
// with a wrong password is accepted by addAuth (it only names an identity)
// and refused at the first write, so without this check a service would
// open its store and then fail every registration.
func (s *Store) checkCredentials(ctx context.Context) error {
	if s.cfg.Auth == nil || s.cfg.ReadOnly {
		return nil
	}
	path := s.p.systime()
	var created string
	lost := false // a node may be left behind: see sweepSystime
	defer func() {
		if lost {
			s.sweepSystime()
		}
	}()
	err := s.retry(ctx, "create", path, func() error {
		p, err := s.create(ctx, path, nil, zk.FlagEphemeral|zk.FlagSequence)
		created = p
		lost = lost || isConnLoss(err)
		return err
	}, nil)
	if err != nil {
		return s.wrapErr("create", path, err)
	}
	if err := s.deleteNode(ctx, created, -1); err != nil && !isNoNode(err) {
		lost = true
		return s.wrapErr("delete", created, err)
	}
	return nil
}

// permissionErr turns a refusal by the ACL during Open into an error that
// names the credentials (the user, never the password); other errors are
// returned as they are.
func (s *Store) permissionErr(err error) error {
	if err == nil || !errors.Is(err, schedule.ErrPermission) {
		return err
	}
	what := err
	var oe *opError
	if errors.As(err, &oe) && oe.err != nil {
		what = fmt.Errorf("%s %s: %w", oe.op, oe.path, oe.err)
	}
	var cause error
	if a := s.cfg.Auth; a != nil {
		cause = fmt.Errorf("ZooKeeper refuses the credentials of digest user %q (Config.Auth): %w; wrong password, or the tree belongs to another user", a.User, what)
	} else {
		cause = fmt.Errorf("ZooKeeper refuses a client without credentials (Config.Auth is nil): %w; the tree is protected: set Config.Auth", what)
	}
	return opErr("open", s.cfg.Root, schedule.ErrPermission, cause)
}

// initRoot checks the root's schema (creating the root and its missing
// ancestors if needed, unless ReadOnly) and creates the top-level
// directories (unless ReadOnly).
func (s *Store) initRoot(ctx context.Context) error {
	// Every step is idempotent: after a lost connection, start over.
	return s.retry(ctx, "open", s.p.rootPath(), func() error { return s.initRootOnce(ctx) }, nil)
}

// errRootGone: the root vanished after Open.
var errRootGone = errors.New("the root was deleted after the store opened it; it is not created again")

// errNoRoot says why a read-only Open found no tree.
var errNoRoot = errors.New("no tbschedule-go tree here, and Config.ReadOnly creates none: check the root's name")

func (s *Store) initRootOnce(ctx context.Context) error {
	root := s.p.rootPath()
	want, _ := json.Marshal(rootInfo{Schema: rootSchema, Software: software})
	for attempt := 0; ; attempt++ {
		data, stat, err := s.get(ctx, root)
		switch {
		case errors.Is(err, zk.ErrNoNode) && s.cfg.ReadOnly:
			return opErr("open", root, schedule.ErrNotFound, errNoRoot)
		case errors.Is(err, zk.ErrNoNode):
			if err := s.ensurePath(ctx, parentOf(root)); err != nil {
				return err
			}
			if err := s.createNode(ctx, root, want, 0); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return s.wrapErr("create", root, err)
			}
			s.log.Debug("zkstore: created root", keyPath, root)
			continue
		case err != nil:
			return s.wrapErr("get", root, err)
		}
		if len(data) == 0 && s.cfg.ReadOnly {
			return opErr("open", root, schedule.ErrNotFound, fmt.Errorf("the root is empty: %w", errNoRoot))
		}
		if len(data) == 0 {
			// An empty root (created by an operator) is adopted.
			_, err := s.setData(ctx, root, want, stat.Version)
			if errors.Is(err, zk.ErrBadVersion) && attempt < 3 {
				continue
			}
			if err != nil {
				return s.wrapErr("adopt root", root, err)
			}
			s.log.Debug("zkstore: adopted empty root", keyPath, root)
			continue
		}
		if err := checkRoot(root, data); err != nil {
			return err
		}
		break
	}
	if s.cfg.ReadOnly {
		return nil
	}
	return s.createTopLevel(ctx, root)
}

// createTopLevel creates the missing top-level directories.
func (s *Store) createTopLevel(ctx context.Context, root string) error {
	children, err := s.children(ctx, root)
	if err != nil {
		return s.wrapErr("children", root, err)
	}
	have := make(map[string]bool, len(children))
	for _, c := range children {
		have[c] = true
	}
	for _, d := range topLevel() {
		if have[d] {
			continue
		}
		path := root + "/" + d
		err := s.createNode(ctx, path, nil, 0)
		switch {
		case err == nil, errors.Is(err, zk.ErrNodeExists):
		case errors.Is(err, zk.ErrNoAuth) && s.cfg.Auth == nil:
			// A client without credentials: the directories are created by a writer.
			s.log.Debug("zkstore: cannot create directory without credentials", keyPath, path)
		default:
			return s.wrapErr("create", path, err)
		}
	}
	return nil
}

// checkRoot refuses root data that this package did not write.
func checkRoot(root string, data []byte) error {
	text := strings.TrimSpace(string(data))
	shown := text
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	if strings.HasPrefix(text, "tbschedule-") || strings.HasPrefix(text, "taobao-pamirs-schedule") {
		return opErr("open", root, schedule.ErrSchema,
			fmt.Errorf("the root holds TBSchedule (Java) version %q; tbschedule-go does not share a tree with it: use another root", shown))
	}
	var info rootInfo
	if err := json.Unmarshal(data, &info); err != nil || info.Software != software {
		return opErr("open", root, schedule.ErrSchema,
			fmt.Errorf("the root holds foreign data %q, not {\"schema\":%d,\"software\":%q}: use another root", shown, rootSchema, software))
	}
	if info.Schema != rootSchema {
		return opErr("open", root, schedule.ErrSchema,
			fmt.Errorf("the root was written with schema %d; this version of tbschedule-go reads schema %d only", info.Schema, rootSchema))
	}
	return nil
}

// ensurePath creates path and its missing ancestors as persistent nodes with
// no data and the store's ACL. "/" always exists.
func (s *Store) ensurePath(ctx context.Context, path string) error {
	if path == "/" || path == "" {
		return nil
	}
	if path == s.p.rootPath() && s.opened.Load() {
		// Only Open creates the root: after Open, a missing root was
		// deleted on purpose (tbsctl delete-root), and a bare node would
		// bring back a tree with no schema.
		return opErr("create", path, schedule.ErrNotFound, errRootGone)
	}
	create := func() error {
		return s.retry(ctx, "create", path, func() error {
			err := s.createNode(ctx, path, nil, 0)
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		}, nil)
	}
	err := create()
	if errors.Is(err, zk.ErrNoNode) {
		if err := s.ensurePath(ctx, parentOf(path)); err != nil {
			return err
		}
		err = create()
	}
	return s.wrapErr("create", path, err)
}
