package zkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Items reads the mark and every item of a runtime: one getChildren and one
// getData on taskItem, then one getData per item, all pipelined (two round
// trips whatever the number of items).
func (s *Store) Items(ctx context.Context, taskType string) (schedule.Items, error) {
	dir, err := s.p.items(taskType)
	if err != nil {
		return schedule.Items{}, err
	}
	var snap schedule.Items
	err = s.retry(ctx, "items", dir, func() error {
		var err error
		snap, _, _, err = s.readItems(ctx, dir)
		return err
	}, nil)
	if err != nil {
		return schedule.Items{}, s.wrapErr("items", dir, err)
	}
	return snap, nil
}

// readItems reads a snapshot; exists tells whether taskItem exists, floor
// is the epoch floor of items created after the read (see epochFloor; 0
// when the runtime does not exist). The stamp is read first, on its own
// round trip, so that the snapshot is at least as new as the stamp it
// carries.
func (s *Store) readItems(ctx context.Context, dir string) (snap schedule.Items, exists bool, floor int64, err error) {
	rtStat, err := s.exists(ctx, path.Dir(dir))
	if err != nil {
		return snap, false, 0, err
	}
	stamp := stampOf(rtStat)
	type markRes struct {
		data []byte
		stat *zk.Stat
		err  error
	}
	mch := make(chan markRes, 1)
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !s.goFunc(func() {
		d, st, err := s.get(mctx, dir)
		mch <- markRes{d, st, err}
	}) {
		return snap, false, 0, zk.ErrConnectionClosed
	}
	names, cerr := s.children(ctx, dir)
	var nodes []getResult
	if cerr == nil {
		paths := make([]string, len(names))
		for i, n := range names {
			paths[i] = dir + "/" + n
		}
		nodes, cerr = s.getMany(ctx, paths)
	}
	var m markRes
	select {
	case m = <-mch:
	case <-ctx.Done():
		return snap, false, 0, ctx.Err()
	}
	switch {
	case errors.Is(m.err, zk.ErrNoNode) || errors.Is(cerr, zk.ErrNoNode):
		return schedule.Items{}, false, epochFloor(rtStat, nil), nil
	case m.err != nil:
		return snap, false, 0, m.err
	case cerr != nil:
		return snap, false, 0, cerr
	}
	floor = epochFloor(rtStat, m.stat)
	mark, err := s.markOf(dir, m.data, m.stat)
	if err != nil {
		return snap, true, floor, err
	}
	snap.Mark = mark
	snap.Stamp = stamp
	snap.Items = make([]schedule.Item, 0, len(names))
	for i, n := range names {
		if nodes[i].stat == nil {
			continue
		}
		it, err := decodeItem(dir+"/"+n, schedule.ItemID(n), nodes[i].data, nodes[i].stat.Version)
		if err != nil {
			return snap, true, floor, err
		}
		snap.Items = append(snap.Items, it)
	}
	sortItems(snap.Items)
	return snap, true, floor, nil
}

// epochFloor is the epoch a task item created after rt and items (the
// stats of the runtime node and of taskItem, nil if missing) were read
// starts with: the largest zxid they show, 0 without a runtime.
//
// The rule it serves: an item's epoch grows by one per grant, each grant a
// write of its own, and every item starts at the floor read before it was
// created, so every epoch handed out for an item is below the zxid of the
// write that handed it out, and so below the zxid of the item's deletion.
// Whatever deleted it moved one of the zxids read here to at least that
// zxid: a delete of the item moves the Pzxid of taskItem, a delete of
// taskItem the runtime's Pzxid, and a runtime deleted and created again
// has a Czxid (at most its Pzxid) above it. So a re-created item starts
// above every epoch its earlier lives handed out; zxids are never reused.
func epochFloor(rt, items *zk.Stat) int64 {
	if rt == nil {
		return 0
	}
	floor := max(rt.Mzxid, rt.Pzxid)
	if items != nil {
		floor = max(floor, items.Pzxid)
	}
	return floor
}

// ItemsStamp returns the runtime's items stamp: one exists on the runtime
// node. Every write of the items or the mark (BuildItems, UpdateItem,
// SetItemDesc) rewrites the runtime node's (empty) data in the same multi,
// so the node's last-modified zxid moves with every such write, and a zxid
// never repeats, even across deletion and re-creation of the runtime.
// Writes made by other clients directly in ZooKeeper do not move it (the
// items watch still sees them).
func (s *Store) ItemsStamp(ctx context.Context, taskType string) (schedule.ItemsStamp, error) {
	rt, err := s.p.runtime(taskType)
	if err != nil {
		return "", err
	}
	var st schedule.ItemsStamp
	err = s.retry(ctx, "exists", rt, func() error {
		var err error
		st, err = s.stamp(ctx, rt)
		return err
	}, nil)
	if err != nil {
		return "", s.wrapErr("items stamp", rt, err)
	}
	return st, nil
}

