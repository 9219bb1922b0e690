package memstore

import (
	"context"
	"fmt"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Task types and strategies are stored alike: one node per document under
// its directory, named by the document's name. configKind describes one of
// them; the functions below serve both.
type configKind[T interface{ Validate() error }] struct {
	nameKind schedule.NameKind // for checkName
	what     string            // "task type", "strategy": in corruption errors
	dir      string
	path     func(name string) string
	name     func(*T) *string // the document's own name field
}

var (
	taskTypeKind = configKind[schedule.TaskType]{nameKind: schedule.NameBaseTaskType, what: "task type",
		dir: dirTaskTypes, path: taskTypePath, name: func(t *schedule.TaskType) *string { return &t.BaseTaskType }}
	strategyKind = configKind[schedule.Strategy]{nameKind: schedule.NameStrategy, what: "strategy",
		dir: dirStrategies, path: strategyPath, name: func(st *schedule.Strategy) *string { return &st.StrategyName }}
)

// decode decodes a stored document; a missing name is the node's, another
// name is corruption.
func (k configKind[T]) decode(path, name string, data []byte) (T, error) {
	var doc, zero T
	if err := decode("get", path, data, &doc); err != nil {
		return zero, err
	}
	n := k.name(&doc)
	if *n == "" {
		*n = name
	}
	if *n != name {
		return zero, corrupt("get", path, fmt.Errorf("data names %s %q", k.what, *n))
	}
	return doc, nil
}

// encode validates a document for op and returns its path and data.
func (k configKind[T]) encode(op string, doc T) (string, []byte, error) {
	name := *k.name(&doc)
	if err := checkName(k.nameKind, name); err != nil {
		return "", nil, err
	}
	path := k.path(name)
	if err := doc.Validate(); err != nil {
		return "", nil, invalid(op, path, err)
	}
	data, err := encode(op, path, doc)
	return path, data, err
}

// getConfig reads one document. On ErrCorrupt it returns the stored node's
// version, so that an operator can replace the node with a version-checked
// update.
func getConfig[T interface{ Validate() error }](ctx context.Context, c *Client, k configKind[T], name string) (T, schedule.Version, error) {
	var zero T
	if err := checkName(k.nameKind, name); err != nil {
		return zero, 0, err
	}
	path := k.path(name)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", path, opRead); err != nil {
		return zero, 0, err
	}
	n := s.lookup(path)
	if n == nil {
		return zero, 0, fmt.Errorf("memstore: get %s: %w", path, schedule.ErrNotFound)
	}
	doc, err := k.decode(path, name, n.data)
	return doc, schedule.Version(n.version), err
}

// listConfig lists every document of a kind, sorted by name.
func listConfig[T interface{ Validate() error }](ctx context.Context, c *Client, k configKind[T]) ([]T, error) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "list", k.dir, opRead); err != nil {
		return nil, err
	}
	dir := s.lookup(k.dir)
	out := make([]T, 0, len(dir.children))
	for _, name := range dir.childNames() {
		doc, err := k.decode(k.path(name), name, dir.children[name].data)
		if err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
	return out, nil
}

// createConfig validates and creates a document (ErrExists if it exists).
func createConfig[T interface{ Validate() error }](ctx context.Context, c *Client, k configKind[T], doc T) (schedule.Version, error) {
	path, data, err := k.encode("create", doc)
	if err != nil {
		return 0, err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "create", path, opWrite); err != nil {
		return 0, err
	}
	var tx txn
	if _, err := s.create(&tx, path, data, 0, false); err != nil {
		return 0, err
	}
	s.fire(&tx)
	return 0, nil
}

// updateConfig validates a document and rewrites it if the stored version is v.
func updateConfig[T interface{ Validate() error }](ctx context.Context, c *Client, k configKind[T], doc T, v schedule.Version) (schedule.Version, error) {
	path, data, err := k.encode("set", doc)
	if err != nil {
		return 0, err
	}
	return c.update(ctx, path, data, v)
}

