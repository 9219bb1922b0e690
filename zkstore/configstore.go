package zkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Task types and strategies are stored alike: one persistent node per
// document under its directory, named by the document's name. configKind
// describes one of them; the functions below serve both.
type configKind[T any] struct {
	path   func(name string) (string, error)
	dir    func() string
	decode func(path, name string, data []byte) (T, error)
	name   func(T) string
	clone  func(T) T // a copy that shares nothing a caller could change
}

func (s *Store) taskTypeKind() configKind[schedule.TaskType] {
	return configKind[schedule.TaskType]{path: s.p.taskType, dir: s.p.taskTypes, decode: decodeTaskType,
		name: func(t schedule.TaskType) string { return t.BaseTaskType },
		clone: func(t schedule.TaskType) schedule.TaskType {
			t.TaskItems = slices.Clone(t.TaskItems)
			return t
		}}
}

func (s *Store) strategyKind() configKind[schedule.Strategy] {
	return configKind[schedule.Strategy]{path: s.p.strategy, dir: s.p.strategies, decode: decodeStrategy,
		name: func(st schedule.Strategy) string { return st.StrategyName },
		clone: func(st schedule.Strategy) schedule.Strategy {
			st.IPList = slices.Clone(st.IPList)
			return st
		}}
}

// decodeOnce decodes a configuration document once per change (see
// decodeMemo). A factory reads its strategies' task types at every round,
// and a task type of 2,000 items took a third of the CPU of 200 sessions
// decoding the same bytes again.
func decodeOnce[T any](s *Store, k configKind[T], path, name string, data []byte, stat *zk.Stat) (T, error) {
	return decodeMemo(s, path, stat, k.clone, func() (T, error) { return k.decode(path, name, data) })
}

// decodeMemo returns decode's result for the node at path as read with
// stat, or a copy (clone) of its last result if the node has not changed
// since: the same Mzxid and version (zxids are never reused, so a node
// deleted and created again differs too).
func decodeMemo[T any](s *Store, path string, stat *zk.Stat, clone func(T) T, decode func() (T, error)) (T, error) {
	if v, ok := s.decoded.Load(path); ok {
		if d := v.(decodedDoc); d.mzxid == stat.Mzxid && d.version == stat.Version {
			if doc, ok := d.doc.(T); ok {
				return clone(doc), nil
			}
		}
	}
	s.decodes.Add(1)
	doc, err := decode()
	if err != nil {
		return doc, err
	}
	s.decoded.Store(path, decodedDoc{mzxid: stat.Mzxid, version: stat.Version, doc: clone(doc)})
	return doc, nil
}

// decodedDoc is a document's last decoding, and the node state it came from.
type decodedDoc struct {
	mzxid   int64
	version int32
	doc     any
}

// readConfig reads one document and its version.
func readConfig[T any](ctx context.Context, s *Store, k configKind[T], name string) (T, schedule.Version, error) {
	var zero T
	path, err := k.path(name)
	if err != nil {
		return zero, 0, err
	}
	data, stat, err := s.readWatchedNode(ctx, path)
	if err != nil {
		return zero, 0, s.wrapErr("get", path, err)
	}
	doc, err := decodeOnce(s, k, path, name, data, stat)
	if err != nil {
		return zero, 0, err
	}
	return doc, schedule.Version(stat.Version), nil
}

