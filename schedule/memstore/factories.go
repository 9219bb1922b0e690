package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// RegisterFactory implements storekit.FactoryStore. The node is
// "<ip>$<hostName>$<uuid>$<seq10>" where uuid is rec.ProcessUUID, or a fresh
// 32-digit upper-case hex UUID if it is empty.
func (c *Client) RegisterFactory(ctx context.Context, sess storekit.Session, rec schedule.Factory) (schedule.Factory, error) {
	if err := checkName(schedule.NameHost, rec.IP); err != nil {
		return schedule.Factory{}, err
	}
	if err := checkName(schedule.NameHost, rec.HostName); err != nil {
		return schedule.Factory{}, err
	}
	if rec.ProcessUUID == "" {
		rec.ProcessUUID = newUUID()
	} else if err := checkName(schedule.NameHost, rec.ProcessUUID); err != nil {
		return schedule.Factory{}, err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "create", dirFactories, opWrite); err != nil {
		return schedule.Factory{}, err
	}
	ms, err := c.checkSession("create", dirFactories, sess)
	if err != nil {
		return schedule.Factory{}, err
	}
	prefix := rec.IP + "$" + rec.HostName + "$" + rec.ProcessUUID + "$"
	rec.UUID = schedule.FactoryID(prefix + fmt.Sprintf("%010d", s.lookup(dirFactories).cversion))
	rec.Seq, _ = seqOf(string(rec.UUID))
	data, err := encode("create", dirFactories, rec)
	if err != nil {
		return schedule.Factory{}, err
	}
	var tx txn
	if _, err := s.create(&tx, dirFactories+"/"+prefix, data, ms.id, true); err != nil {
		return schedule.Factory{}, err
	}
	s.fire(&tx)
	return rec, nil
}

// UnregisterFactory implements storekit.FactoryStore.
func (c *Client) UnregisterFactory(ctx context.Context, id schedule.FactoryID) error {
	if err := checkName(schedule.NameFactoryID, string(id)); err != nil {
		return err
	}
	return c.deleteIfExists(ctx, factoryPath(id))
}

// Factories implements storekit.FactoryStore.
func (c *Client) Factories(ctx context.Context) ([]schedule.Factory, error) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "list", dirFactories, opRead); err != nil {
		return nil, err
	}
	dir := s.lookup(dirFactories)
	out := make([]schedule.Factory, 0, len(dir.children))
	for name, child := range dir.children {
		var rec schedule.Factory
		if err := decode("get", dirFactories+"/"+name, child.data, &rec); err != nil {
			return nil, err
		}
		rec.UUID = schedule.FactoryID(name)
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

// FactoryIDs implements storekit.FactoryStore.
func (c *Client) FactoryIDs(ctx context.Context) ([]schedule.FactoryID, error) {
	names, err := c.childNames(ctx, dirFactories)
	return bySeq[schedule.FactoryID](names), err
}

func checkMachine(ip, hostName string) error {
	if err := checkName(schedule.NameHost, ip); err != nil {
		return err
	}
	return checkName(schedule.NameHost, hostName)
}

// FactoryState implements storekit.FactoryStore.
func (c *Client) FactoryState(ctx context.Context, ip, hostName string) (schedule.FactoryState, error) {
	if err := checkMachine(ip, hostName); err != nil {
		return schedule.FactoryState{}, err
	}
	path := factoryStatePath(ip, hostName)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", path, opRead); err != nil {
		return schedule.FactoryState{}, err
	}
	n := s.lookup(path)
	if n == nil {
		return schedule.FactoryState{}, nil
	}
	var st schedule.FactoryState
	if err := decode("get", path, n.data, &st); err != nil {
		return schedule.FactoryState{}, err
	}
	return st, nil
}

// SetFactoryState implements storekit.FactoryStore: an unconditional write
// of a persistent node.
func (c *Client) SetFactoryState(ctx context.Context, ip, hostName string, st schedule.FactoryState) error {
	if err := checkMachine(ip, hostName); err != nil {
		return err
	}
	path := factoryStatePath(ip, hostName)
	data, err := encode("set", path, st)
	if err != nil {
		return err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "set", path, opWrite); err != nil {
		return err
	}
	var tx txn
	if n := s.lookup(path); n != nil {
		s.set(&tx, path, n, data)
	} else if _, err := s.create(&tx, path, data, 0, false); err != nil {
		return err
	}
	s.fire(&tx)
	return nil
}

func checkStrategyRuntime(name string, rt schedule.StrategyRuntime) error {
	if rt.StrategyName != name {
		return fmt.Errorf("memstore: strategy runtime of %q under strategy %q: %w", rt.StrategyName, name, schedule.ErrInvalid)
	}
	return checkName(schedule.NameFactoryID, string(rt.UUID))
}

// RegisterStrategyRuntime implements storekit.FactoryStore.
func (c *Client) RegisterStrategyRuntime(ctx context.Context, sess storekit.Session, rt schedule.StrategyRuntime) (schedule.StrategyRuntime, error) {
	if err := checkName(schedule.NameStrategy, rt.StrategyName); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	if err := checkStrategyRuntime(rt.StrategyName, rt); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	path := strategyRuntimePath(rt.StrategyName, rt.UUID)
	data, err := encode("create", path, rt)
	if err != nil {
		return schedule.StrategyRuntime{}, err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "create", path, opWrite); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	ms, err := c.checkSession("create", path, sess)
	if err != nil {
		return schedule.StrategyRuntime{}, err
	}
	if s.lookup(strategyPath(rt.StrategyName)) == nil {
		return schedule.StrategyRuntime{}, fmt.Errorf("memstore: create %s: strategy %s: %w", path, rt.StrategyName, schedule.ErrNotFound)
	}
	var tx txn
	if _, err := s.create(&tx, path, data, ms.id, false); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	s.fire(&tx)
	rt.Version = 0
	return rt, nil
}

