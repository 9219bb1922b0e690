package zkstore

import (
	"context"
	"errors"
	"sort"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// RegisterServer creates the server's EPHEMERAL_SEQUENTIAL node
// <runtime>$<ip>$<uuid32>$<seq> under the runtime's server directory, with
// its record in the same create, owned by sess. The runtime's directories
// are created if missing (the task type must exist: else ErrNotFound).
func (s *Store) RegisterServer(ctx context.Context, sess storekit.Session, rec schedule.Server) (schedule.Server, error) {
	const op = "register server"
	dir, err := s.p.servers(rec.TaskType)
	if err != nil {
		return schedule.Server{}, err
	}
	prefix, err := serverPrefix(rec.TaskType, rec.IP, newUUID32())
	if err != nil {
		return schedule.Server{}, err
	}
	x, err := s.ownSession(op, dir, sess)
	if err != nil {
		return schedule.Server{}, err
	}
	rec.UUID, rec.Seq = "", 0
	rec.Session = x.id
	data, err := encode(rec)
	if err != nil {
		return schedule.Server{}, err
	}
	path, err := s.createEphemeral(ctx, x, ephemeralReq{
		op: op, path: dir + "/" + prefix, data: data, seq: true,
		parents: func(ctx context.Context) error { return s.ensureRuntime(ctx, rec.TaskType) },
	})
	if err != nil {
		return schedule.Server{}, err
	}
	name := baseOf(path)
	rec.UUID = schedule.ServerID(name)
	rec.Seq = parseSeq(name)
	s.log.Debug("zkstore: registered server", keyTask, rec.TaskType, keyServer, name, keySession, sessionHex(x.id))
	return rec, nil
}

// ensureRuntime creates the runtime node and its server directory if
// missing; the task type node must exist (ErrNotFound otherwise: creating it
// empty would leave an undecodable task type).
func (s *Store) ensureRuntime(ctx context.Context, rt string) error {
	base, _, err := splitRuntime(rt)
	if err != nil {
		return err
	}
	rtPath, _ := s.p.runtime(rt)
	dir, _ := s.p.servers(rt)
	for _, p := range []string{rtPath, dir} {
		err := s.retry(ctx, "create", p, func() error {
			err := s.createNode(ctx, p, nil, 0)
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		}, nil)
		if errors.Is(err, zk.ErrNoNode) {
			tt, _ := s.p.taskType(base)
			return opErr("register", tt, schedule.ErrNotFound, err)
		}
		if err != nil {
			return s.wrapErr("create", p, err)
		}
	}
	return nil
}

// UpdateServer rewrites the server's record (one set). ErrNotFound if the
// node is gone.
func (s *Store) UpdateServer(ctx context.Context, rec schedule.Server) error {
	path, err := s.p.server(rec.TaskType, rec.UUID)
	if err != nil {
		return err
	}
	data, err := encode(rec)
	if err != nil {
		return err
	}
	_, err = s.setVerified(ctx, path, data, -1)
	return s.wrapErr("set", path, err)
}

// UnregisterServer deletes the server's node; a missing node is not an error.
func (s *Store) UnregisterServer(ctx context.Context, taskType string, id schedule.ServerID) error {
	path, err := s.p.server(taskType, id)
	if err != nil {
		return err
	}
	return s.wrapErr("delete", path, s.deleteIfExists(ctx, path))
}

func (s *Store) deleteIfExists(ctx context.Context, path string) error {
	return s.retry(ctx, "delete", path, func() error {
		err := s.deleteNode(ctx, path, -1)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		return err
	}, nil)
}

// Servers lists the live servers of a runtime, sorted by Seq.
func (s *Store) Servers(ctx context.Context, taskType string) ([]schedule.Server, error) {
	dir, err := s.p.servers(taskType)
	if err != nil {
		return nil, err
	}
	names, nodes, err := s.readChildren(ctx, dir)
	if err != nil {
		return nil, s.wrapErr("list", dir, err)
	}
	out := make([]schedule.Server, 0, len(names))
	for i, name := range names {
		if nodes[i].stat == nil {
			continue
		}
		sv, err := decodeServer(dir+"/"+name, name, nodes[i].data)
		if err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	sortServers(out)
	return out, nil
}

// sortServers sorts servers in leader order: by Seq, then id.
func sortServers(out []schedule.Server) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].UUID < out[j].UUID
	})
}

// ServerIDs lists the live servers' ids of a runtime in leader order (by
// Seq), from one listing of the server directory: no record is read.
func (s *Store) ServerIDs(ctx context.Context, taskType string) ([]schedule.ServerID, error) {
	dir, err := s.p.servers(taskType)
	if err != nil {
		return nil, err
	}
	return listBySeq[schedule.ServerID](ctx, s, dir, false)
}

// ServersByID reads the records of the servers named, sorted by Seq; the
// servers that do not exist are left out.
func (s *Store) ServersByID(ctx context.Context, taskType string, ids []schedule.ServerID) ([]schedule.Server, error) {
	dir, err := s.p.servers(taskType)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(ids))
	for i, id := range ids {
		if err := checkName(schedule.NameServerID, string(id)); err != nil {
			return nil, err
		}
		paths[i] = dir + "/" + string(id)
	}
	var nodes []getResult
	err = s.retry(ctx, "get", dir, func() error {
		var err error
		nodes, err = s.getMany(ctx, paths)
		return err
	}, nil)
	if err != nil {
		return nil, s.wrapErr("get", dir, err)
	}
	out := make([]schedule.Server, 0, len(ids))
	for i, id := range ids {
		if nodes[i].stat == nil {
			continue
		}
		sv, err := decodeServer(paths[i], string(id), nodes[i].data)
		if err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	sortServers(out)
	return out, nil
}