// listConfig lists every document of a kind, sorted by name.
func listConfig[T any](ctx context.Context, s *Store, k configKind[T]) ([]T, error) {
	dir := k.dir()
	names, nodes, err := s.readWatchedChildren(ctx, dir)
	if err != nil {
		return nil, s.wrapErr("list", dir, err)
	}
	out := make([]T, 0, len(names))
	for i, name := range names {
		if nodes[i].stat == nil {
			continue // deleted meanwhile
		}
		doc, err := decodeOnce(s, k, dir+"/"+name, name, nodes[i].data, nodes[i].stat)
		if err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
	sort.Slice(out, func(i, j int) bool { return k.name(out[i]) < k.name(out[j]) })
	return out, nil
}

// writeConfig validates doc and creates it (create) or rewrites it if the
// stored version is v.
func writeConfig[T interface{ Validate() error }](ctx context.Context, s *Store, k configKind[T], doc T, create bool, v schedule.Version) (schedule.Version, error) {
	if err := doc.Validate(); err != nil {
		return 0, err
	}
	path, err := k.path(k.name(doc))
	if err != nil {
		return 0, err
	}
	data, err := encode(doc)
	if err != nil {
		return 0, err
	}
	if create {
		nv, err := s.createPersistent(ctx, path, data)
		return nv, s.wrapErr("create", path, err)
	}
	nv, err := s.setVerified(ctx, path, data, int32(v))
	return nv, s.wrapErr("set", path, err)
}

// deleteConfig removes a document with everything below it in one atomic
// step, if the stored version is v.
func deleteConfig[T any](ctx context.Context, s *Store, k configKind[T], name string, v schedule.Version) error {
	path, err := k.path(name)
	if err != nil {
		return err
	}
	return s.wrapErr("delete", path, s.deleteTree(ctx, path, int32(v)))
}

// TaskType reads one task type and its version.
func (s *Store) TaskType(ctx context.Context, base string) (schedule.TaskType, schedule.Version, error) {
	return readConfig(ctx, s, s.taskTypeKind(), base)
}

// TaskTypes lists every task type, sorted by name.
func (s *Store) TaskTypes(ctx context.Context) ([]schedule.TaskType, error) {
	return listConfig(ctx, s, s.taskTypeKind())
}

// CreateTaskType validates t and creates it (ErrExists if it exists).
func (s *Store) CreateTaskType(ctx context.Context, t schedule.TaskType) (schedule.Version, error) {
	return writeConfig(ctx, s, s.taskTypeKind(), t, true, 0)
}

// UpdateTaskType validates t and rewrites it if the stored version is v.
func (s *Store) UpdateTaskType(ctx context.Context, t schedule.TaskType, v schedule.Version) (schedule.Version, error) {
	return writeConfig(ctx, s, s.taskTypeKind(), t, false, v)
}

// DeleteTaskType removes the task type with all its runtimes (servers and
// items) in one atomic step, if the stored version is v.
func (s *Store) DeleteTaskType(ctx context.Context, base string, v schedule.Version) error {
	return deleteConfig(ctx, s, s.taskTypeKind(), base, v)
}

// Strategy reads one strategy and its version.
func (s *Store) Strategy(ctx context.Context, name string) (schedule.Strategy, schedule.Version, error) {
	return readConfig(ctx, s, s.strategyKind(), name)
}

// Strategies lists every strategy, sorted by name.
func (s *Store) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	return listConfig(ctx, s, s.strategyKind())
}

// CreateStrategy validates st and creates it (ErrExists if it exists).
func (s *Store) CreateStrategy(ctx context.Context, st schedule.Strategy) (schedule.Version, error) {
	return writeConfig(ctx, s, s.strategyKind(), st, true, 0)
}

// UpdateStrategy validates st and rewrites it if the stored version is v.
func (s *Store) UpdateStrategy(ctx context.Context, st schedule.Strategy, v schedule.Version) (schedule.Version, error) {
	return writeConfig(ctx, s, s.strategyKind(), st, false, v)
}

// DeleteStrategy removes the strategy and its runtime registrations in one
// atomic step, if the stored version is v.
func (s *Store) DeleteStrategy(ctx context.Context, name string, v schedule.Version) error {
	return deleteConfig(ctx, s, s.strategyKind(), name, v)
}

// readNode reads one node, retrying after a lost connection.
func (s *Store) readNode(ctx context.Context, path string) ([]byte, *zk.Stat, error) {
	var data []byte
	var stat *zk.Stat
	err := s.retry(ctx, "get", path, func() error {
		var err error
		data, stat, err = s.get(ctx, path)
		return err
	}, nil)
	return data, stat, err
}

