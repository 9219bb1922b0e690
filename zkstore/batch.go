package zkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// An update of UpdateItems on its way: where it goes and what it writes.
type pendingUpdate struct {
	at   int // index in the caller's updates
	path string
	old  schedule.Item
	it   schedule.Item // the item after the write (Version: old's)
	data []byte
	// grantees are the servers, other than the guard, that the write makes
	// the item's owner or requested owner: their nodes must exist.
	grantees []grantee
}

// A grantee is a server an update grants its item to (or requests it for),
// with the path of its server node.
type grantee struct {
	id   schedule.ServerID
	path string
}

// errAllMoved: after a lost connection, every item of a batch was found
// written by someone else: the batch did not take effect as such.
var errAllMoved = errors.New("zkstore: every item of the batch changed meanwhile")

// UpdateItems writes the updates in multis of at most maxMulti bytes, each
// one a check of the guard's server node, a check of the server node of
// each distinct grantee (a new owner or a new requested owner other than
// the guard), the version-checked setData of each item, one note per
// concerned box and the bump of the items stamp. An item whose version
// moved (or that is gone) is left out of its multi with ErrConflict
// (ErrNotFound), and so are, with ErrConflict, the updates that grant to a
// server whose node is gone; the multi runs again without them. ZooKeeper
// names only the first op of a multi that failed, so after a failure the
// batch's items and grantees are read at once (one pipelined read) and
// every stale update is left out before the multi runs again.
func (s *Store) UpdateItems(ctx context.Context, taskType string, guard schedule.ServerID, ups []storekit.ItemUpdate) ([]storekit.ItemUpdateResult, error) {
	const op = "update items"
	res := make([]storekit.ItemUpdateResult, len(ups))
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
	pend, err := s.prepareUpdates(ctx, taskType, guard, ups, res)
	if err != nil {
		return nil, err
	}
	limit := s.maxMulti - 256 - sumSize(checks)
	// Server ids are never reused: a grantee found gone stays gone, and
	// the batches that have not run yet leave its grants out without
	// asking.
	gone := &goneSet{ids: map[schedule.ServerID]bool{}}
	var batches [][]pendingUpdate
	for rest := pend; len(rest) > 0; {
		n := batchLen(rest, limit)
		batches = append(batches, rest[:n])
		rest = rest[n:]
	}
	// The batches go out together, parallelMultis at a time (a wave,
	// answered before the next goes): each is atomic on its own and
	// touches its own items, and ZooKeeper runs them one after the other
	// anyway. One after the other, the 2,000 grants of a leader's first
	// round (two multis) waited a round trip more, a second or two under
	// load.
	errs := make([]error, len(batches))
	for start := 0; start < len(batches); start += parallelMultis {
		var wg sync.WaitGroup
		for i := start; i < min(start+parallelMultis, len(batches)); i++ {
			wg.Go(func() { errs[i] = s.writeBatch(ctx, taskType, dir, guard, checks, batches[i], gone, res) })
		}
		wg.Wait()
	}
	if err := firstErr(errs); err != nil {
		err = s.wrapErr(op, dir, err)
		for _, p := range pend {
			if res[p.at].Err == nil && res[p.at].Item.ID == "" {
				res[p.at].Err = err
			}
		}
		return res, err
	}
	return res, nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parallelMultis is how many multis of one UpdateItems call are in flight
// at once.
const parallelMultis = 4

// goneSet is the grantees found gone during one UpdateItems call, shared
// by its batches.
type goneSet struct {
	mu  sync.Mutex
	ids map[schedule.ServerID]bool
}

func (g *goneSet) has(id schedule.ServerID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ids[id]
}

func (g *goneSet) add(id schedule.ServerID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ids[id] = true
}

// batchLen returns how many of pend (at least one) go into the next multi:
// as many as fit in limit bytes, each update counted with updateSize and
// each distinct grantee's check once.
func batchLen(pend []pendingUpdate, limit int) int {
	checked := map[schedule.ServerID]bool{}
	n, size := 0, 0
	for n < len(pend) {
		add := updateSize(pend[n])
		var fresh []schedule.ServerID
		for _, g := range pend[n].grantees {
			if !checked[g.id] && !slices.Contains(fresh, g.id) {
				fresh = append(fresh, g.id)
				add += granteeCheckSize(g)
			}
		}
		if n > 0 && size+add > limit {
			break
		}
		for _, id := range fresh {
			checked[id] = true
		}
		size += add
		n++
	}
	return n
}

// updateSize bounds the bytes one update adds to a multi: its setData and
// its share of up to three notes (old owner, new owner, leader), each note
// possibly in a box of its own. Its grantees' checks are counted apart
// (granteeCheckSize), once per multi.
func updateSize(p pendingUpdate) int {
	return len(p.path) + len(p.data) + 32 + 3*(len(p.it.ID)+4) + 2*(len(p.path)+64)
}

// granteeCheckSize is the size of the check of a grantee's server node.
func granteeCheckSize(g grantee) int {
	return opSize(&zk.CheckVersionRequest{Path: g.path, Version: -1})
}

// granteesOf returns the servers other than guard that an update makes
// the item's owner (a new owner) or requested owner (a new request), in
// that order, without NoServer.
func granteesOf(old, it schedule.Item, guard schedule.ServerID) []schedule.ServerID {
	var out []schedule.ServerID
	named := func(id schedule.ServerID) bool { return id != "" && id != schedule.NoServer && id != guard }
	if named(it.CurServer) && it.CurServer != old.CurServer {
		out = append(out, it.CurServer)
	}
	if named(it.ReqServer) && it.ReqServer != old.ReqServer && !slices.Contains(out, it.ReqServer) {
		out = append(out, it.ReqServer)
	}
	return out
}

// batchGrantees returns the distinct grantees of a batch, sorted.
func batchGrantees(batch []pendingUpdate) []grantee {
	var out []grantee
	seen := map[schedule.ServerID]bool{}
	for _, p := range batch {
		for _, g := range p.grantees {
			if !seen[g.id] {
				seen[g.id] = true
				out = append(out, g)
			}
		}
	}
	slices.SortFunc(out, func(a, b grantee) int { return strings.Compare(string(a.id), string(b.id)) })
	return out
}

// prepareUpdates validates the updates and computes what each writes. An
// update with storekit.AnyVersion applies the epoch rule to the stored
// item (read first). A grantee that is not a valid server id fails the
// call before anything is written.
func (s *Store) prepareUpdates(ctx context.Context, taskType string, guard schedule.ServerID, ups []storekit.ItemUpdate, res []storekit.ItemUpdateResult) ([]pendingUpdate, error) {
	pend := make([]pendingUpdate, 0, len(ups))
	var unversioned []int
	for i, u := range ups {
		p, err := s.p.item(taskType, u.Old.ID)
		if err != nil {
			return nil, err
		}
		pend = append(pend, pendingUpdate{at: i, path: p, old: u.Old})
		if u.Old.Version == storekit.AnyVersion {
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
		for _, id := range granteesOf(pend[i].old, it, guard) {
			sp, err := s.p.server(taskType, id)
			if err != nil {
				return nil, err
			}
			pend[i].grantees = append(pend[i].grantees, grantee{id: id, path: sp})
		}
	}
	return pend, nil
}

// noteBoxes returns, per box, the items of the batch that concern it (see
// storekit.ItemStore), boxes sorted.
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
		add(storekit.LeaderBox, id)
	}
	slices.Sort(boxes)
	for _, b := range boxes {
		storekit.SortItemIDs(items[b])
		items[b] = slices.Compact(items[b])
	}
	return boxes, items
}

