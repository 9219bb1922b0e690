package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Note boxes, as zkstore keeps them (zkstore/doc.go, "Notes"):
//
//	/baseTaskType/<base>/<runtime>/notes/<box>/n<seq>   {"by","items"}
//
// Here a whole UpdateItems call is one batch (no request size limit), and
// a box is created by the first note to it.

const (
	nodeNotes  = "notes"
	notePrefix = "n"
)

type noteData struct {
	By    schedule.ServerID `json:"by"`
	Items []schedule.ItemID `json:"items"`
}

func notesPath(runtime string) string { return runtimePath(runtime) + "/" + nodeNotes }

func noteBoxPath(runtime string, box schedule.ServerID) string {
	return notesPath(runtime) + "/" + string(box)
}

func checkBox(box schedule.ServerID) error {
	if box == storekit.LeaderBox {
		return nil
	}
	return checkName(schedule.NameServerID, string(box))
}

// UpdateItems implements storekit.ItemStore: every update that applies is
// written, with its notes, in one atomic step (one multi). An update that
// grants its item to (or requests it for) a server other than the guard
// whose node does not exist fails with ErrConflict, as a stale one does.
func (c *Client) UpdateItems(ctx context.Context, taskType string, guard schedule.ServerID, ups []storekit.ItemUpdate) ([]storekit.ItemUpdateResult, error) {
	if err := checkRuntime(taskType); err != nil {
		return nil, err
	}
	for _, u := range ups {
		if err := checkName(schedule.NameItemID, string(u.Old.ID)); err != nil {
			return nil, err
		}
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "multi", itemsPath(taskType), opMulti); err != nil {
		return nil, err
	}
	if err := s.checkGuard(taskType, guard); err != nil {
		return nil, err
	}
	for _, u := range ups {
		old := u.Old
		if n := s.lookup(itemPath(taskType, u.Old.ID)); n != nil && old.Version == storekit.AnyVersion {
			if stored, err := decodeItem(itemPath(taskType, u.Old.ID), string(u.Old.ID), n); err == nil {
				old = stored
			}
		}
		for _, g := range granteesOf(old, u, guard) {
			if err := checkName(schedule.NameServerID, string(g)); err != nil {
				return nil, err
			}
		}
	}
	res := make([]storekit.ItemUpdateResult, len(ups))
	var tx txn
	notes := map[schedule.ServerID][]schedule.ItemID{}
	for i, u := range ups {
		res[i] = s.updateItem(&tx, taskType, guard, u, notes)
	}
	if err := s.writeNotes(&tx, taskType, guard, notes); err != nil {
		return nil, err
	}
	s.fire(&tx)
	return res, nil
}

// granteesOf returns the servers other than guard that u makes the item's
// owner (a new owner) or requested owner (a new request), without NoServer.
func granteesOf(old schedule.Item, u storekit.ItemUpdate, guard schedule.ServerID) []schedule.ServerID {
	var out []schedule.ServerID
	named := func(id schedule.ServerID) bool { return id != "" && id != schedule.NoServer && id != guard }
	if named(u.Cur) && u.Cur != old.CurServer {
		out = append(out, u.Cur)
	}
	if named(u.Req) && u.Req != old.ReqServer && !slices.Contains(out, u.Req) {
		out = append(out, u.Req)
	}
	return out
}

// updateItem applies one update (the epoch computed from the stored item)
// and records the boxes it concerns in notes. s.mu must be held.
func (s *Server) updateItem(tx *txn, rt string, guard schedule.ServerID, u storekit.ItemUpdate, notes map[schedule.ServerID][]schedule.ItemID) storekit.ItemUpdateResult {
	path := itemPath(rt, u.Old.ID)
	n := s.lookup(path)
	if n == nil {
		return storekit.ItemUpdateResult{Err: fmt.Errorf("memstore: set %s: %w", path, schedule.ErrNotFound)}
	}
	if err := checkVersion("set", path, n, u.Old.Version); err != nil {
		return storekit.ItemUpdateResult{Err: err}
	}
	it, err := decodeItem(path, string(u.Old.ID), n)
	if err != nil {
		return storekit.ItemUpdateResult{Err: err}
	}
	old := it
	for _, g := range granteesOf(old, u, guard) {
		if sp := serverPath(rt, g); s.lookup(sp) == nil {
			return storekit.ItemUpdateResult{Err: fmt.Errorf("memstore: check %s: grantee server %s is gone: %w", sp, g, schedule.ErrConflict)}
		}
	}
	if u.Cur != "" && u.Cur != it.CurServer {
		it.Epoch++
	}
	it.CurServer, it.ReqServer = u.Cur, u.Req
	if it.Sts == "" {
		it.Sts = schedule.ItemActive
	}
	data, err := encodeItem(path, it)
	if err != nil {
		return storekit.ItemUpdateResult{Err: err}
	}
	s.set(tx, path, n, data)
	it.Version = schedule.Version(n.version)
	add := func(b schedule.ServerID) {
		if b != "" && b != schedule.NoServer {
			notes[b] = append(notes[b], it.ID)
		}
	}
	if old.CurServer != "" && (old.CurServer != it.CurServer || old.ReqServer != it.ReqServer) {
		add(old.CurServer)
	}
	if it.CurServer != "" && it.CurServer != old.CurServer {
		add(it.CurServer)
	}
	add(storekit.LeaderBox)
	return storekit.ItemUpdateResult{Item: it}
}

