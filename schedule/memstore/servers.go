package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// newUUID returns a fresh UUID as TBSchedule writes it: 32 upper-case hex
// digits without dashes.
func newUUID() string {
	return strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", ""))
}

// RegisterServer implements storekit.ServerStore. The node is
// "<runtime>$<ip>$<uuid32>$<seq10>" below the runtime's server directory,
// which is created if missing; the base task type must exist (ErrNotFound).
func (c *Client) RegisterServer(ctx context.Context, sess storekit.Session, rec schedule.Server) (schedule.Server, error) {
	rt := rec.TaskType
	if err := checkRuntime(rt); err != nil {
		return schedule.Server{}, err
	}
	if err := checkName(schedule.NameHost, rec.IP); err != nil {
		return schedule.Server{}, err
	}
	dir := serverDirPath(rt)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "create", dir, opWrite); err != nil {
		return schedule.Server{}, err
	}
	ms, err := c.checkSession("create", dir, sess)
	if err != nil {
		return schedule.Server{}, err
	}
	if s.lookup(taskTypePath(baseOf(rt))) == nil {
		return schedule.Server{}, fmt.Errorf("memstore: create %s: task type %s: %w", dir, baseOf(rt), schedule.ErrNotFound)
	}
	var tx txn
	parent := s.ensure(&tx, dir)
	prefix := rt + "$" + rec.IP + "$" + newUUID() + "$"
	rec.UUID = schedule.ServerID(prefix + fmt.Sprintf("%010d", parent.cversion))
	rec.Seq, _ = seqOf(string(rec.UUID))
	data, err := encode("create", dir, rec)
	if err != nil {
		return schedule.Server{}, err
	}
	if _, err := s.create(&tx, dir+"/"+prefix, data, ms.id, true); err != nil {
		return schedule.Server{}, err
	}
	s.fire(&tx)
	return rec, nil
}

// UpdateServer implements storekit.ServerStore: an unconditional rewrite of
// the record (which does not fire server watches).
func (c *Client) UpdateServer(ctx context.Context, rec schedule.Server) error {
	if err := checkRuntime(rec.TaskType); err != nil {
		return err
	}
	if err := checkName(schedule.NameServerID, string(rec.UUID)); err != nil {
		return err
	}
	path := serverPath(rec.TaskType, rec.UUID)
	data, err := encode("set", path, rec)
	if err != nil {
		return err
	}
	_, err = c.update(ctx, path, data, storekit.AnyVersion)
	return err
}

// UnregisterServer implements storekit.ServerStore.
func (c *Client) UnregisterServer(ctx context.Context, taskType string, id schedule.ServerID) error {
	if err := checkRuntime(taskType); err != nil {
		return err
	}
	if err := checkName(schedule.NameServerID, string(id)); err != nil {
		return err
	}
	return c.deleteIfExists(ctx, serverPath(taskType, id))
}

func (c *Client) deleteIfExists(ctx context.Context, path string) error {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "delete", path, opWrite); err != nil {
		return err
	}
	var tx txn
	s.remove(&tx, path)
	s.fire(&tx)
	return nil
}

// Servers implements storekit.ServerStore.
func (c *Client) Servers(ctx context.Context, taskType string) ([]schedule.Server, error) {
	return c.readServers(ctx, taskType, "list", func(n *node) []string { return slices.Collect(maps.Keys(n.children)) })
}

// ServersByID implements storekit.ServerStore.
func (c *Client) ServersByID(ctx context.Context, taskType string, ids []schedule.ServerID) ([]schedule.Server, error) {
	names := make([]string, len(ids))
	for i, id := range ids {
		if err := checkName(schedule.NameServerID, string(id)); err != nil {
			return nil, err
		}
		names[i] = string(id)
	}
	return c.readServers(ctx, taskType, "get", func(*node) []string { return names })
}

// readServers reads the records of the servers of a runtime that names
// picks from its server directory (none if it does not exist).
func (c *Client) readServers(ctx context.Context, taskType, op string, names func(*node) []string) ([]schedule.Server, error) {
	if err := checkRuntime(taskType); err != nil {
		return nil, err
	}
	dir := serverDirPath(taskType)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, op, dir, opRead); err != nil {
		return nil, err
	}
	n := s.lookup(dir)
	if n == nil {
		return nil, nil
	}
	return serverRecords(dir, n, names(n))
}

// serverRecords decodes the records of the named children of the server
// directory n (those missing are left out), in leader order; caller holds
// the server's lock.
func serverRecords(dir string, n *node, names []string) ([]schedule.Server, error) {
	out := make([]schedule.Server, 0, len(names))
	for _, name := range names {
		child := n.children[name]
		if child == nil {
			continue
		}
		var rec schedule.Server
		if err := decode("get", dir+"/"+name, child.data, &rec); err != nil {
			return nil, err
		}
		rec.UUID = schedule.ServerID(name)
		rec.Seq, _ = seqOf(name)
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].UUID < out[j].UUID
	})
	return out, nil
}

// ServerIDs implements storekit.ServerStore.
func (c *Client) ServerIDs(ctx context.Context, taskType string) ([]schedule.ServerID, error) {
	if err := checkRuntime(taskType); err != nil {
		return nil, err
	}
	names, err := c.childNames(ctx, serverDirPath(taskType))
	return bySeq[schedule.ServerID](names), err
}

// childNames lists the children of dir (none if dir does not exist).
func (c *Client) childNames(ctx context.Context, dir string) ([]string, error) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "list", dir, opRead); err != nil {
		return nil, err
	}
	n := s.lookup(dir)
	if n == nil {
		return nil, nil
	}
	return slices.Collect(maps.Keys(n.children)), nil
}

// bySeq returns names as ids sorted by their sequence, then by name.
func bySeq[T ~string](names []string) []T {
	type entry struct {
		id  T
		seq int64
	}
	list := make([]entry, len(names))
	for i, name := range names {
		seq, _ := seqOf(name)
		list[i] = entry{T(name), seq}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].seq != list[j].seq {
			return list[i].seq < list[j].seq
		}
		return list[i].id < list[j].id
	})
	out := make([]T, len(list))
	for i, e := range list {
		out[i] = e.id
	}
	return out
}

// Runtimes implements storekit.ServerStore. A task type that does not exist
// has no runtimes.
func (c *Client) Runtimes(ctx context.Context, base string) ([]string, error) {
	if err := checkName(schedule.NameBaseTaskType, base); err != nil {
		return nil, err
	}
	path := taskTypePath(base)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "list", path, opRead); err != nil {
		return nil, err
	}
	n := s.lookup(path)
	if n == nil {
		return nil, nil
	}
	return n.childNames(), nil
}

// DeleteRuntime implements storekit.ServerStore. ErrNotFound if the runtime
// does not exist.
func (c *Client) DeleteRuntime(ctx context.Context, taskType string) error {
	if err := checkRuntime(taskType); err != nil {
		return err
	}
	path := runtimePath(taskType)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "delete", path, opMulti); err != nil {
		return err
	}
	n := s.lookup(path)
	if n == nil {
		return fmt.Errorf("memstore: delete %s: %w", path, schedule.ErrNotFound)
	}
	if dir := n.children[nodeServers]; dir != nil && len(dir.children) > 0 {
		return fmt.Errorf("memstore: delete %s: %d live servers: %w", path, len(dir.children), schedule.ErrNotEmpty)
	}
	var tx txn
	s.remove(&tx, path)
	s.fire(&tx)
	return nil
}