// stamp reads the runtime node's stat; a missing runtime has the empty stamp.
func (s *Store) stamp(ctx context.Context, rt string) (schedule.ItemsStamp, error) {
	st, err := s.exists(ctx, rt)
	if err != nil {
		return "", err
	}
	return stampOf(st), nil
}

// stampOf is the items stamp of a runtime node's stat (nil: missing).
func stampOf(st *zk.Stat) schedule.ItemsStamp {
	if st == nil {
		return ""
	}
	return schedule.ItemsStamp(strconv.FormatInt(st.Mzxid, 16))
}

// bump is the operation, added last to every multi that writes items, that
// moves the runtime's items stamp.
func bump(dir string) *zk.SetDataRequest {
	return &zk.SetDataRequest{Path: path.Dir(dir), Data: nil, Version: -1}
}

func sortItems(items []schedule.Item) {
	slices.SortFunc(items, func(a, b schedule.Item) int { return storekit.CompareItemIDs(a.ID, b.ID) })
}

// BuildItems makes the stored items match defs in one multi (see
// storekit.ItemStore): a check that the guard's server node exists, the
// mark's write (version-checked: the multi fails unless the mark is still at
// mark.Version), and one create or version-checked set per item that
// changes. Removed items stay as tombstones (sts REMOVED) so that their
// epochs continue; new items start at the epoch floor (see epochFloor).
//
// A build too large for one multi (about 1 MiB, some 4,000 items) is split:
// the items are written in chunks, each guarded and checking the mark's
// version, then the mark is written last, version-checked: the commit
// point. A build interrupted between chunks leaves item changes without the
// mark that describes them; the next build (the mark's version did not move)
// completes them.
func (s *Store) BuildItems(ctx context.Context, taskType string, guard schedule.ServerID, mark schedule.ItemsMark, defs []string) (schedule.Items, error) {
	const op = "build items"
	dir, err := s.p.items(taskType)
	if err != nil {
		return schedule.Items{}, err
	}
	parsed, err := schedule.ParseItemDefs(defs)
	if err != nil {
		return schedule.Items{}, err
	}
	var checks []any
	if guard != "" {
		gp, err := s.p.server(taskType, guard)
		if err != nil {
			return schedule.Items{}, err
		}
		checks = append(checks, &zk.CheckVersionRequest{Path: gp, Version: -1})
	}
	for i := range parsed {
		if _, err := s.p.item(taskType, parsed[i].ID); err != nil {
			return schedule.Items{}, err
		}
	}
	now, err := s.Now(ctx)
	if err != nil {
		return schedule.Items{}, err
	}
	// The new mark: who built, when (cluster time, as stored: milliseconds,
	// UTC), from what; its version is the one expected of the stored mark.
	mark = schedule.ItemsMark{
		Leader:  guard,
		BuiltAt: schedule.Time{Time: now.Truncate(time.Millisecond).UTC()},
		Defs:    slices.Clone(defs),
		Version: mark.Version,
	}
	markData, err := encode(mark)
	if err != nil {
		return schedule.Items{}, err
	}

	cur, exists, floor, err := s.readForBuild(ctx, taskType, dir, guard != "")
	if err != nil {
		return schedule.Items{}, err
	}
	if !exists && mark.Version != storekit.AnyVersion {
		return schedule.Items{}, opErr(op, dir, schedule.ErrConflict, fmt.Errorf("the items were never built, want mark version %d", mark.Version))
	}

	// The items after the build, and the writes that make them so.
	byID := make(map[schedule.ItemID]schedule.Item, len(cur.Items))
	for _, it := range cur.Items {
		byID[it.ID] = it
	}
	var itemOps []any
	var result []schedule.Item
	written := map[string]int{} // path → index in result
	inDefs := make(map[schedule.ItemID]bool, len(parsed))
	for _, d := range parsed {
		inDefs[d.ID] = true
		p := dir + "/" + string(d.ID)
		old, ok := byID[d.ID]
		if !ok {
			it := schedule.Item{ID: d.ID, Sts: schedule.ItemActive, Parameter: d.Parameter, Epoch: floor}
			data, err := encode(it)
			if err != nil {
				return schedule.Items{}, err
			}
			itemOps = append(itemOps, &zk.CreateRequest{Path: p, Data: data, Acl: s.acl})
			written[p] = len(result)
			result = append(result, it)
			continue
		}
		if old.Sts == schedule.ItemActive && old.Parameter == d.Parameter {
			result = append(result, old)
			continue
		}
		it := old
		it.Sts, it.Parameter = schedule.ItemActive, d.Parameter
		data, err := encode(it)
		if err != nil {
			return schedule.Items{}, err
		}
		itemOps = append(itemOps, &zk.SetDataRequest{Path: p, Data: data, Version: int32(old.Version)})
		written[p] = len(result)
		result = append(result, it)
	}
	for _, old := range cur.Items {
		if inDefs[old.ID] {
			continue
		}
		if old.Sts == schedule.ItemRemoved {
			result = append(result, old)
			continue
		}
		it := old
		it.Sts = schedule.ItemRemoved
		data, err := encode(it)
		if err != nil {
			return schedule.Items{}, err
		}
		p := dir + "/" + string(old.ID)
		itemOps = append(itemOps, &zk.SetDataRequest{Path: p, Data: data, Version: int32(old.Version)})
		written[p] = len(result)
		result = append(result, it)
	}

	markVersion := int32(mark.Version)
	var chunks [][]any
	var markOp any
	if size := sumSize(checks) + sumSize(itemOps) + len(dir) + len(markData) + 64; size <= s.maxMulti {
		if exists {
			markOp = &zk.SetDataRequest{Path: dir, Data: markData, Version: markVersion}
		} else {
			markOp = &zk.CreateRequest{Path: dir, Data: markData, Acl: s.acl}
		}
		ops := append(append(slices.Clone(checks), markOp), itemOps...)
		chunks = [][]any{append(ops, bump(dir))}
	} else {
		if !exists {
			// Create the mark empty (no defs), guarded; the real mark is
			// written last.
			empty, _ := encode(schedule.ItemsMark{Leader: mark.Leader, Defs: []string{}})
			ops := append(slices.Clone(checks), &zk.CreateRequest{Path: dir, Data: empty, Acl: s.acl}, bump(dir))
			if _, err := s.runMulti(ctx, dir, ops, nil); err != nil {
				return schedule.Items{}, s.buildErr(op, dir, err, taskType)
			}
			markVersion = 0
		}
		chunkChecks := append(slices.Clone(checks), &zk.CheckVersionRequest{Path: dir, Version: markVersion})
		chunks = chunk(itemOps, chunkChecks, s.maxMulti-256)
		for i := range chunks {
			chunks[i] = append(chunks[i], bump(dir))
		}
		markOp = &zk.SetDataRequest{Path: dir, Data: markData, Version: markVersion}
		chunks = append(chunks, append(slices.Clone(checks), markOp, bump(dir)))
	}

	var lastRes []zk.MultiResponse
	for i := 0; i < len(chunks); i++ {
		isLast := i == len(chunks)-1
		var verify func() (bool, error)
		if isLast {
			verify = func() (bool, error) {
				got, st, err := s.get(ctx, dir)
				switch {
				case errors.Is(err, zk.ErrNoNode):
					return false, nil
				case err != nil:
					return false, err
				case bytes.Equal(got, markData):
					// Applied: read the result back.
					return true, errAppliedReread
				case exists && st.Version == markVersion:
					return false, nil
				}
				return true, zk.ErrBadVersion
			}
		}
		res, err := s.runMulti(ctx, dir, chunks[i], verify)
		if errors.Is(err, errAppliedReread) {
			snap, rerr := s.Items(ctx, taskType)
			return snap, rerr
		}
		if err != nil {
			return schedule.Items{}, s.buildErr(op, dir, err, taskType)
		}
		if isLast {
			lastRes = res
		}
		// Versions of what this chunk wrote.
		for j, o := range chunks[i] {
			sd, ok := o.(*zk.SetDataRequest)
			if !ok || j >= len(res) || res[j].Stat == nil {
				continue
			}
			if k, ok := written[sd.Path]; ok {
				result[k].Version = schedule.Version(res[j].Stat.Version)
			}
		}
	}
	for j, o := range chunks[len(chunks)-1] {
		if o != markOp || j >= len(lastRes) {
			continue
		}
		if lastRes[j].Stat != nil {
			mark.Version = schedule.Version(lastRes[j].Stat.Version)
		} else {
			mark.Version = 0 // created
		}
	}
	sortItems(result)
	// The bump, last in the last multi, carries the stamp after the build.
	var stamp schedule.ItemsStamp
	if n := len(lastRes); n > 0 && lastRes[n-1].Stat != nil {
		stamp = schedule.ItemsStamp(strconv.FormatInt(lastRes[n-1].Stat.Mzxid, 16))
	}
	s.log.Debug("zkstore: built items", keyTask, taskType, "items", len(parsed), "writes", len(itemOps))
	return schedule.Items{Mark: mark, Items: result, Stamp: stamp}, nil
}

