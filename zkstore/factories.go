package zkstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// RegisterFactory creates the factory's EPHEMERAL_SEQUENTIAL node
// <root>/factory/<ip>$<hostName>$<uuid32>$<seq> with its record, owned by sess.
func (s *Store) RegisterFactory(ctx context.Context, sess storekit.Session, rec schedule.Factory) (schedule.Factory, error) {
	const op = "register factory"
	dir := s.p.factories()
	if rec.ProcessUUID == "" {
		rec.ProcessUUID = newUUID32()
	} else if err := checkName(schedule.NameHost, rec.ProcessUUID); err != nil {
		return schedule.Factory{}, err
	}
	prefix, err := factoryPrefix(rec.IP, rec.HostName, rec.ProcessUUID)
	if err != nil {
		return schedule.Factory{}, err
	}
	x, err := s.ownSession(op, dir, sess)
	if err != nil {
		return schedule.Factory{}, err
	}
	rec.UUID, rec.Seq = "", 0
	rec.Session = x.id
	data, err := encode(rec)
	if err != nil {
		return schedule.Factory{}, err
	}
	path, err := s.createEphemeral(ctx, x, ephemeralReq{
		op: op, path: dir + "/" + prefix, data: data, seq: true,
		parents: func(ctx context.Context) error { return s.ensurePath(ctx, dir) },
	})
	if err != nil {
		return schedule.Factory{}, err
	}
	name := baseOf(path)
	rec.UUID = schedule.FactoryID(name)
	rec.Seq = parseSeq(name)
	s.log.Debug("zkstore: registered factory", "factory", name, keySession, sessionHex(x.id))
	return rec, nil
}

// UnregisterFactory deletes the factory's node; a missing node is not an error.
func (s *Store) UnregisterFactory(ctx context.Context, id schedule.FactoryID) error {
	path, err := s.p.factory(id)
	if err != nil {
		return err
	}
	return s.wrapErr("delete", path, s.deleteIfExists(ctx, path))
}

// Factories lists the live factories, sorted by Seq.
//
// A factory's record is written once, when its node is created, and its
// sequential name is never used twice in one incarnation of the factory
// directory: the store keeps the records it has read and reads only the
// nodes it has not seen yet (one children request, plus one get per new
// factory, instead of one get per factory at every call). The records are
// kept per directory incarnation (its czxid), so a directory deleted and
// created again (its sequence numbers restart) is read afresh.
func (s *Store) Factories(ctx context.Context) ([]schedule.Factory, error) {
	dir := s.p.factories()
	var names []string
	var incarnation int64
	err := s.retry(ctx, "list", dir, func() error {
		var err error
		names, incarnation, err = s.childrenOf(ctx, dir)
		return err
	}, nil)
	if errors.Is(err, zk.ErrNoNode) {
		return []schedule.Factory{}, nil
	}
	if err != nil {
		return nil, s.wrapErr("list", dir, err)
	}
	known, missing := s.factoryCache.lookup(incarnation, names)
	if len(missing) > 0 {
		paths := make([]string, len(missing))
		for i, name := range missing {
			paths[i] = dir + "/" + name
		}
		var nodes []getResult
		err := s.retry(ctx, "get", dir, func() error {
			var err error
			nodes, err = s.getMany(ctx, paths)
			return err
		}, nil)
		if err != nil {
			return nil, s.wrapErr("get", dir, err)
		}
		read := make(map[string]schedule.Factory, len(missing))
		for i, name := range missing {
			if nodes[i].stat == nil {
				continue // gone since the listing
			}
			f, err := decodeFactory(paths[i], name, nodes[i].data)
			if err != nil {
				return nil, err
			}
			read[name] = f
		}
		s.factoryCache.add(incarnation, read)
		maps.Copy(known, read)
	}
	out := make([]schedule.Factory, 0, len(known))
	for _, f := range known {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].UUID < out[j].UUID
	})
	return out, nil
}

