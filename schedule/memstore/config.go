package memstore

import (
	"context"
	"fmt"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TaskType implements schedule.ConfigStore. On ErrCorrupt it returns the
// stored node's version, so that an operator can replace the node with a
// version-checked UpdateTaskType.
func (c *Client) TaskType(ctx context.Context, base string) (schedule.TaskType, schedule.Version, error) {
	if err := checkName(schedule.NameBaseTaskType, base); err != nil {
		return schedule.TaskType{}, 0, err
	}
	path := taskTypePath(base)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", path, opRead); err != nil {
		return schedule.TaskType{}, 0, err
	}
	n := s.lookup(path)
	if n == nil {
		return schedule.TaskType{}, 0, fmt.Errorf("memstore: get %s: %w", path, schedule.ErrNotFound)
	}
	t, err := decodeTaskType(path, base, n.data)
	return t, schedule.Version(n.version), err
}

func decodeTaskType(path, base string, data []byte) (schedule.TaskType, error) {
	var t schedule.TaskType
	if err := decode("get", path, data, &t); err != nil {
		return schedule.TaskType{}, err
	}
	if t.BaseTaskType == "" {
		t.BaseTaskType = base
	}
	if t.BaseTaskType != base {
		return schedule.TaskType{}, corrupt("get", path, fmt.Errorf("data names task type %q", t.BaseTaskType))
	}
	return t, nil
}

// TaskTypes implements schedule.ConfigStore.
func (c *Client) TaskTypes(ctx context.Context) ([]schedule.TaskType, error) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "list", dirTaskTypes, opRead); err != nil {
		return nil, err
	}
	dir := s.lookup(dirTaskTypes)
	out := make([]schedule.TaskType, 0, len(dir.children))
	for _, name := range dir.childNames() {
		t, err := decodeTaskType(taskTypePath(name), name, dir.children[name].data)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// CreateTaskType implements schedule.ConfigStore.
func (c *Client) CreateTaskType(ctx context.Context, t schedule.TaskType) (schedule.Version, error) {
	path, data, err := encodeTaskType("create", t)
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

func encodeTaskType(op string, t schedule.TaskType) (string, []byte, error) {
	if err := checkName(schedule.NameBaseTaskType, t.BaseTaskType); err != nil {
		return "", nil, err
	}
	path := taskTypePath(t.BaseTaskType)
	if err := t.Validate(); err != nil {
		return "", nil, invalid(op, path, err)
	}
	data, err := encode(op, path, t)
	return path, data, err
}

// UpdateTaskType implements schedule.ConfigStore.
func (c *Client) UpdateTaskType(ctx context.Context, t schedule.TaskType, v schedule.Version) (schedule.Version, error) {
	path, data, err := encodeTaskType("set", t)
	if err != nil {
		return 0, err
	}
	return c.update(ctx, path, data, v)
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
	if v != schedule.AnyVersion && schedule.Version(n.version) != v {
		return fmt.Errorf("memstore: %s %s: %w", op, path, schedule.ErrConflict)
	}
	return nil
}

// DeleteTaskType implements schedule.ConfigStore: the task type goes with
// all its runtimes, live servers' nodes included, in one step.
func (c *Client) DeleteTaskType(ctx context.Context, base string, v schedule.Version) error {
	if err := checkName(schedule.NameBaseTaskType, base); err != nil {
		return err
	}
	return c.deleteTree(ctx, taskTypePath(base), v)
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

// Strategy implements schedule.ConfigStore. On ErrCorrupt it returns the
// stored node's version (see TaskType).
func (c *Client) Strategy(ctx context.Context, name string) (schedule.Strategy, schedule.Version, error) {
	if err := checkName(schedule.NameStrategy, name); err != nil {
		return schedule.Strategy{}, 0, err
	}
	path := strategyPath(name)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", path, opRead); err != nil {
		return schedule.Strategy{}, 0, err
	}
	n := s.lookup(path)
	if n == nil {
		return schedule.Strategy{}, 0, fmt.Errorf("memstore: get %s: %w", path, schedule.ErrNotFound)
	}
	st, err := decodeStrategy(path, name, n.data)
	return st, schedule.Version(n.version), err
}

func decodeStrategy(path, name string, data []byte) (schedule.Strategy, error) {
	var st schedule.Strategy
	if err := decode("get", path, data, &st); err != nil {
		return schedule.Strategy{}, err
	}
	if st.StrategyName == "" {
		st.StrategyName = name
	}
	if st.StrategyName != name {
		return schedule.Strategy{}, corrupt("get", path, fmt.Errorf("data names strategy %q", st.StrategyName))
	}
	return st, nil
}

// Strategies implements schedule.ConfigStore.
func (c *Client) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "list", dirStrategies, opRead); err != nil {
		return nil, err
	}
	dir := s.lookup(dirStrategies)
	out := make([]schedule.Strategy, 0, len(dir.children))
	for _, name := range dir.childNames() {
		st, err := decodeStrategy(strategyPath(name), name, dir.children[name].data)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func encodeStrategy(op string, st schedule.Strategy) (string, []byte, error) {
	if err := checkName(schedule.NameStrategy, st.StrategyName); err != nil {
		return "", nil, err
	}
	path := strategyPath(st.StrategyName)
	if err := st.Validate(); err != nil {
		return "", nil, invalid(op, path, err)
	}
	data, err := encode(op, path, st)
	return path, data, err
}

// CreateStrategy implements schedule.ConfigStore.
func (c *Client) CreateStrategy(ctx context.Context, st schedule.Strategy) (schedule.Version, error) {
	path, data, err := encodeStrategy("create", st)
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

// UpdateStrategy implements schedule.ConfigStore.
func (c *Client) UpdateStrategy(ctx context.Context, st schedule.Strategy, v schedule.Version) (schedule.Version, error) {
	path, data, err := encodeStrategy("set", st)
	if err != nil {
		return 0, err
	}
	return c.update(ctx, path, data, v)
}

// DeleteStrategy implements schedule.ConfigStore: the strategy goes with its
// runtime registrations, in one step.
func (c *Client) DeleteStrategy(ctx context.Context, name string, v schedule.Version) error {
	if err := checkName(schedule.NameStrategy, name); err != nil {
		return err
	}
	return c.deleteTree(ctx, strategyPath(name), v)
}