// readChildren lists dir and reads every child concurrently. A missing dir
// has no children; a child deleted meanwhile has a nil stat.
func (s *Store) readChildren(ctx context.Context, dir string) ([]string, []getResult, error) {
	var names []string
	var nodes []getResult
	err := s.retry(ctx, "list", dir, func() error {
		var err error
		names, err = s.children(ctx, dir)
		if errors.Is(err, zk.ErrNoNode) {
			names, nodes = nil, nil
			return nil
		}
		if err != nil {
			return err
		}
		paths := make([]string, len(names))
		for i, n := range names {
			paths[i] = dir + "/" + n
		}
		nodes, err = s.getMany(ctx, paths)
		return err
	}, nil)
	return names, nodes, err
}

// createPersistent creates a persistent node (its parent directory is
// created if missing, but never a task type or strategy node), resolving a
// lost connection by reading the node back.
func (s *Store) createPersistent(ctx context.Context, path string, data []byte) (schedule.Version, error) {
	parentMade := false
	lost := false
	for {
		err := s.retry(ctx, "create", path, func() error {
			return s.createNode(ctx, path, data, 0)
		}, func() (bool, error) {
			lost = true
			got, _, err := s.get(ctx, path)
			switch {
			case errors.Is(err, zk.ErrNoNode):
				return false, nil
			case err != nil:
				return false, err
			case bytes.Equal(got, data):
				return true, nil // ours
			}
			return true, zk.ErrNodeExists
		})
		if errors.Is(err, zk.ErrNoNode) && !parentMade {
			parentMade = true
			if err := s.ensurePath(ctx, parentOf(path)); err != nil {
				return 0, err
			}
			continue
		}
		if errors.Is(err, zk.ErrNodeExists) && lost {
			// Possibly our own create, answered after the connection was lost.
			if got, _, gerr := s.get(ctx, path); gerr == nil && bytes.Equal(got, data) {
				return 0, nil
			}
		}
		return 0, err
	}
}

// setVerified sets data at path if its version is v (-1: any), resolving a
// lost connection by reading the node back. It returns the new version.
func (s *Store) setVerified(ctx context.Context, path string, data []byte, v int32) (schedule.Version, error) {
	var nv int32
	err := s.retry(ctx, "set", path, func() error {
		st, err := s.setData(ctx, path, data, v)
		if err == nil {
			nv = st.Version
		}
		return err
	}, func() (bool, error) {
		got, st, err := s.get(ctx, path)
		switch {
		case err != nil:
			return err != nil && !isConnLoss(err), err
		case v >= 0 && st.Version == v:
			return false, nil // not applied: try again
		case bytes.Equal(got, data) && (v < 0 || st.Version == v+1):
			nv = st.Version
			return true, nil // applied
		case v < 0:
			return false, nil
		}
		return true, zk.ErrBadVersion
	})
	return schedule.Version(nv), err
}

// Multi-operation size limit. ZooKeeper refuses requests above jute.maxbuffer
// (1 MiB by default); a multi whose estimated size exceeds this is split.
const maxMultiBytes = 768 << 10

// opSize estimates the encoded size of one multi operation.
func opSize(op any) int {
	switch o := op.(type) {
	case *zk.CreateRequest:
		n := 24 + len(o.Path) + len(o.Data)
		for _, a := range o.Acl {
			n += 16 + len(a.Scheme) + len(a.ID)
		}
		return n
	case *zk.SetDataRequest:
		return 24 + len(o.Path) + len(o.Data)
	case *zk.DeleteRequest:
		return 20 + len(o.Path)
	case *zk.CheckVersionRequest:
		return 20 + len(o.Path)
	}
	return 64
}

// chunk splits ops into groups of at most limit estimated bytes, each
// prefixed by the checks (which count against the limit too).
func chunk(ops []any, checks []any, limit int) [][]any {
	base := 0
	for _, c := range checks {
		base += opSize(c)
	}
	var out [][]any
	cur := append([]any(nil), checks...)
	size := base
	n := 0
	for _, op := range ops {
		sz := opSize(op)
		if n > 0 && size+sz > limit {
			out = append(out, cur)
			cur = append([]any(nil), checks...)
			size, n = base, 0
		}
		cur = append(cur, op)
		size += sz
		n++
	}
	if n > 0 {
		out = append(out, cur)
	}
	return out
}