// FactoryIDs lists the live factories' ids sorted like Factories, from one
// listing of the factory directory: no record is read.
func (s *Store) FactoryIDs(ctx context.Context) ([]schedule.FactoryID, error) {
	return listBySeq[schedule.FactoryID](ctx, s, s.p.factories(), false)
}

// factoryCache holds the factory records a store has read, by node name,
// for one incarnation of the factory directory (see Factories).
type factoryCache struct {
	mu          sync.Mutex
	incarnation int64 // the directory's czxid
	recs        map[string]schedule.Factory
}

// lookup returns the records of names it holds and the names it does not,
// forgetting the records of nodes no longer listed (and every record when
// the directory is a new incarnation).
func (c *factoryCache) lookup(incarnation int64, names []string) (known map[string]schedule.Factory, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recs == nil || c.incarnation != incarnation {
		c.incarnation, c.recs = incarnation, map[string]schedule.Factory{}
	}
	listed := make(map[string]bool, len(names))
	known = make(map[string]schedule.Factory, len(names))
	for _, name := range names {
		listed[name] = true
		if f, ok := c.recs[name]; ok {
			known[name] = f
		} else {
			missing = append(missing, name)
		}
	}
	maps.DeleteFunc(c.recs, func(name string, _ schedule.Factory) bool { return !listed[name] })
	return known, missing
}

// add keeps recs, read under incarnation (dropped if the directory has
// been seen in another incarnation since).
func (c *factoryCache) add(incarnation int64, recs map[string]schedule.Factory) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recs != nil && c.incarnation == incarnation {
		maps.Copy(c.recs, recs)
	}
}

// FactoryState reads the durable state of a machine; a machine never
// stopped has the zero state.
func (s *Store) FactoryState(ctx context.Context, ip, hostName string) (schedule.FactoryState, error) {
	path, err := s.p.factoryState(ip, hostName)
	if err != nil {
		return schedule.FactoryState{}, err
	}
	data, _, err := s.readNode(ctx, path)
	if errors.Is(err, zk.ErrNoNode) {
		return schedule.FactoryState{}, nil
	}
	if err != nil {
		return schedule.FactoryState{}, s.wrapErr("get", path, err)
	}
	var st schedule.FactoryState
	if err := decode(path, data, &st); err != nil {
		return schedule.FactoryState{}, err
	}
	return st, nil
}

// SetFactoryState writes the durable state of a machine (a persistent node).
func (s *Store) SetFactoryState(ctx context.Context, ip, hostName string, st schedule.FactoryState) error {
	path, err := s.p.factoryState(ip, hostName)
	if err != nil {
		return err
	}
	data, err := encode(st)
	if err != nil {
		return err
	}
	for range 3 {
		_, err = s.setVerified(ctx, path, data, -1)
		if !errors.Is(err, zk.ErrNoNode) {
			break
		}
		_, err = s.createPersistent(ctx, path, data)
		if !errors.Is(err, zk.ErrNodeExists) {
			break
		}
	}
	return s.wrapErr("set", path, err)
}

// RegisterStrategyRuntime creates the factory's EPHEMERAL registration
// <root>/strategy/<name>/<factoryID>, with its record, owned by sess.
// ErrNotFound if the strategy does not exist, ErrExists if the registration
// does.
func (s *Store) RegisterStrategyRuntime(ctx context.Context, sess storekit.Session, rt schedule.StrategyRuntime) (schedule.StrategyRuntime, error) {
	const op = "register strategy runtime"
	path, err := s.p.strategyRuntime(rt.StrategyName, rt.UUID)
	if err != nil {
		return schedule.StrategyRuntime{}, err
	}
	x, err := s.ownSession(op, path, sess)
	if err != nil {
		return schedule.StrategyRuntime{}, err
	}
	rt.Version = 0
	data, err := encode(rt)
	if err != nil {
		return schedule.StrategyRuntime{}, err
	}
	if _, err := s.createEphemeral(ctx, x, ephemeralReq{op: op, path: path, data: data}); err != nil {
		if errors.Is(err, schedule.ErrNotFound) {
			sp, _ := s.p.strategy(rt.StrategyName)
			return schedule.StrategyRuntime{}, opErr(op, path, schedule.ErrNotFound, fmt.Errorf("no strategy at %s", sp))
		}
		return schedule.StrategyRuntime{}, err
	}
	return rt, nil
}