// writeNotes adds one note per box. s.mu must be held.
func (s *Server) writeNotes(tx *txn, rt string, by schedule.ServerID, notes map[schedule.ServerID][]schedule.ItemID) error {
	if len(notes) == 0 {
		return nil
	}
	if s.lookup(runtimePath(rt)) == nil {
		return fmt.Errorf("memstore: create %s: %w", notesPath(rt), schedule.ErrNotFound)
	}
	for box, ids := range notes {
		if checkBox(box) != nil {
			continue // an owner name that cannot be a box (written behind our back)
		}
		storekit.SortItemIDs(ids)
		data, err := encode("create", noteBoxPath(rt, box), noteData{By: by, Items: slices.Compact(ids)})
		if err != nil {
			return err
		}
		s.ensure(tx, noteBoxPath(rt, box))
		if _, err := s.create(tx, noteBoxPath(rt, box)+"/"+notePrefix, data, 0, true); err != nil {
			return err
		}
	}
	return nil
}

// ItemsByID implements storekit.ItemStore.
func (c *Client) ItemsByID(ctx context.Context, taskType string, ids []schedule.ItemID) (schedule.Items, error) {
	if err := checkRuntime(taskType); err != nil {
		return schedule.Items{}, err
	}
	for _, id := range ids {
		if err := checkName(schedule.NameItemID, string(id)); err != nil {
			return schedule.Items{}, err
		}
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", itemsPath(taskType), opRead); err != nil {
		return schedule.Items{}, err
	}
	dir := itemsPath(taskType)
	n := s.lookup(dir)
	if n == nil {
		return schedule.Items{}, nil
	}
	var out schedule.Items
	if err := decode("get", dir, n.data, &out.Mark); err != nil {
		return schedule.Items{}, err
	}
	out.Mark.Version = schedule.Version(n.version)
	for _, id := range ids {
		child := n.children[string(id)]
		if child == nil {
			continue
		}
		it, err := decodeItem(dir+"/"+string(id), string(id), child)
		if err != nil {
			return schedule.Items{}, err
		}
		out.Items = append(out.Items, it)
	}
	slices.SortFunc(out.Items, func(a, b schedule.Item) int { return storekit.CompareItemIDs(a.ID, b.ID) })
	return out, nil
}

// Notes implements storekit.ItemStore.
func (c *Client) Notes(ctx context.Context, taskType string, box schedule.ServerID) ([]storekit.Note, error) {
	if err := checkRuntime(taskType); err != nil {
		return nil, err
	}
	if err := checkBox(box); err != nil {
		return nil, err
	}
	path := noteBoxPath(taskType, box)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "get", path, opRead); err != nil {
		return nil, err
	}
	n := s.lookup(path)
	if n == nil {
		return nil, nil
	}
	var out []storekit.Note
	for _, name := range n.childNames() {
		var nd noteData
		if err := decode("get", path+"/"+name, n.children[name].data, &nd); err != nil {
			return nil, err
		}
		out = append(out, storekit.Note{Name: name, By: nd.By, Items: nd.Items})
	}
	return out, nil
}

// DeleteNotes implements storekit.ItemStore.
func (c *Client) DeleteNotes(ctx context.Context, taskType string, guard, box schedule.ServerID, names []string) error {
	if err := checkRuntime(taskType); err != nil {
		return err
	}
	if err := checkBox(box); err != nil {
		return err
	}
	path := noteBoxPath(taskType, box)
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "delete", path, opMulti); err != nil {
		return err
	}
	if err := s.checkGuard(taskType, guard); err != nil {
		return err
	}
	var tx txn
	if names == nil {
		s.remove(&tx, path)
	}
	for _, name := range names {
		if err := checkName(schedule.NameItemID, name); err != nil {
			return err
		}
		s.remove(&tx, path+"/"+name)
	}
	s.fire(&tx)
	return nil
}

// NoteBoxes implements storekit.ItemStore.
func (c *Client) NoteBoxes(ctx context.Context, taskType string) ([]schedule.ServerID, error) {
	if err := checkRuntime(taskType); err != nil {
		return nil, err
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := c.begin(ctx, "children", notesPath(taskType), opRead); err != nil {
		return nil, err
	}
	n := s.lookup(notesPath(taskType))
	if n == nil {
		return nil, nil
	}
	var out []schedule.ServerID
	for _, name := range n.childNames() {
		out = append(out, schedule.ServerID(name))
	}
	return out, nil
}
