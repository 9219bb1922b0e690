package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// putOne writes the one task type or strategy of doc (apply's format) as
// a compare-and-set against version, the version the console's form was
// loaded at (-1: a new object). It validates like "apply" (every problem
// reported, nothing written), keeps the stored sts when doc has none, and
// refuses, never overwrites, when the stored object is not at version.
func (c *cli) putOne(ctx context.Context, doc []byte, version int32) error {
	es, _, perr := readEntries("form", doc, formatOurs)
	if perr == nil && len(es) != 1 {
		return usagef("the form holds %d objects; expected one task type or strategy", len(es))
	}
	out := c.io.Out
	c.io.Out = io.Discard // apply's dry run validates; its report is not wanted here
	err := c.applyEntries(ctx, es, perr, applyOpts{dryRun: true})
	c.io.Out = out
	if err != nil {
		return err
	}
	store, err := c.openStore(ctx)
	if err != nil {
		return err
	}
	e := es[0]
	if e.tt != nil {
		return c.casPut(ctx, "taskType", e.tt.BaseTaskType, schedule.Version(version), taskTypeRW(store, e))
	}
	return c.casPut(ctx, "strategy", e.st.StrategyName, schedule.Version(version), strategyRW(store, e))
}

// objectRW reads and writes one object of putOne: read returns the stored
// record and version; next the record to write (the stored sts filled in
// when the document had none); create and update write it.
type objectRW struct {
	read   func(ctx context.Context) (any, schedule.Version, error)
	next   func(cur any) any
	create func(ctx context.Context) error
	update func(ctx context.Context, v schedule.Version) error
}

func taskTypeRW(store *zkstore.Store, e entry) objectRW {
	return objectRW{
		read: func(ctx context.Context) (any, schedule.Version, error) {
			return store.TaskType(ctx, e.tt.BaseTaskType)
		},
		next: func(cur any) any {
			if t, ok := cur.(schedule.TaskType); ok && !e.hasSts {
				e.tt.Sts = t.Sts
			}
			return *e.tt
		},
		create: func(ctx context.Context) error { _, err := store.CreateTaskType(ctx, *e.tt); return err },
		update: func(ctx context.Context, v schedule.Version) error {
			_, err := store.UpdateTaskType(ctx, *e.tt, v)
			return err
		},
	}
}

func strategyRW(store *zkstore.Store, e entry) objectRW {
	return objectRW{
		read: func(ctx context.Context) (any, schedule.Version, error) {
			return store.Strategy(ctx, e.st.StrategyName)
		},
		next: func(cur any) any {
			if s, ok := cur.(schedule.Strategy); ok && !e.hasSts {
				e.st.Sts = s.Sts
			}
			return *e.st
		},
		create: func(ctx context.Context) error { _, err := store.CreateStrategy(ctx, *e.st); return err },
		update: func(ctx context.Context, v schedule.Version) error {
			_, err := store.UpdateStrategy(ctx, *e.st, v)
			return err
		},
	}
}

// errChangedSince is a form saved after someone else changed its object.
func errChangedSince(kind, name string, loaded, now schedule.Version, diff string) error {
	return fmt.Errorf("%s %q was changed by someone else since you loaded it (version %d, now %d): nothing was written; reload the form and edit again (stored -> yours: %s): %w",
		kind, name, loaded, now, dash(diff), schedule.ErrConflict)
}

func (c *cli) casPut(ctx context.Context, kind, name string, version schedule.Version, rw objectRW) error {
	cur, v, err := rw.read(ctx)
	switch {
	case errors.Is(err, schedule.ErrNotFound) && version >= 0:
		return fmt.Errorf("%s %q was deleted since you loaded it (version %d): nothing was written: %w", kind, name, version, schedule.ErrConflict)
	case errors.Is(err, schedule.ErrNotFound):
		if err := rw.create(ctx); errors.Is(err, schedule.ErrExists) {
			return fmt.Errorf("%s %q was created by someone else meanwhile: nothing was written: %w", kind, name, err)
		} else if err != nil {
			return fmt.Errorf("create %s %q: %w", kind, name, err)
		}
		c.out("%s %s: created\n", kind, name)
		return nil
	case err != nil:
		return fmt.Errorf("read %s %q: %w", kind, name, err)
	case version < 0:
		return fmt.Errorf("%s %q exists already (version %d): nothing was written; edit it instead: %w", kind, name, v, schedule.ErrConflict)
	}
	next := rw.next(cur)
	diff := diffJSON(cur, next)
	if v != version {
		return errChangedSince(kind, name, version, v, diff)
	}
	if diff == "" {
		c.out("%s %s: unchanged\n", kind, name)
		return nil
	}
	if err := rw.update(ctx, v); errors.Is(err, schedule.ErrConflict) {
		_, now, _ := rw.read(ctx)
		return errChangedSince(kind, name, version, now, diff)
	} else if err != nil {
		return fmt.Errorf("update %s %q: %w", kind, name, err)
	}
	c.out("%s %s: updated: %s\n", kind, name, diff)
	return nil
}