// listTree returns the paths of every descendant of path, children before
// their parents.
func (s *Store) listTree(ctx context.Context, path string) ([]string, error) {
	children, err := s.children(ctx, path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range children {
		p := path + "/" + c
		sub, err := s.listTree(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
		out = append(out, p)
	}
	return out, nil
}

// deleteTree deletes path (if its version is v) and everything under it in
// one multi; a huge tree is deleted in chunks, each checking path's version,
// the node itself last. A concurrent change under path makes it start over.
func (s *Store) deleteTree(ctx context.Context, path string, v int32) error {
	for attempt := 0; ; attempt++ {
		var under []string
		if err := s.retry(ctx, "list", path, func() error {
			var err error
			under, err = s.listTree(ctx, path)
			return err
		}, nil); err != nil {
			return err
		}
		ops := make([]any, 0, len(under)+1)
		for _, p := range under {
			ops = append(ops, &zk.DeleteRequest{Path: p, Version: -1})
		}
		last := &zk.DeleteRequest{Path: path, Version: v}
		var chunks [][]any
		if size := sumSize(ops) + opSize(last); size <= s.maxMulti {
			chunks = [][]any{append(ops, last)}
		} else {
			chunks = append(chunk(ops, []any{&zk.CheckVersionRequest{Path: path, Version: v}}, s.maxMulti), []any{last})
		}
		err := s.runChunks(ctx, path, chunks, func() (bool, error) {
			st, err := s.exists(ctx, path)
			if err != nil {
				return false, err
			}
			return st == nil, nil // gone: done
		})
		var fe *failedOp
		if errors.As(err, &fe) {
			// Something changed under path (a child added or removed):
			// list again.
			if fe.path != path && (errors.Is(fe.err, zk.ErrNotEmpty) || errors.Is(fe.err, zk.ErrNoNode)) && attempt < 5 {
				continue
			}
			if fe.path == path && errors.Is(fe.err, zk.ErrNotEmpty) && attempt < 5 {
				continue
			}
			return fe.err
		}
		return err
	}
}

func sumSize(ops []any) int {
	n := 0
	for _, op := range ops {
		n += opSize(op)
	}
	return n
}

// failedOp is the operation that made a multi fail.
type failedOp struct {
	index int
	path  string
	err   error
}

func (f *failedOp) Error() string { return fmt.Sprintf("%s: %v", f.path, f.err) }
func (f *failedOp) Unwrap() error { return f.err }

func opPath(op any) string {
	switch o := op.(type) {
	case *zk.CreateRequest:
		return o.Path
	case *zk.SetDataRequest:
		return o.Path
	case *zk.DeleteRequest:
		return o.Path
	case *zk.CheckVersionRequest:
		return o.Path
	}
	return ""
}

// runMulti sends one multi, retrying after a lost connection once verify
// (re-reading) says it did not take effect. A failed operation is returned
// as a *failedOp.
func (s *Store) runMulti(ctx context.Context, path string, ops []any, verify func() (bool, error)) ([]zk.MultiResponse, error) {
	var res []zk.MultiResponse
	err := s.retry(ctx, "multi", path, func() error {
		r, err := s.multi(ctx, ops...)
		if err == nil {
			res = r
			return nil
		}
		if len(r) == 0 || isConnLoss(err) {
			return err
		}
		i, ferr := multiFailure(r, err)
		if i < 0 {
			return err
		}
		return &failedOp{index: i, path: opPath(ops[i]), err: ferr}
	}, verify)
	return res, err
}

// runChunks runs the multis in order; verify (for a lost connection) is
// only used on the last one, the commit point.
func (s *Store) runChunks(ctx context.Context, path string, chunks [][]any, verify func() (bool, error)) error {
	for i, ops := range chunks {
		var v func() (bool, error)
		if i == len(chunks)-1 {
			v = verify
		}
		if _, err := s.runMulti(ctx, path, ops, v); err != nil {
			return err
		}
	}
	return nil
}