// writeBatch writes one batch in one multi, again without the updates whose
// item moved or whose grantee is gone, and with boxes created again when
// one vanished. It fills res for every update of the batch; an error is for
// the batch as a whole.
func (s *Store) writeBatch(ctx context.Context, taskType, dir string, guard schedule.ServerID, guardChecks []any, batch []pendingUpdate, gone *goneSet, res []storekit.ItemUpdateResult) error {
	// dropGone fails, and leaves out, the updates that grant to a gone server.
	dropGone := func() {
		batch = slices.DeleteFunc(batch, func(p pendingUpdate) bool {
			for _, g := range p.grantees {
				if gone.has(g.id) {
					res[p.at].Err = opErr("update item", p.path, schedule.ErrConflict,
						fmt.Errorf("grantee server %s gone (%s): %w", g.id, g.path, zk.ErrNoNode))
					return true
				}
			}
			return false
		})
	}
	batch = slices.Clone(batch)
	dropGone()
	for attempt := 0; len(batch) > 0; attempt++ {
		grantees := batchGrantees(batch)
		checks := slices.Clip(guardChecks)
		for _, g := range grantees {
			checks = append(checks, &zk.CheckVersionRequest{Path: g.path, Version: -1})
		}
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
				res[p.at] = storekit.ItemUpdateResult{Item: it}
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
		case fe.index < len(guardChecks) && errors.Is(fe.err, zk.ErrNoNode):
			return opErr("update items", fe.path, schedule.ErrConflict, fmt.Errorf("guard server gone: %w", fe.err))
		case fe.index < len(checks) && errors.Is(fe.err, zk.ErrNoNode):
			// A grantee left between the caller's read and this write:
			// its grants fail, the others go again without them.
			gone.add(grantees[fe.index-len(guardChecks)].id)
		case k >= 0 && k < len(batch) && errors.Is(fe.err, zk.ErrBadVersion):
			res[batch[k].at].Err = opErr("update item", fe.path, schedule.ErrConflict, zk.ErrBadVersion)
			batch = slices.Delete(batch, k, k+1)
		case k >= 0 && k < len(batch) && errors.Is(fe.err, zk.ErrNoNode):
			res[batch[k].at].Err = s.wrapErr("update item", fe.path, fe.err)
			batch = slices.Delete(batch, k, k+1)
		case k >= len(batch) && errors.Is(fe.err, zk.ErrNoNode):
			s.forgetBox(path.Dir(fe.path)) // the box vanished: create it again
			continue
		default:
			return err
		}
		// ZooKeeper names only the first op that failed: other items of
		// the batch may have moved too, and other grantees left. Find them
		// all in one pipelined read, so that the multi goes again once
		// more, not once per conflict (a batch of hundreds of grants,
		// with a few dozen lost races while servers join, took a second
		// or more that way).
		batch, err = s.dropStale(ctx, batch, grantees, gone, res)
		if err != nil {
			return err
		}
		dropGone()
	}
	return nil
}