// UnregisterStrategyRuntime deletes a registration; a missing one is not an
// error.
func (s *Store) UnregisterStrategyRuntime(ctx context.Context, strategyName string, id schedule.FactoryID) error {
	path, err := s.p.strategyRuntime(strategyName, id)
	if err != nil {
		return err
	}
	return s.wrapErr("delete", path, s.deleteIfExists(ctx, path))
}

// StrategyRuntimes lists the registrations under a strategy, sorted by the
// factories' sequence (the end of their id), else by id.
func (s *Store) StrategyRuntimes(ctx context.Context, strategyName string) ([]schedule.StrategyRuntime, error) {
	dir, err := s.p.strategy(strategyName)
	if err != nil {
		return nil, err
	}
	names, nodes, err := s.readWatchedChildren(ctx, dir)
	if err != nil {
		return nil, s.wrapErr("list", dir, err)
	}
	out := make([]schedule.StrategyRuntime, 0, len(names))
	for i, name := range names {
		if nodes[i].stat == nil {
			continue
		}
		rt, err := decodeStrategyRuntime(dir+"/"+name, strategyName, name, nodes[i].data, nodes[i].stat.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, rt)
	}
	sort.Slice(out, func(i, j int) bool { return runtimeBefore(out[i].UUID, out[j].UUID) })
	return out, nil
}

// runtimeBefore orders registrations by the factories' sequence (the end
// of their id; known sequences first), then by id.
func runtimeBefore(a, b schedule.FactoryID) bool {
	sa, sb := parseSeq(string(a)), parseSeq(string(b))
	if sa != sb {
		if sa < 0 || sb < 0 {
			return sb < 0 // known sequences first
		}
		return sa < sb
	}
	return a < b
}

// StrategyRuntimeIDs lists the ids of the registrations under a strategy,
// sorted like StrategyRuntimes: one children request, no data read.
func (s *Store) StrategyRuntimeIDs(ctx context.Context, strategyName string) ([]schedule.FactoryID, error) {
	dir, err := s.p.strategy(strategyName)
	if err != nil {
		return nil, err
	}
	return listBySeq[schedule.FactoryID](ctx, s, dir, true)
}

// StrategyRuntime reads one registration; ErrNotFound if it does not exist.
// While the store watches the registration's data (WatchStrategyRuntime
// or WatchStrategyRuntimes), it answers from what its watch read, without
// a request (see watchedData).
func (s *Store) StrategyRuntime(ctx context.Context, strategyName string, id schedule.FactoryID) (schedule.StrategyRuntime, error) {
	path, err := s.p.strategyRuntime(strategyName, id)
	if err != nil {
		return schedule.StrategyRuntime{}, err
	}
	data, stat, err := s.readWatchedNode(ctx, path)
	if err != nil {
		return schedule.StrategyRuntime{}, s.wrapErr("get", path, err)
	}
	return decodeStrategyRuntime(path, strategyName, string(id), data, stat.Version)
}

