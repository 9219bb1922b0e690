package zkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// An update of UpdateItems on its way: where it goes and what it writes.
type pendingUpdate struct {
	at   int // index in the caller's updates
	path string
	old  schedule.Item
	it   schedule.Item // the item after the write (Version: old's)
	data []byte
}

// errAllMoved: after a lost connection, every item of a batch was found
// written by someone else: the batch did not take effect as such.
var errAllMoved = errors.New("zkstore: every item of the batch changed meanwhile")

// UpdateItems writes the updates in multis of at most maxMulti bytes, each
// one a check of the guard's server node, the version-checked setData of
// each item, one note per concerned box and the bump of the items stamp. An
// item whose version moved (or that is gone) is left out of its multi with
// ErrConflict (ErrNotFound) and the multi runs again without it.
func (s *Store) UpdateItems(ctx context.Context, taskType string, guard schedule.ServerID, ups []schedule.ItemUpdate) ([]schedule.ItemUpdateResult, error) {
	const op = "update items"
	res := make([]schedule.ItemUpdateResult, len(ups))
	dir, err := s.p.items(taskType)
	if err != nil {
		return nil, err
	}
	var checks []any
	if guard != "" {
		gp, err := s.p.server(taskType, guard)
		if err != nil {
			return nil, err
		}
		checks = append(checks, &zk.CheckVersionRequest{Path: gp, Version: -1})
	}
	pend, err := s.prepareUpdates(ctx, taskType, ups, res)
	if err != nil {
		return nil, err
	}
	limit := s.maxMulti - 256 - sumSize(checks)
	for len(pend) > 0 {
		n, size := 0, 0
		for n < len(pend) && (n == 0 || size+updateSize(pend[n]) <= limit) {
			size += updateSize(pend[n])
			n++
		}
		if err := s.writeBatch(ctx, taskType, dir, guard, checks, pend[:n], res); err != nil {
			err = s.wrapErr(op, dir, err)
			for _, p := range pend {
				if res[p.at].Err == nil && res[p.at].Item.ID == "" {
					res[p.at].Err = err
				}
			}
			return res, err
		}
		pend = pend[n:]
	}
	return res, nil
}

// updateSize bounds the bytes one update adds to a multi: its setData and
// its share of up to three notes (old owner, new owner, leader), each note
// possibly in a box of its own.
func updateSize(p pendingUpdate) int {
	return len(p.path) + len(p.data) + 32 + 3*(len(p.it.ID)+4) + 2*(len(p.path)+64)
}

// prepareUpdates validates the updates and computes what each writes. An
// update with schedule.AnyVersion applies the epoch rule to the stored
// item (read first).
func (s *Store) prepareUpdates(ctx context.Context, taskType string, ups []schedule.ItemUpdate, res []schedule.ItemUpdateResult) ([]pendingUpdate, error) {
	pend := make([]pendingUpdate, 0, len(ups))
	var unversioned []int
	for i, u := range ups {
		p, err := s.p.item(taskType, u.Old.ID)
		if err != nil {
			return nil, err
		}
		pend = append(pend, pendingUpdate{at: i, path: p, old: u.Old})
		if u.Old.Version == schedule.AnyVersion {
			unversioned = append(unversioned, i)
		}
	}
	if len(unversioned) > 0 {
		paths := make([]string, len(unversioned))
		for k, i := range unversioned {
			paths[k] = pend[i].path
		}
		var got []getResult
		if err := s.retry(ctx, "get", paths[0], func() error {
			var err error
			got, err = s.getMany(ctx, paths)
			return err
		}, nil); err != nil {
			return nil, s.wrapErr("get", paths[0], err)
		}
		for k, i := range unversioned {
			if got[k].stat == nil {
				return nil, s.wrapErr("update item", paths[k], zk.ErrNoNode)
			}
			old, err := decodeItem(paths[k], ups[i].Old.ID, got[k].data, got[k].stat.Version)
			if err != nil {
				return nil, err
			}
			pend[i].old = old
		}
	}
	for i := range pend {
		u := ups[pend[i].at]
		it := pend[i].old
		it.CurServer, it.ReqServer = u.Cur, u.Req
		if u.Cur != "" && u.Cur != pend[i].old.CurServer {
			it.Epoch = pend[i].old.Epoch + 1
		}
		if it.Sts == "" {
			it.Sts = schedule.ItemActive
		}
		data, err := encode(it)
		if err != nil {
			return nil, err
		}
		pend[i].it, pend[i].data = it, data
	}
	return pend, nil
}

// noteBoxes returns, per box, the items of the batch that concern it (see
// schedule.ItemStore), boxes sorted.
func noteBoxes(batch []pendingUpdate) (boxes []schedule.ServerID, items map[schedule.ServerID][]schedule.ItemID) {
	items = map[schedule.ServerID][]schedule.ItemID{}
	add := func(b schedule.ServerID, id schedule.ItemID) {
		if b == "" || b == schedule.NoServer {
			return
		}
		if _, ok := items[b]; !ok {
			boxes = append(boxes, b)
		}
		items[b] = append(items[b], id)
	}
	for _, p := range batch {
		id, old := p.it.ID, p.old
		if old.CurServer != "" && (old.CurServer != p.it.CurServer || old.ReqServer != p.it.ReqServer) {
			add(old.CurServer, id)
		}
		if p.it.CurServer != "" && p.it.CurServer != old.CurServer {
			add(p.it.CurServer, id)
		}
		add(schedule.LeaderBox, id)
	}
	slices.Sort(boxes)
	for _, b := range boxes {
		schedule.SortItemIDs(items[b])
		items[b] = slices.Compact(items[b])
	}
	return boxes, items
}