// dropStale reads the items of batch and the grantees' server nodes at
// once and returns batch without the updates whose item moved (ErrConflict)
// or vanished (ErrNotFound), results set; the grantees found gone are
// added to gone. Versions only grow, so an item found at another version
// than the update's would fail the multi again.
func (s *Store) dropStale(ctx context.Context, batch []pendingUpdate, grantees []grantee, gone *goneSet, res []storekit.ItemUpdateResult) ([]pendingUpdate, error) {
	if len(batch) == 0 {
		return batch, nil
	}
	paths := make([]string, 0, len(batch)+len(grantees))
	for _, p := range batch {
		paths = append(paths, p.path)
	}
	for _, g := range grantees {
		paths = append(paths, g.path)
	}
	var got []getResult
	err := s.retry(ctx, "get", paths[0], func() error {
		var err error
		got, err = s.getMany(ctx, paths)
		return err
	}, nil)
	if err != nil {
		return batch, err
	}
	for i, g := range grantees {
		if got[len(batch)+i].stat == nil {
			gone.add(g.id)
		}
	}
	out := batch[:0]
	for i, p := range batch {
		switch st := got[i].stat; {
		case st == nil:
			res[p.at].Err = s.wrapErr("update item", p.path, zk.ErrNoNode)
		case st.Version != int32(p.old.Version):
			res[p.at].Err = opErr("update item", p.path, schedule.ErrConflict, zk.ErrBadVersion)
		default:
			out = append(out, p)
		}
	}
	return out, nil
}

// batchOps builds the multi of a batch: the checks (the guard's, then the
// grantees'), the item writes (in batch order), the notes and the bump. It creates the boxes first.
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
