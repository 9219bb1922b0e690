package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Items implements storekit.ItemStore.
func (c *Client) Items(ctx context.Context, taskType string) (schedule.Items, error) {
	if err := checkRuntime(taskType); err != nil {
		return schedule.Items{}, err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", itemsPath(taskType), opRead); err != nil {
		return schedule.Items{}, err
	}
	return s.readItems(taskType)
}

// readItems decodes the mark and every item of a runtime. s.mu must be held.
func (s *Server) readItems(rt string) (schedule.Items, error) {
	dir := itemsPath(rt)
	n := s.lookup(dir)
	if n == nil {
		return schedule.Items{}, nil
	}
	var out schedule.Items
	out.Stamp = s.itemsStamp(rt)
	if err := decode("get", dir, n.data, &out.Mark); err != nil {
		return schedule.Items{}, err
	}
	out.Mark.Version = schedule.Version(n.version)
	out.Items = make([]schedule.Item, 0, len(n.children))
	for name, child := range n.children {
		it, err := decodeItem(dir+"/"+name, name, child)
		if err != nil {
			return schedule.Items{}, err
		}
		out.Items = append(out.Items, it)
	}
	slices.SortFunc(out.Items, func(a, b schedule.Item) int { return storekit.CompareItemIDs(a.ID, b.ID) })
	return out, nil
}

func decodeItem(path, name string, n *node) (schedule.Item, error) {
	var it schedule.Item
	if err := decode("get", path, n.data, &it); err != nil {
		return schedule.Item{}, err
	}
	it.ID = schedule.ItemID(name)
	it.Version = schedule.Version(n.version)
	it.DealDesc = ""
	if d := n.children[nodeDealDesc]; d != nil {
		it.DealDesc = string(d.data)
	}
	return it, nil
}

// encodeItem encodes an item without its deal_desc, which is stored apart so
// that SetItemDesc never changes the item's version.
func encodeItem(path string, it schedule.Item) ([]byte, error) {
	it.DealDesc = ""
	return encode("set", path, it)
}

func isActive(sts string) bool { return sts == schedule.ItemActive || sts == "ACTIVTE" }

// BuildItems implements storekit.ItemStore. An empty guard skips the guard
// check (an operator's rebuild); then the task type must exist. With
// mark.Version = AnyVersion the mark is written whatever its version, and
// created if missing; with any other version a missing mark is ErrConflict.
func (c *Client) BuildItems(ctx context.Context, taskType string, guard schedule.ServerID, mark schedule.ItemsMark, defs []string) (schedule.Items, error) {
	if err := checkRuntime(taskType); err != nil {
		return schedule.Items{}, err
	}
	dir := itemsPath(taskType)
	parsed, err := schedule.ParseItemDefs(defs)
	if err != nil {
		return schedule.Items{}, invalid("build", dir, err)
	}
	for _, d := range parsed {
		if err := checkName(schedule.NameItemID, string(d.ID)); err != nil {
			return schedule.Items{}, err
		}
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "build", dir, opMulti); err != nil {
		return schedule.Items{}, err
	}
	if err := s.checkGuard(taskType, guard); err != nil {
		return schedule.Items{}, err
	}
	if guard == "" && s.lookup(taskTypePath(baseOf(taskType))) == nil {
		return schedule.Items{}, fmt.Errorf("memstore: build %s: task type %s: %w", dir, baseOf(taskType), schedule.ErrNotFound)
	}
	n := s.lookup(dir)
	switch {
	case n == nil && mark.Version != storekit.AnyVersion:
		return schedule.Items{}, fmt.Errorf("memstore: build %s: mark version %d, none stored: %w", dir, mark.Version, schedule.ErrConflict)
	case n != nil:
		if err := checkVersion("build", dir, n, mark.Version); err != nil {
			return schedule.Items{}, err
		}
	}
	old, err := s.readItems(taskType)
	if err != nil {
		return schedule.Items{}, err
	}

	// Every check passed and everything decoded: apply.
	stored := make(map[schedule.ItemID]schedule.Item, len(old.Items))
	for _, it := range old.Items {
		stored[it.ID] = it
	}
	newMark := schedule.ItemsMark{Leader: guard, BuiltAt: schedule.Time{Time: s.clock.Now()}, Defs: slices.Clone(defs)}
	markData, err := encode("build", dir, newMark)
	if err != nil {
		return schedule.Items{}, err
	}
	type write struct {
		path string
		data []byte
		add  bool
	}
	var writes []write
	inDefs := make(map[schedule.ItemID]bool, len(parsed))
	for _, d := range parsed {
		inDefs[d.ID] = true
		path := dir + "/" + string(d.ID)
		it, ok := stored[d.ID]
		if ok && isActive(it.Sts) && it.Parameter == d.Parameter {
			continue
		}
		if !ok {
			// A new item starts at the epoch floor: above every epoch
			// ever handed out, also to an item of this name deleted
			// before (see schedule.Item).
			it = schedule.Item{ID: d.ID, Epoch: s.zxid}
		}
		it.Sts, it.Parameter = schedule.ItemActive, d.Parameter
		data, err := encodeItem(path, it)
		if err != nil {
			return schedule.Items{}, err
		}
		writes = append(writes, write{path, data, !ok})
	}
	for _, it := range old.Items {
		if inDefs[it.ID] || it.Sts == schedule.ItemRemoved {
			continue
		}
		path := dir + "/" + string(it.ID)
		it.Sts = schedule.ItemRemoved
		data, err := encodeItem(path, it)
		if err != nil {
			return schedule.Items{}, err
		}
		writes = append(writes, write{path, data, false})
	}
	var tx txn
	if n == nil {
		s.ensure(&tx, runtimePath(taskType))
		if _, err := s.create(&tx, dir, markData, 0, false); err != nil {
			return schedule.Items{}, err
		}
	} else {
		s.set(&tx, dir, n, markData)
	}
	for _, w := range writes {
		if w.add {
			if _, err := s.create(&tx, w.path, w.data, 0, false); err != nil {
				panic(err) // checked above: cannot happen
			}
			continue
		}
		s.set(&tx, w.path, s.lookup(w.path), w.data)
	}
	s.fire(&tx)
	return s.readItems(taskType)
}