// deleteConfig removes a document with everything below it, in one step.
func deleteConfig[T interface{ Validate() error }](ctx context.Context, c *Client, k configKind[T], name string, v schedule.Version) error {
	if err := checkName(k.nameKind, name); err != nil {
		return err
	}
	return c.deleteTree(ctx, k.path(name), v)
}

// TaskType implements storekit.ConfigStore. On ErrCorrupt it returns the
// stored node's version (see getConfig).
func (c *Client) TaskType(ctx context.Context, base string) (schedule.TaskType, schedule.Version, error) {
	return getConfig(ctx, c, taskTypeKind, base)
}

// TaskTypes implements storekit.ConfigStore.
func (c *Client) TaskTypes(ctx context.Context) ([]schedule.TaskType, error) {
	return listConfig(ctx, c, taskTypeKind)
}

// CreateTaskType implements storekit.ConfigStore.
func (c *Client) CreateTaskType(ctx context.Context, t schedule.TaskType) (schedule.Version, error) {
	return createConfig(ctx, c, taskTypeKind, t)
}

// UpdateTaskType implements storekit.ConfigStore.
func (c *Client) UpdateTaskType(ctx context.Context, t schedule.TaskType, v schedule.Version) (schedule.Version, error) {
	return updateConfig(ctx, c, taskTypeKind, t, v)
}

// DeleteTaskType implements storekit.ConfigStore: the task type goes with
// all its runtimes, live servers' nodes included, in one step.
func (c *Client) DeleteTaskType(ctx context.Context, base string, v schedule.Version) error {
	return deleteConfig(ctx, c, taskTypeKind, base, v)
}

// Strategy implements storekit.ConfigStore. On ErrCorrupt it returns the
// stored node's version (see getConfig).
func (c *Client) Strategy(ctx context.Context, name string) (schedule.Strategy, schedule.Version, error) {
	return getConfig(ctx, c, strategyKind, name)
}

// Strategies implements storekit.ConfigStore.
func (c *Client) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	return listConfig(ctx, c, strategyKind)
}

// CreateStrategy implements storekit.ConfigStore.
func (c *Client) CreateStrategy(ctx context.Context, st schedule.Strategy) (schedule.Version, error) {
	return createConfig(ctx, c, strategyKind, st)
}

// UpdateStrategy implements storekit.ConfigStore.
func (c *Client) UpdateStrategy(ctx context.Context, st schedule.Strategy, v schedule.Version) (schedule.Version, error) {
	return updateConfig(ctx, c, strategyKind, st, v)
}

// DeleteStrategy implements storekit.ConfigStore: the strategy goes with its
// runtime registrations, in one step.
func (c *Client) DeleteStrategy(ctx context.Context, name string, v schedule.Version) error {
	return deleteConfig(ctx, c, strategyKind, name, v)
}

// update is a version-checked write of an existing node.
func (c *Client) update(ctx context.Context, path string, data []byte, v schedule.Version) (schedule.Version, error) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "set", path, opWrite); err != nil {
		return 0, err
	}
	n := s.lookup(path)
	if n == nil {
		return 0, fmt.Errorf("memstore: set %s: %w", path, schedule.ErrNotFound)
	}
	if err := checkVersion("set", path, n, v); err != nil {
		return 0, err
	}
	var tx txn
	s.set(&tx, path, n, data)
	s.fire(&tx)
	return schedule.Version(n.version), nil
}

func checkVersion(op, path string, n *node, v schedule.Version) error {
	if v != storekit.AnyVersion && schedule.Version(n.version) != v {
		return fmt.Errorf("memstore: %s %s: %w", op, path, schedule.ErrConflict)
	}
	return nil
}

func (c *Client) deleteTree(ctx context.Context, path string, v schedule.Version) error {
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
	if err := checkVersion("delete", path, n, v); err != nil {
		return err
	}
	var tx txn
	s.remove(&tx, path)
	s.fire(&tx)
	return nil
}