// readWatchedChildren is readChildren for a directory whose children's
// data the store may hold (watchedData): it lists dir and reads only the
// children whose data it does not hold. A factory reads its strategies'
// registrations (and the strategies) at every change of any of them; it
// watches them all, and each watch that fires is set again by a read of
// the changed node, so the rest need no read.
func (s *Store) readWatchedChildren(ctx context.Context, dir string) ([]string, []getResult, error) {
	var names []string
	var nodes []getResult
	err := s.retry(ctx, "list", dir, func() error {
		var err error
		names, err = s.children(ctx, dir)
		if errors.Is(err, zk.ErrNoNode) {
			names, nodes = nil, nil
			return nil
		}
		if err != nil {
			return err
		}
		nodes = make([]getResult, len(names))
		var paths []string
		var at []int
		var toks []cacheToken
		for i, n := range names {
			p := dir + "/" + n
			if r, ok := s.watched.lookup(p); ok {
				nodes[i] = r
				continue
			}
			paths, at = append(paths, p), append(at, i)
			toks = append(toks, s.watched.token(p))
		}
		got, err := s.getMany(ctx, paths)
		if err != nil {
			return err
		}
		for k, r := range got {
			nodes[at[k]] = r
			s.watched.read(paths[k], toks[k], r)
		}
		return nil
	}, nil)
	return names, nodes, err
}

// UpdateStrategyRuntimes rewrites several registrations of one strategy in
// one multi: a check that the guard factory's node exists, then one
// version-checked setData per registration.
func (s *Store) UpdateStrategyRuntimes(ctx context.Context, strategyName string, guard schedule.FactoryID, rts []schedule.StrategyRuntime) ([]schedule.StrategyRuntime, error) {
	const op = "update strategy runtimes"
	dir, err := s.p.strategy(strategyName)
	if err != nil {
		return nil, err
	}
	var ops []any
	if guard != "" {
		gp, err := s.p.factory(guard)
		if err != nil {
			return nil, err
		}
		ops = append(ops, &zk.CheckVersionRequest{Path: gp, Version: -1})
	}
	nchecks := len(ops)
	out := make([]schedule.StrategyRuntime, len(rts))
	datas := make([][]byte, len(rts))
	for i, rt := range rts {
		rt.StrategyName = strategyName
		path, err := s.p.strategyRuntime(strategyName, rt.UUID)
		if err != nil {
			return nil, err
		}
		data, err := encode(rt)
		if err != nil {
			return nil, err
		}
		datas[i] = data
		out[i] = rt
		ops = append(ops, &zk.SetDataRequest{Path: path, Data: data, Version: int32(rt.Version)})
	}
	if len(rts) == 0 {
		return out, nil
	}
	applied := false
	res, err := s.runMulti(ctx, dir, ops, func() (bool, error) {
		// Read the first registration back: written with our data and the
		// next version means the multi took effect.
		sd := ops[nchecks].(*zk.SetDataRequest)
		got, st, err := s.get(ctx, sd.Path)
		switch {
		case err != nil:
			return !isConnLoss(err), err
		case st.Version == sd.Version:
			return false, nil
		case string(got) == string(datas[0]) && st.Version == sd.Version+1:
			applied = true
			return true, nil
		}
		return true, zk.ErrBadVersion
	})
	if err != nil {
		var fe *failedOp
		if errors.As(err, &fe) {
			switch {
			case errors.Is(fe.err, zk.ErrBadVersion):
				return nil, opErr(op, fe.path, schedule.ErrConflict, fe.err)
			case errors.Is(fe.err, zk.ErrNoNode) && fe.index < nchecks:
				return nil, opErr(op, fe.path, schedule.ErrConflict, fmt.Errorf("guard factory gone: %w", fe.err))
			}
			return nil, s.wrapErr(op, fe.path, fe.err)
		}
		if errors.Is(err, zk.ErrBadVersion) {
			return nil, opErr(op, dir, schedule.ErrConflict, err)
		}
		return nil, s.wrapErr(op, dir, err)
	}
	for i := range out {
		switch {
		case applied:
			out[i].Version = rts[i].Version + 1
		case nchecks+i < len(res) && res[nchecks+i].Stat != nil:
			out[i].Version = schedule.Version(res[nchecks+i].Stat.Version)
		}
	}
	return out, nil
}