// UnregisterStrategyRuntime implements storekit.FactoryStore.
func (c *Client) UnregisterStrategyRuntime(ctx context.Context, strategyName string, id schedule.FactoryID) error {
	if err := checkName(schedule.NameStrategy, strategyName); err != nil {
		return err
	}
	if err := checkName(schedule.NameFactoryID, string(id)); err != nil {
		return err
	}
	return c.deleteIfExists(ctx, strategyRuntimePath(strategyName, id))
}

// StrategyRuntimes implements storekit.FactoryStore. A strategy that does
// not exist has no registrations.
func (c *Client) StrategyRuntimes(ctx context.Context, strategyName string) ([]schedule.StrategyRuntime, error) {
	if err := checkName(schedule.NameStrategy, strategyName); err != nil {
		return nil, err
	}
	dir := strategyPath(strategyName)
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
	out := make([]schedule.StrategyRuntime, 0, len(n.children))
	for name, child := range n.children {
		rt, err := decodeStrategyRuntime(dir+"/"+name, strategyName, name, child)
		if err != nil {
			return nil, err
		}
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b schedule.StrategyRuntime) int { return compareRuntimeIDs(a.UUID, b.UUID) })
	return out, nil
}

// compareRuntimeIDs orders registrations by the factories' sequence (known
// sequences first), then by id.
func compareRuntimeIDs(a, b schedule.FactoryID) int {
	sa, oka := seqOf(string(a))
	sb, okb := seqOf(string(b))
	switch {
	case oka && okb && sa != sb:
		return cmp.Compare(sa, sb)
	case oka != okb: // known sequences first
		if oka {
			return -1
		}
		return 1
	}
	return cmp.Compare(a, b)
}

// StrategyRuntimeIDs implements storekit.FactoryStore. A strategy that does
// not exist has no registrations.
func (c *Client) StrategyRuntimeIDs(ctx context.Context, strategyName string) ([]schedule.FactoryID, error) {
	if err := checkName(schedule.NameStrategy, strategyName); err != nil {
		return nil, err
	}
	names, err := c.childNames(ctx, strategyPath(strategyName))
	if err != nil || names == nil {
		return nil, err
	}
	out := make([]schedule.FactoryID, len(names))
	for i, name := range names {
		out[i] = schedule.FactoryID(name)
	}
	slices.SortFunc(out, compareRuntimeIDs)
	return out, nil
}

// StrategyRuntime implements storekit.FactoryStore.
func (c *Client) StrategyRuntime(ctx context.Context, strategyName string, id schedule.FactoryID) (schedule.StrategyRuntime, error) {
	if err := checkName(schedule.NameStrategy, strategyName); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	if err := checkName(schedule.NameFactoryID, string(id)); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	path := strategyRuntimePath(strategyName, id)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", path, opRead); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	n := s.lookup(path)
	if n == nil {
		return schedule.StrategyRuntime{}, fmt.Errorf("memstore: get %s: %w", path, schedule.ErrNotFound)
	}
	return decodeStrategyRuntime(path, strategyName, string(id), n)
}

func decodeStrategyRuntime(path, strategyName, name string, n *node) (schedule.StrategyRuntime, error) {
	var rt schedule.StrategyRuntime
	if err := decode("get", path, n.data, &rt); err != nil {
		return schedule.StrategyRuntime{}, err
	}
	rt.StrategyName = strategyName
	rt.UUID = schedule.FactoryID(name)
	rt.Version = schedule.Version(n.version)
	return rt, nil
}

// UpdateStrategyRuntimes implements storekit.FactoryStore. A registration
// that is gone fails the batch with ErrNotFound.
func (c *Client) UpdateStrategyRuntimes(ctx context.Context, strategyName string, guard schedule.FactoryID, rts []schedule.StrategyRuntime) ([]schedule.StrategyRuntime, error) {
	if err := checkName(schedule.NameStrategy, strategyName); err != nil {
		return nil, err
	}
	if guard != "" {
		if err := checkName(schedule.NameFactoryID, string(guard)); err != nil {
			return nil, err
		}
	}
	data := make([][]byte, len(rts))
	for i, rt := range rts {
		if err := checkStrategyRuntime(strategyName, rt); err != nil {
			return nil, err
		}
		var err error
		if data[i], err = encode("set", strategyRuntimePath(strategyName, rt.UUID), rt); err != nil {
			return nil, err
		}
	}
	dir := strategyPath(strategyName)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "multi", dir, opMulti); err != nil {
		return nil, err
	}
	if guard != "" && s.lookup(factoryPath(guard)) == nil {
		return nil, fmt.Errorf("memstore: check %s: guard is gone: %w", factoryPath(guard), schedule.ErrConflict)
	}
	nodes := make([]*node, len(rts))
	for i, rt := range rts {
		path := strategyRuntimePath(strategyName, rt.UUID)
		if nodes[i] = s.lookup(path); nodes[i] == nil {
			return nil, fmt.Errorf("memstore: set %s: %w", path, schedule.ErrNotFound)
		}
		if err := checkVersion("set", path, nodes[i], rt.Version); err != nil {
			return nil, err
		}
	}
	var tx txn
	out := make([]schedule.StrategyRuntime, len(rts))
	for i, rt := range rts {
		s.set(&tx, strategyRuntimePath(strategyName, rt.UUID), nodes[i], data[i])
		rt.Version = schedule.Version(nodes[i].version)
		out[i] = rt
	}
	s.fire(&tx)
	return out, nil
}
