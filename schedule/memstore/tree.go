package memstore

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// The tree mirrors zkstore's ZooKeeper layout (zkstore/doc.go), without a
// root prefix (one Server is one namespace):
//
//	/baseTaskType/<base>                                 task type JSON
//	/baseTaskType/<base>/<runtime>                       (empty)
//	/baseTaskType/<base>/<runtime>/server                (empty)
//	/baseTaskType/<base>/<runtime>/server/<serverID>     server JSON, ephemeral, sequential
//	/baseTaskType/<base>/<runtime>/taskItem              items mark JSON
//	/baseTaskType/<base>/<runtime>/taskItem/<item>       item JSON (deal_desc kept apart)
//	/baseTaskType/<base>/<runtime>/taskItem/<item>/deal_desc   text
//	/baseTaskType/<base>/<runtime>/notes/<box>/n<seq>    note JSON (notes.go)
//	/strategy/<name>                                     strategy JSON
//	/strategy/<name>/<factoryID>                         strategy runtime JSON, ephemeral
//	/factory/<factoryID>                                 factory JSON, ephemeral, sequential
//	/factoryState/<ip>$<hostName>                        factory state JSON
const (
	dirTaskTypes     = "/baseTaskType"
	dirStrategies    = "/strategy"
	dirFactories     = "/factory"
	dirFactoryStates = "/factoryState"
	nodeServers      = "server"
	nodeItems        = "taskItem"
	nodeDealDesc     = "deal_desc"
)

// node is one znode. Every field is guarded by Server.mu.
type node struct {
	data     []byte
	version  int32 // data version: 0 at creation, +1 per write
	cversion int32 // child version: +1 per child created or deleted
	ctime    time.Time
	mtime    time.Time
	owner    int64 // ephemeral owner's session id; 0: persistent
	children map[string]*node
}

// Node is a snapshot of a stored node, for tests and debugging (Server.ReadRaw).
type Node struct {
	// Data is a copy of the node's bytes.
	Data []byte
	// Version is the data version (0 at creation, +1 per write).
	Version int32
	// Ctime and Mtime are the server-clock times of creation and last write.
	Ctime, Mtime time.Time
	// EphemeralOwner is the id of the session that owns an ephemeral node; 0
	// for a persistent one.
	EphemeralOwner int64
	// Children are the names of the node's children, sorted.
	Children []string
}

func (n *node) childNames() []string {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func splitPath(path string) []string {
	return strings.Split(strings.TrimPrefix(path, "/"), "/")
}

func parentOf(path string) (parent, name string) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/", path[i+1:]
	}
	return path[:i], path[i+1:]
}

