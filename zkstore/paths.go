package zkstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Every path of the tree is built here, from validated names; see doc.go for
// the tree. A name that cannot be a single node name (empty, ".", "..", "/",
// control characters, characters ZooKeeper refuses) fails with an error
// wrapping schedule.ErrInvalid before any request is sent.

// Node names of the fixed part of the tree.
const (
	nodeTaskTypes     = "baseTaskType"
	nodeServers       = "server"
	nodeItems         = "taskItem"
	nodeStrategies    = "strategy"
	nodeFactories     = "factory"
	nodeFactoryStates = "factoryState"
	nodeSystime       = "systime"
	nodeNotes         = "notes"
	// sep separates the fields of registration names and the ownSign.
	sep = "$"
	// seqLen is the length of ZooKeeper's sequential suffix.
	seqLen = 10
)

// topLevel lists the directories directly under the root, created by Open.
func topLevel() []string {
	return []string{nodeTaskTypes, nodeStrategies, nodeFactories, nodeFactoryStates}
}

// paths builds the paths of one root.
type paths struct{ root string }

func (p paths) rootPath() string      { return p.root }
func (p paths) taskTypes() string     { return p.root + "/" + nodeTaskTypes }
func (p paths) strategies() string    { return p.root + "/" + nodeStrategies }
func (p paths) factories() string     { return p.root + "/" + nodeFactories }
func (p paths) factoryStates() string { return p.root + "/" + nodeFactoryStates }
func (p paths) systime() string       { return p.root + "/" + nodeSystime }

// taskType is <root>/baseTaskType/<base>.
func (p paths) taskType(base string) (string, error) {
	if err := checkName(schedule.NameBaseTaskType, base); err != nil {
		return "", err
	}
	return p.taskTypes() + "/" + base, nil
}

// runtime is <root>/baseTaskType/<base>/<runtime>; runtime is "base" or
// "base$ownSign".
func (p paths) runtime(rt string) (string, error) {
	base, _, err := splitRuntime(rt)
	if err != nil {
		return "", err
	}
	return p.taskTypes() + "/" + base + "/" + rt, nil
}

// servers is <root>/baseTaskType/<base>/<runtime>/server.
func (p paths) servers(rt string) (string, error) {
	r, err := p.runtime(rt)
	if err != nil {
		return "", err
	}
	return r + "/" + nodeServers, nil
}

// server is the node of one registered server.
func (p paths) server(rt string, id schedule.ServerID) (string, error) {
	dir, err := p.servers(rt)
	if err != nil {
		return "", err
	}
	if err := checkName(schedule.NameServerID, string(id)); err != nil {
		return "", err
	}
	return dir + "/" + string(id), nil
}

// items is <root>/baseTaskType/<base>/<runtime>/taskItem.
func (p paths) items(rt string) (string, error) {
	r, err := p.runtime(rt)
	if err != nil {
		return "", err
	}
	return r + "/" + nodeItems, nil
}

// item is the node of one task item.
func (p paths) item(rt string, id schedule.ItemID) (string, error) {
	dir, err := p.items(rt)
	if err != nil {
		return "", err
	}
	if err := checkName(schedule.NameItemID, string(id)); err != nil {
		return "", err
	}
	return dir + "/" + string(id), nil
}

// notes is <root>/baseTaskType/<base>/<runtime>/notes.
func (p paths) notes(rt string) (string, error) {
	r, err := p.runtime(rt)
	if err != nil {
		return "", err
	}
	return r + "/" + nodeNotes, nil
}

// noteBox is the note box of a server (or storekit.LeaderBox).
func (p paths) noteBox(rt string, box schedule.ServerID) (string, error) {
	dir, err := p.notes(rt)
	if err != nil {
		return "", err
	}
	if box != storekit.LeaderBox {
		if err := checkName(schedule.NameServerID, string(box)); err != nil {
			return "", err
		}
	}
	return dir + "/" + string(box), nil
}

// strategy is <root>/strategy/<name>.
func (p paths) strategy(name string) (string, error) {
	if err := checkName(schedule.NameStrategy, name); err != nil {
		return "", err
	}
	return p.strategies() + "/" + name, nil
}

// strategyRuntime is <root>/strategy/<name>/<factoryID>.
func (p paths) strategyRuntime(name string, id schedule.FactoryID) (string, error) {
	dir, err := p.strategy(name)
	if err != nil {
		return "", err
	}
	if err := checkName(schedule.NameFactoryID, string(id)); err != nil {
		return "", err
	}
	return dir + "/" + string(id), nil
}

// factory is <root>/factory/<factoryID>.
func (p paths) factory(id schedule.FactoryID) (string, error) {
	if err := checkName(schedule.NameFactoryID, string(id)); err != nil {
		return "", err
	}
	return p.factories() + "/" + string(id), nil
}

