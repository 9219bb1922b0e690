package zkstore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Note boxes (see "Notes" in doc.go): <runtime>/notes/<box>/n<seq>, each
// note {"by","items"}, written by UpdateItems in the multi of the item
// writes it tells of.

// notePrefix is the name of a note before ZooKeeper's sequence suffix.
const notePrefix = "n"

// noteData is a note's stored form.
type noteData struct {
	By    schedule.ServerID `json:"by"`
	Items []schedule.ItemID `json:"items"`
}

// ensureBoxes creates the note boxes at paths that this store has not
// created or seen yet (and the notes directory), pipelined. A box that
// exists already is fine; a missing runtime fails with "no node".
func (s *Store) ensureBoxes(ctx context.Context, boxes []string) error {
	s.boxMu.Lock()
	var missing []string
	for _, b := range boxes {
		if !s.boxes[b] {
			missing = append(missing, b)
		}
	}
	s.boxMu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	dir := path.Dir(missing[0])
	s.boxMu.Lock()
	known := s.boxes[dir]
	s.boxMu.Unlock()
	if !known {
		if err := s.createIfMissing(ctx, dir); err != nil {
			return err
		}
	}
	errs := make([]error, len(missing))
	err := s.parallelDo(ctx, len(missing), func(i int) {
		errs[i] = s.createIfMissing(ctx, missing[i])
	})
	if err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		if known && errors.Is(err, zk.ErrNoNode) {
			// The notes directory went (with its runtime, maybe created
			// again since): start from it.
			s.forgetBox(missing[0])
			return s.ensureBoxes(ctx, boxes)
		}
		return err
	}
	s.boxMu.Lock()
	s.boxes[dir] = true
	for _, b := range missing {
		s.boxes[b] = true
	}
	s.boxMu.Unlock()
	return nil
}

// forgetBox makes the next write to the box create it (and the notes
// directory) first: it vanished.
func (s *Store) forgetBox(p string) {
	s.boxMu.Lock()
	delete(s.boxes, p)
	delete(s.boxes, path.Dir(p))
	s.boxMu.Unlock()
}

// createIfMissing creates an empty persistent node; one that exists is fine.
func (s *Store) createIfMissing(ctx context.Context, p string) error {
	return s.retry(ctx, "create", p, func() error {
		err := s.createNode(ctx, p, nil, 0)
		if errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		return err
	}, nil)
}

// parallelDo runs f(0..n-1) on at most parallelReads goroutines (pipelined
// requests on the one connection) and waits for them.
func (s *Store) parallelDo(ctx context.Context, n int, f func(i int)) error {
	sem := make(chan struct{}, parallelReads)
	done := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for j := 0; j < i; j++ {
				<-done
			}
			return ctx.Err()
		}
		if !s.goFunc(func() {
			defer func() { <-sem; done <- struct{}{} }()
			f(i)
		}) {
			for j := 0; j < i; j++ {
				<-done
			}
			return zk.ErrConnectionClosed
		}
	}
	for i := 0; i < n; i++ {
		<-done
	}
	return nil
}

// Notes lists the notes of a box, oldest first.
func (s *Store) Notes(ctx context.Context, taskType string, box schedule.ServerID) ([]storekit.Note, error) {
	bp, err := s.p.noteBox(taskType, box)
	if err != nil {
		return nil, err
	}
	var out []storekit.Note
	err = s.retry(ctx, "notes", bp, func() error {
		out = nil
		names, err := s.children(ctx, bp)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		slices.Sort(names)
		paths := make([]string, len(names))
		for i, n := range names {
			paths[i] = bp + "/" + n
		}
		got, err := s.getMany(ctx, paths)
		if err != nil {
			return err
		}
		for i, g := range got {
			if g.stat == nil {
				continue // consumed meanwhile
			}
			var nd noteData
			if err := decode(paths[i], g.data, &nd); err != nil {
				return err
			}
			out = append(out, storekit.Note{Name: names[i], By: nd.By, Items: nd.Items})
		}
		return nil
	}, nil)
	if err != nil {
		return nil, s.wrapErr("notes", bp, err)
	}
	return out, nil
}