// writeBatch writes one batch in one multi, again without the updates whose
// item moved, and with boxes created again when one vanished. It fills res
// for every update of the batch; an error is for the batch as a whole.
func (s *Store) writeBatch(ctx context.Context, taskType, dir string, guard schedule.ServerID, checks []any, batch []pendingUpdate, res []schedule.ItemUpdateResult) error {
	batch = slices.Clone(batch)
	for attempt := 0; len(batch) > 0; attempt++ {
		ops, notes, err := s.batchOps(ctx, taskType, dir, guard, checks, batch)
		if err != nil {
			return err
		}
		out, err := s.runMulti(ctx, batch[0].path, ops, s.verifyBatch(ctx, batch))
		if err == nil || errors.Is(err, errAppliedReread) {
			for k, p := range batch {
				it := p.it
				it.Version = p.old.Version + 1
				if err == nil && len(out) > len(checks)+k && out[len(checks)+k].Stat != nil {
					it.Version = schedule.Version(out[len(checks)+k].Stat.Version)
				}
				res[p.at] = schedule.ItemUpdateResult{Item: it}
			}
			s.log.Debug("zkstore: updated items", keyTask, taskType, "items", len(batch), "notes", notes)
			return nil
		}
		if errors.Is(err, errAllMoved) {
			for _, p := range batch {
				res[p.at].Err = opErr("update item", p.path, schedule.ErrConflict, zk.ErrBadVersion)
			}
			return nil
		}
		var fe *failedOp
		if !errors.As(err, &fe) || attempt > len(ops) {
			return err
		}
		switch k := fe.index - len(checks); {
		case fe.index < len(checks) && errors.Is(fe.err, zk.ErrNoNode):
			return opErr("update items", fe.path, schedule.ErrConflict, fmt.Errorf("guard server gone: %w", fe.err))
		case k >= 0 && k < len(batch) && errors.Is(fe.err, zk.ErrBadVersion):
			res[batch[k].at].Err = opErr("update item", fe.path, schedule.ErrConflict, zk.ErrBadVersion)
			batch = slices.Delete(batch, k, k+1)
		case k >= 0 && k < len(batch) && errors.Is(fe.err, zk.ErrNoNode):
			res[batch[k].at].Err = s.wrapErr("update item", fe.path, fe.err)
			batch = slices.Delete(batch, k, k+1)
		case k >= len(batch) && errors.Is(fe.err, zk.ErrNoNode):
			s.forgetBox(path.Dir(fe.path)) // the box vanished: create it again
		default:
			return err
		}
	}
	return nil
}

// batchOps builds the multi of a batch: the checks, the item writes (in
// batch order), the notes and the bump. It creates the boxes first.
func (s *Store) batchOps(ctx context.Context, taskType, dir string, guard schedule.ServerID, checks []any, batch []pendingUpdate) ([]any, int, error) {
	boxes, items := noteBoxes(batch)
	boxPaths := make([]string, len(boxes))
	for i, b := range boxes {
		bp, err := s.p.noteBox(taskType, b)
		if err != nil {
			return nil, 0, err
		}
		boxPaths[i] = bp
	}
	if err := s.ensureBoxes(ctx, boxPaths); err != nil {
		return nil, 0, err
	}
	ops := slices.Clone(checks)
	for _, p := range batch {
		ops = append(ops, &zk.SetDataRequest{Path: p.path, Data: p.data, Version: int32(p.old.Version)})
	}
	for i, b := range boxes {
		data, err := encode(noteData{By: guard, Items: items[b]})
		if err != nil {
			return nil, 0, err
		}
		ops = append(ops, &zk.CreateRequest{Path: boxPaths[i] + "/" + notePrefix, Data: data, Acl: s.acl, Flags: zk.FlagSequence})
	}
	return append(ops, bump(dir)), len(boxes), nil
}

// verifyBatch decides, after a lost connection, whether a batch's multi
// took effect (it is atomic: all or none): an item still at its old
// version says no, an item holding what we wrote at the next version says
// yes; when every item moved otherwise, errAllMoved.
func (s *Store) verifyBatch(ctx context.Context, batch []pendingUpdate) func() (bool, error) {
	return func() (bool, error) {
		paths := make([]string, len(batch))
		for i, p := range batch {
			paths[i] = p.path
		}
		got, err := s.getMany(ctx, paths)
		if err != nil {
			return !isConnLoss(err), err
		}
		for i, g := range got {
			switch {
			case g.stat == nil:
			case g.stat.Version == int32(batch[i].old.Version):
				return false, nil
			case g.stat.Version == int32(batch[i].old.Version)+1 && bytes.Equal(g.data, batch[i].data):
				return true, errAppliedReread
			}
		}
		return true, errAllMoved
	}
}