// Runtimes lists the runtimes of a base task type, sorted.
func (s *Store) Runtimes(ctx context.Context, base string) ([]string, error) {
	path, err := s.p.taskType(base)
	if err != nil {
		return nil, err
	}
	var names []string
	err = s.retry(ctx, "children", path, func() error {
		var err error
		names, err = s.children(ctx, path)
		return err
	}, nil)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrapErr("children", path, err)
	}
	sort.Strings(names)
	return names, nil
}

// DeleteRuntime removes a runtime (its items, mark and server directory) in
// one multi, only if it has no server. A server registering meanwhile makes
// the delete of the (then non-empty) server directory, and so the whole
// multi, fail: ErrNotEmpty, nothing removed. A runtime too large for one
// multi loses its items in chunks, each of which deletes and re-creates the
// server directory to prove it is still empty; the runtime goes last.
func (s *Store) DeleteRuntime(ctx context.Context, taskType string) error {
	const op = "delete runtime"
	rtPath, err := s.p.runtime(taskType)
	if err != nil {
		return err
	}
	srvDir, _ := s.p.servers(taskType)
	itemDir, _ := s.p.items(taskType)
	for attempt := 0; ; attempt++ {
		var servers, items, others, deep []string
		srvMissing := false
		err := s.retry(ctx, "list", rtPath, func() error {
			var err error
			children, err := s.children(ctx, rtPath)
			if err != nil {
				return err
			}
			others, deep = others[:0], deep[:0]
			for _, c := range children {
				if c != nodeServers && c != nodeItems {
					// The notes directory holds boxes of notes: children first.
					under, err := s.listTree(ctx, rtPath+"/"+c)
					if err != nil {
						return err
					}
					deep = append(deep, under...)
					others = append(others, rtPath+"/"+c)
				}
			}
			servers, err = s.children(ctx, srvDir)
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
			srvMissing = err != nil
			if srvMissing {
				servers = nil
			}
			items, err = s.children(ctx, itemDir)
			if errors.Is(err, zk.ErrNoNode) {
				items, err = nil, nil
			}
			return err
		}, nil)
		if errors.Is(err, zk.ErrNoNode) {
			return opErr(op, rtPath, schedule.ErrNotFound, err)
		}
		if err != nil {
			return s.wrapErr(op, rtPath, err)
		}
		if len(servers) > 0 {
			return opErr(op, rtPath, schedule.ErrNotEmpty, errors.New("the runtime has live servers"))
		}
		var itemOps []any
		for _, it := range items {
			itemOps = append(itemOps, &zk.DeleteRequest{Path: itemDir + "/" + it, Version: -1})
		}
		for _, p := range deep {
			itemOps = append(itemOps, &zk.DeleteRequest{Path: p, Version: -1})
		}
		tail := []any{}
		if items != nil {
			tail = append(tail, &zk.DeleteRequest{Path: itemDir, Version: -1})
		}
		for _, o := range others {
			tail = append(tail, &zk.DeleteRequest{Path: o, Version: -1})
		}
		if !srvMissing {
			tail = append(tail, &zk.DeleteRequest{Path: srvDir, Version: -1})
		}
		tail = append(tail, &zk.DeleteRequest{Path: rtPath, Version: -1})
		var chunks [][]any
		if sumSize(itemOps)+sumSize(tail) <= s.maxMulti {
			chunks = [][]any{append(itemOps, tail...)}
		} else {
			if srvMissing {
				if err := s.ensureRuntime(ctx, taskType); err != nil {
					return err
				}
				tail = append(tail[:len(tail)-1], &zk.DeleteRequest{Path: srvDir, Version: -1}, tail[len(tail)-1])
			}
			// Each chunk proves the server directory empty by deleting and
			// re-creating it.
			proof := []any{
				&zk.DeleteRequest{Path: srvDir, Version: -1},
				&zk.CreateRequest{Path: srvDir, Acl: s.acl},
			}
			chunks = append(chunk(itemOps, proof, s.maxMulti), tail)
		}
		err = s.runChunks(ctx, rtPath, chunks, func() (bool, error) {
			st, err := s.exists(ctx, rtPath)
			if err != nil {
				return false, err
			}
			return st == nil, nil
		})
		var fe *failedOp
		switch {
		case err == nil:
			s.log.Debug("zkstore: deleted runtime", keyTask, taskType)
			return nil
		case errors.As(err, &fe) && (fe.path == srvDir || fe.path == rtPath) && errors.Is(fe.err, zk.ErrNotEmpty):
			return opErr(op, rtPath, schedule.ErrNotEmpty, fe.err)
		case errors.As(err, &fe) && attempt < 5 && (errors.Is(fe.err, zk.ErrNoNode) || errors.Is(fe.err, zk.ErrNotEmpty)):
			continue // the runtime changed under us: list again
		case errors.As(err, &fe):
			return s.wrapErr(op, fe.path, fe.err)
		}
		return s.wrapErr(op, rtPath, err)
	}
}