// factoryState is <root>/factoryState/<ip>$<hostName>.
func (p paths) factoryState(ip, host string) (string, error) {
	if err := checkName(schedule.NameHost, ip); err != nil {
		return "", err
	}
	if err := checkName(schedule.NameHost, host); err != nil {
		return "", err
	}
	return p.factoryStates() + "/" + ip + sep + host, nil
}

// serverPrefix is the name of a server node before ZooKeeper appends the
// sequence: <runtime>$<ip>$<uuid32>$.
func serverPrefix(rt, ip, uuid32 string) (string, error) {
	if _, _, err := splitRuntime(rt); err != nil {
		return "", err
	}
	if err := checkName(schedule.NameHost, ip); err != nil {
		return "", err
	}
	return rt + sep + ip + sep + uuid32 + sep, nil
}

// factoryPrefix is the name of a factory node before the sequence:
// <ip>$<hostName>$<uuid32>$.
func factoryPrefix(ip, host, uuid32 string) (string, error) {
	if err := checkName(schedule.NameHost, ip); err != nil {
		return "", err
	}
	if err := checkName(schedule.NameHost, host); err != nil {
		return "", err
	}
	return ip + sep + host + sep + uuid32 + sep, nil
}

// listBySeq lists the children of dir as ids sorted by sequence (see
// sortBySeq), in one request and without reading their data; a missing
// dir has none.
func listBySeq[T ~string](ctx context.Context, s *Store, dir string, knownFirst bool) ([]T, error) {
	var names []string
	err := s.retry(ctx, "list", dir, func() error {
		var err error
		names, err = s.children(ctx, dir)
		if errors.Is(err, zk.ErrNoNode) {
			names = nil
			return nil
		}
		return err
	}, nil)
	if err != nil {
		return nil, s.wrapErr("list", dir, err)
	}
	sortBySeq(names, knownFirst)
	out := make([]T, len(names))
	for i, n := range names {
		out[i] = T(n)
	}
	return out, nil
}

// sortBySeq sorts node names by their sequence (parseSeq), then by name,
// parsing each sequence once (a comparator that parsed both names at every
// comparison took 7 % of the CPU of 200 sessions listing each other).
// knownFirst puts names without a sequence last, else first (parseSeq's
// -1 sorts first).
func sortBySeq(names []string, knownFirst bool) {
	type entry struct {
		seq  int64
		name string
	}
	es := make([]entry, len(names))
	for i, n := range names {
		es[i] = entry{parseSeq(n), n}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.seq != b.seq {
			if knownFirst && (a.seq < 0 || b.seq < 0) {
				return cmp.Compare(b.seq, a.seq) // the known one (larger) first
			}
			return cmp.Compare(a.seq, b.seq)
		}
		return strings.Compare(a.name, b.name)
	})
	for i, e := range es {
		names[i] = e.name
	}
}

// parseSeq returns the sequence number at the end of a registration name
// ("...$0000000007" → 7), or -1 if there is none.
func parseSeq(name string) int64 {
	i := strings.LastIndex(name, sep)
	if i < 0 || len(name)-i-1 != seqLen {
		return -1
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// splitRuntime validates a runtime name and splits it into base and ownSign.
func splitRuntime(rt string) (base, ownSign string, err error) {
	base, ownSign, err = schedule.SplitRuntimeName(rt)
	if err != nil {
		return "", "", fmt.Errorf("zkstore: %w", err)
	}
	return base, ownSign, nil
}

// checkName validates a name with schedule's rules (the error wraps
// schedule.ErrInvalid).
func checkName(kind schedule.NameKind, name string) error {
	if err := schedule.ValidateName(kind, name); err != nil {
		return fmt.Errorf("zkstore: %w", err)
	}
	return nil
}

// validateSegment checks that s can be one ZooKeeper node name.
func validateSegment(s string) error {
	switch s {
	case "":
		return fmt.Errorf("must not be empty")
	case ".", "..":
		return fmt.Errorf("must not be %q", s)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("must be valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r == '/':
			return fmt.Errorf("must not contain '/'")
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return fmt.Errorf("must not contain control characters")
		case r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0 && r <= 0xffff:
			return fmt.Errorf("must not contain %U (refused by ZooKeeper)", r)
		}
	}
	return nil
}

// invalidError is an invalid argument or configuration: "zkstore: <what>",
// wrapping schedule.ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return "zkstore: " + e.msg }
func (e *invalidError) Unwrap() error { return schedule.ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// parentOf returns the parent path of p ("/a/b" → "/a", "/a" → "/").
func parentOf(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// baseOf returns the last element of p.
func baseOf(p string) string {
	return p[strings.LastIndex(p, "/")+1:]
}