// readForBuild reads the items a build starts from and the epoch floor of
// the items it creates (see epochFloor). A guarded build reads what its
// guard's registration has seen (ZooKeeper reads follow the session's own
// writes), so a runtime deleted after it lost the guard too, and the build
// fails on it. An unguarded build (an operator's) creates the runtime first
// if missing (ErrNotFound without its task type): those writes pass through
// the ZooKeeper leader, so the reads after them see every delete before.
// A runtime missing at the read is ErrConflict.
func (s *Store) readForBuild(ctx context.Context, taskType, dir string, guarded bool) (cur schedule.Items, exists bool, floor int64, err error) {
	if !guarded {
		if err := s.ensureRuntime(ctx, taskType); err != nil {
			return cur, false, 0, err
		}
	}
	if err := s.retry(ctx, "items", dir, func() error {
		var err error
		cur, exists, floor, err = s.readItems(ctx, dir)
		return err
	}, nil); err != nil {
		return cur, false, 0, s.wrapErr("build items", dir, err)
	}
	if floor == 0 {
		return cur, false, 0, opErr("build items", path.Dir(dir), schedule.ErrConflict, errors.New("the runtime does not exist"))
	}
	return cur, exists, floor, nil
}

// errAppliedReread says a multi that lost its connection took effect.
var errAppliedReread = errors.New("zkstore: applied; read back")