// checkName validates a name that becomes (part of) a path element, with
// the rules of schedule.ValidateName.
func checkName(kind schedule.NameKind, name string) error {
	if err := schedule.ValidateName(kind, name); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// baseOf returns the base task type of a runtime ("base" or "base$ownSign").
func baseOf(runtime string) string {
	base, _, _ := strings.Cut(runtime, "$")
	return base
}

func checkRuntime(runtime string) error { return checkName(schedule.NameTaskType, runtime) }

func taskTypePath(base string) string { return dirTaskTypes + "/" + base }

func runtimePath(runtime string) string {
	return dirTaskTypes + "/" + baseOf(runtime) + "/" + runtime
}

func serverDirPath(runtime string) string { return runtimePath(runtime) + "/" + nodeServers }

func serverPath(runtime string, id schedule.ServerID) string {
	return serverDirPath(runtime) + "/" + string(id)
}

func itemsPath(runtime string) string { return runtimePath(runtime) + "/" + nodeItems }

func itemPath(runtime string, id schedule.ItemID) string {
	return itemsPath(runtime) + "/" + string(id)
}

func strategyPath(name string) string { return dirStrategies + "/" + name }

func strategyRuntimePath(name string, id schedule.FactoryID) string {
	return strategyPath(name) + "/" + string(id)
}

func factoryPath(id schedule.FactoryID) string { return dirFactories + "/" + string(id) }

func factoryStatePath(ip, hostName string) string {
	return dirFactoryStates + "/" + ip + "$" + hostName
}

// seqOf parses the 10-digit sequence suffix of a sequential node name.
func seqOf(name string) (int64, bool) {
	i := strings.LastIndexByte(name, '$')
	if i < 0 || len(name)-i-1 != 10 {
		return 0, false
	}
	var n int64
	for _, r := range name[i+1:] {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int64(r-'0')
	}
	return n, true
}

type eventKind int

const (
	evCreated eventKind = iota + 1
	evDeleted
	evData
)

// scopesOf returns the watch scopes an event at path concerns.
func scopesOf(path string, ev eventKind) []storekit.WatchScope {
	seg := splitPath(path)
	joinLeave := ev == evCreated || ev == evDeleted
	switch seg[0] {
	case dirTaskTypes[1:]:
		switch {
		case len(seg) == 2:
			return []storekit.WatchScope{{Kind: storekit.WatchConfig}}
		case len(seg) >= 4 && seg[3] == nodeServers:
			if joinLeave && len(seg) <= 5 {
				return []storekit.WatchScope{{Kind: storekit.WatchServers, Name: seg[2]}}
			}
		case len(seg) >= 4 && seg[3] == nodeItems:
			if len(seg) == 4 {
				return []storekit.WatchScope{{Kind: storekit.WatchItems, Name: seg[2]}, {Kind: storekit.WatchMark, Name: seg[2]}}
			}
			return []storekit.WatchScope{{Kind: storekit.WatchItems, Name: seg[2]}}
		case len(seg) >= 5 && seg[3] == nodeNotes:
			if joinLeave && len(seg) <= 6 {
				return []storekit.WatchScope{{Kind: storekit.WatchNotes, Name: seg[2], Server: schedule.ServerID(seg[4])}}
			}
		}
	case dirStrategies[1:]:
		switch len(seg) {
		case 2:
			if joinLeave {
				return []storekit.WatchScope{{Kind: storekit.WatchConfig}, {Kind: storekit.WatchStrategyRuntimes, Name: seg[1]},
					everyRegistration(seg[1])}
			}
			return []storekit.WatchScope{{Kind: storekit.WatchConfig}}
		case 3:
			out := []storekit.WatchScope{{Kind: storekit.WatchStrategyRuntimes, Name: seg[1]},
				{Kind: storekit.WatchStrategyRuntime, Name: seg[1], Factory: schedule.FactoryID(seg[2])}}
			if joinLeave {
				out = append(out, everyRegistration(seg[1]))
			}
			return out
		}
	case dirFactories[1:], dirFactoryStates[1:]:
		if len(seg) == 2 {
			return []storekit.WatchScope{{Kind: storekit.WatchFactories}}
		}
	}
	return nil
}

// everyRegistration stands for every WatchStrategyRuntime scope of a
// strategy, whatever its Factory (a registration joining or leaving
// concerns them all); fire expands it. No watch has this scope: Watch
// requires a Factory.
func everyRegistration(strategy string) storekit.WatchScope {
	return storekit.WatchScope{Kind: storekit.WatchStrategyRuntime, Name: strategy}
}

// txn collects the watch scopes touched by one operation; they are notified
// once, when the operation has fully applied.
type txn struct {
	scopes map[storekit.WatchScope]struct{}
}

func (tx *txn) touch(path string, ev eventKind) {
	for _, sc := range scopesOf(path, ev) {
		if tx.scopes == nil {
			tx.scopes = make(map[storekit.WatchScope]struct{})
		}
		tx.scopes[sc] = struct{}{}
	}
}

// lookup returns the node at path, or nil. s.mu must be held.
func (s *Server) lookup(path string) *node {
	n := s.root
	if path == "/" {
		return n
	}
	for _, name := range splitPath(path) {
		if n = n.children[name]; n == nil {
			return nil
		}
	}
	return n
}

// create adds a node below an existing parent and returns its name (with the
// sequence suffix if sequential). It fails with ErrNotFound if the parent is
// missing and ErrExists if the node exists. s.mu must be held.
func (s *Server) create(tx *txn, path string, data []byte, owner int64, sequential bool) (string, error) {
	parentPath, name := parentOf(path)
	parent := s.lookup(parentPath)
	if parent == nil {
		return "", fmt.Errorf("memstore: create %s: parent: %w", path, schedule.ErrNotFound)
	}
	if sequential {
		name += fmt.Sprintf("%010d", parent.cversion)
		path = parentPath + "/" + name
		if parentPath == "/" {
			path = "/" + name
		}
	}
	if parent.children[name] != nil {
		return "", fmt.Errorf("memstore: create %s: %w", path, schedule.ErrExists)
	}
	now := s.clock.Now()
	n := &node{data: clone(data), ctime: now, mtime: now, owner: owner}
	if parent.children == nil {
		parent.children = make(map[string]*node)
	}
	parent.children[name] = n
	parent.cversion++
	s.zxid++
	if owner != 0 {
		if sess := s.sessions[owner]; sess != nil {
			sess.ephemerals[path] = struct{}{}
		}
	}
	tx.touch(path, evCreated)
	return name, nil
}

// ensure creates path and its missing ancestors as empty persistent nodes.
// s.mu must be held.
func (s *Server) ensure(tx *txn, path string) *node {
	cur := ""
	for _, name := range splitPath(path) {
		cur += "/" + name
		if s.lookup(cur) == nil {
			if _, err := s.create(tx, cur, nil, 0, false); err != nil {
				panic(err) // the parent exists: cannot happen
			}
		}
	}
	return s.lookup(path)
}

// set rewrites a node's data. s.mu must be held.
func (s *Server) set(tx *txn, path string, n *node, data []byte) {
	n.data = clone(data)
	n.version++
	n.mtime = s.clock.Now()
	s.zxid++
	tx.touch(path, evData)
}

// remove deletes the node at path and everything below it. s.mu must be held.
func (s *Server) remove(tx *txn, path string) {
	n := s.lookup(path)
	if n == nil {
		return
	}
	for _, name := range n.childNames() {
		s.remove(tx, path+"/"+name)
	}
	parentPath, name := parentOf(path)
	parent := s.lookup(parentPath)
	delete(parent.children, name)
	parent.cversion++
	s.zxid++
	if n.owner != 0 {
		if sess := s.sessions[n.owner]; sess != nil {
			delete(sess.ephemerals, path)
		}
	}
	tx.touch(path, evDeleted)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