// checkGuard fails with ErrConflict unless the guard server's node exists
// in the runtime; an empty guard passes. s.mu must be held.
func (s *Server) checkGuard(rt string, guard schedule.ServerID) error {
	if guard == "" {
		return nil
	}
	if err := checkName(schedule.NameServerID, string(guard)); err != nil {
		return err
	}
	path := serverPath(rt, guard)
	if s.lookup(path) == nil {
		return fmt.Errorf("memstore: check %s: guard is gone: %w", path, schedule.ErrConflict)
	}
	return nil
}

// UpdateItem implements storekit.ItemStore: UpdateItems with one update.
// With old.Version = AnyVersion the write is unconditional; the epoch is
// always computed from the stored item.
func (c *Client) UpdateItem(ctx context.Context, taskType string, guard schedule.ServerID, old schedule.Item, cur, req schedule.ServerID) (schedule.Item, error) {
	res, err := c.UpdateItems(ctx, taskType, guard, []storekit.ItemUpdate{{Old: old, Cur: cur, Req: req}})
	if err != nil {
		return schedule.Item{}, err
	}
	return res[0].Item, res[0].Err
}

// SetItemDesc implements storekit.ItemStore. The text is kept in the item's
// deal_desc child: the item's version does not change.
func (c *Client) SetItemDesc(ctx context.Context, taskType string, id schedule.ItemID, desc string) error {
	if err := checkRuntime(taskType); err != nil {
		return err
	}
	if err := checkName(schedule.NameItemID, string(id)); err != nil {
		return err
	}
	path := itemPath(taskType, id)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "set", path+"/"+nodeDealDesc, opWrite); err != nil {
		return err
	}
	n := s.lookup(path)
	if n == nil {
		return fmt.Errorf("memstore: set %s: %w", path, schedule.ErrNotFound)
	}
	var tx txn
	if d := n.children[nodeDealDesc]; d != nil {
		s.set(&tx, path+"/"+nodeDealDesc, d, []byte(desc))
	} else if _, err := s.create(&tx, path+"/"+nodeDealDesc, []byte(desc), 0, false); err != nil {
		return err
	}
	s.fire(&tx)
	return nil
}

// ItemsStamp implements storekit.ItemStore: the runtime's item generation,
// one read.
func (c *Client) ItemsStamp(ctx context.Context, taskType string) (schedule.ItemsStamp, error) {
	if err := checkRuntime(taskType); err != nil {
		return "", err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "exists", itemsPath(taskType), opRead); err != nil {
		return "", err
	}
	if s.lookup(itemsPath(taskType)) == nil {
		return "", nil
	}
	return s.itemsStamp(taskType), nil
}

// itemsStamp formats the generation of a runtime's items; "" if none was
// recorded. s.mu must be held.
func (s *Server) itemsStamp(rt string) schedule.ItemsStamp {
	g, ok := s.itemGen[rt]
	if !ok {
		return ""
	}
	return schedule.ItemsStamp(strconv.FormatUint(g, 10))
}