// buildErr maps the failure of an item write: a guard that is gone, a mark or
// item version that moved, or an item created meanwhile is ErrConflict.
func (s *Store) buildErr(op, dir string, err error, taskType string) error {
	var fe *failedOp
	if errors.As(err, &fe) {
		switch {
		case errors.Is(fe.err, zk.ErrBadVersion), errors.Is(fe.err, zk.ErrNodeExists), errors.Is(fe.err, zk.ErrNoNode):
			return opErr(op, fe.path, schedule.ErrConflict, fe.err)
		}
		return s.wrapErr(op, fe.path, fe.err)
	}
	return s.wrapErr(op, dir, err)
}

// UpdateItem changes one item's owner and requested owner: UpdateItems with
// one update, so one multi of a check that the guard's server node exists
// (none without guard), a setData of the item at old.Version, the notes to
// the boxes it concerns and the bump of the items stamp. The epoch grows by
// one when cur is non-empty and differs from old.CurServer.
func (s *Store) UpdateItem(ctx context.Context, taskType string, guard schedule.ServerID, old schedule.Item, cur, req schedule.ServerID) (schedule.Item, error) {
	res, err := s.UpdateItems(ctx, taskType, guard, []storekit.ItemUpdate{{Old: old, Cur: cur, Req: req}})
	if err != nil {
		return schedule.Item{}, err
	}
	if res[0].Err != nil {
		return schedule.Item{}, res[0].Err
	}
	it := res[0].Item
	s.log.Debug("zkstore: updated item", keyTask, taskType, keyItem, it.ID, keyServer, it.CurServer, "req", it.ReqServer, "epoch", it.Epoch)
	return it, nil
}

// SetItemDesc rewrites an item's deal_desc, keeping everything else (a
// version-checked read-modify-write in one multi with the stamp's bump,
// repeated if an ownership change comes in between).
func (s *Store) SetItemDesc(ctx context.Context, taskType string, id schedule.ItemID, desc string) error {
	const op = "set item desc"
	path, err := s.p.item(taskType, id)
	if err != nil {
		return err
	}
	dir, _ := s.p.items(taskType)
	for attempt := 0; ; attempt++ {
		data, st, err := s.readNode(ctx, path)
		if err != nil {
			return s.wrapErr("get", path, err)
		}
		it, err := decodeItem(path, id, data, st.Version)
		if err != nil {
			return err
		}
		if it.DealDesc == desc {
			return nil
		}
		it.DealDesc = desc
		nd, err := encode(it)
		if err != nil {
			return err
		}
		ops := []any{&zk.SetDataRequest{Path: path, Data: nd, Version: st.Version}, bump(dir)}
		_, err = s.runMulti(ctx, path, ops, func() (bool, error) {
			got, now, err := s.get(ctx, path)
			switch {
			case err != nil:
				return !isConnLoss(err), err
			case now.Version == st.Version:
				return false, nil // not applied: try again
			case bytes.Equal(got, nd) && now.Version == st.Version+1:
				return true, nil // applied
			}
			return true, zk.ErrBadVersion
		})
		if errors.Is(err, zk.ErrBadVersion) && attempt < 20 {
			continue
		}
		return s.wrapErr(op, path, err)
	}
}