// DeleteNotes deletes the named notes in multis of at most maxMulti bytes,
// each guarded; with names nil the whole box.
func (s *Store) DeleteNotes(ctx context.Context, taskType string, guard schedule.ServerID, box schedule.ServerID, names []string) error {
	const op = "delete notes"
	bp, err := s.p.noteBox(taskType, box)
	if err != nil {
		return err
	}
	var checks []any
	if guard != "" {
		gp, err := s.p.server(taskType, guard)
		if err != nil {
			return err
		}
		checks = append(checks, &zk.CheckVersionRequest{Path: gp, Version: -1})
	}
	whole := names == nil
	for attempt := 0; ; attempt++ {
		if whole {
			s.forgetBox(bp)
			if err := s.retry(ctx, "list", bp, func() error {
				var err error
				names, err = s.children(ctx, bp)
				return err
			}, nil); errors.Is(err, zk.ErrNoNode) {
				return nil
			} else if err != nil {
				return s.wrapErr(op, bp, err)
			}
		}
		var ops []any
		for _, n := range names {
			if err := checkName(schedule.NameItemID, n); err != nil {
				return err
			}
			ops = append(ops, &zk.DeleteRequest{Path: bp + "/" + n, Version: -1})
		}
		chunks := chunk(ops, checks, s.maxMulti-256)
		if whole {
			chunks = append(chunks, append(slices.Clone(checks), &zk.DeleteRequest{Path: bp, Version: -1}))
		}
		err := s.deleteChunks(ctx, bp, len(checks), chunks)
		var fe *failedOp
		switch {
		case whole && errors.As(err, &fe) && fe.path == bp && errors.Is(fe.err, zk.ErrNotEmpty) && attempt < 5:
			continue // a note came in meanwhile
		case errors.As(err, &fe) && fe.index < len(checks) && errors.Is(fe.err, zk.ErrNoNode):
			return opErr(op, fe.path, schedule.ErrConflict, fmt.Errorf("guard server gone: %w", fe.err))
		}
		return s.wrapErr(op, bp, err)
	}
}

// deleteChunks runs multis of checks (the first n operations of each) and
// deletes, dropping the deletes of nodes that are gone already (after a
// lost connection too) and running the rest again.
func (s *Store) deleteChunks(ctx context.Context, at string, n int, chunks [][]any) error {
	for _, ops := range chunks {
		for len(ops) > n {
			_, err := s.runMulti(ctx, at, ops, nil)
			var fe *failedOp
			if err == nil {
				break
			}
			if !errors.As(err, &fe) || fe.index < n || !errors.Is(fe.err, zk.ErrNoNode) {
				return err
			}
			ops = slices.Delete(slices.Clone(ops), fe.index, fe.index+1)
		}
	}
	return nil
}

// NoteBoxes lists the note boxes of a runtime, sorted.
func (s *Store) NoteBoxes(ctx context.Context, taskType string) ([]schedule.ServerID, error) {
	dir, err := s.p.notes(taskType)
	if err != nil {
		return nil, err
	}
	var names []string
	err = s.retry(ctx, "list", dir, func() error {
		var err error
		names, err = s.children(ctx, dir)
		if errors.Is(err, zk.ErrNoNode) {
			names, err = nil, nil
		}
		return err
	}, nil)
	if err != nil {
		return nil, s.wrapErr("note boxes", dir, err)
	}
	slices.Sort(names)
	out := make([]schedule.ServerID, len(names))
	for i, n := range names {
		out[i] = schedule.ServerID(n)
	}
	return out, nil
}

// ItemsByID reads the mark and the named items, pipelined: two round trips
// whatever the number of ids.
func (s *Store) ItemsByID(ctx context.Context, taskType string, ids []schedule.ItemID) (schedule.Items, error) {
	dir, err := s.p.items(taskType)
	if err != nil {
		return schedule.Items{}, err
	}
	paths := make([]string, 0, len(ids)+1)
	paths = append(paths, dir)
	for _, id := range ids {
		p, err := s.p.item(taskType, id)
		if err != nil {
			return schedule.Items{}, err
		}
		paths = append(paths, p)
	}
	var snap schedule.Items
	err = s.retry(ctx, "items", dir, func() error {
		snap = schedule.Items{}
		got, err := s.getMany(ctx, paths)
		if err != nil || got[0].stat == nil {
			return err // never built: no items
		}
		if snap.Mark, err = s.markOf(dir, got[0].data, got[0].stat); err != nil {
			return err
		}
		for i, id := range ids {
			g := got[i+1]
			if g.stat == nil {
				continue
			}
			it, err := decodeItem(paths[i+1], id, g.data, g.stat.Version)
			if err != nil {
				return err
			}
			snap.Items = append(snap.Items, it)
		}
		return nil
	}, nil)
	if err != nil {
		return schedule.Items{}, s.wrapErr("items", dir, err)
	}
	sortItems(snap.Items)
	return snap, nil
}
