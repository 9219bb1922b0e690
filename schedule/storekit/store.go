package storekit

import (
	"context"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Store is the contract between the scheduling logic and the coordination
// service. One Store value is one client: it holds one session at a time
// (ZooKeeper semantics), and every ephemeral node it creates belongs to that
// session. Tests and simulations that need several "processes" open several
// Stores on the same backend.
//
// All methods are safe for concurrent use. Every method that blocks takes a
// context first. Errors wrap the sentinels of package schedule
// (schedule.ErrNotFound, schedule.ErrConflict...) with the operation and the
// path.
type Store interface {
	Sessions
	ClusterClock
	ConfigStore
	ServerStore
	ItemStore
	FactoryStore
	Watcher
	// Close ends the session (its ephemeral nodes vanish at once) and releases
	// every resource. Calls after Close fail with ErrClosed.
	Close() error
}

// Session is one session of a Store. After it expires, the Store opens a new
// one (Sessions.Session returns it); this value stays expired for good.
type Session interface {
	// ID is the session id given by the server.
	ID() int64
	// Timeout is the session timeout negotiated with the server: after this
	// long without contact the server expires the session.
	Timeout() time.Duration
	// State is the current state.
	State() schedule.SessionState
	// Changed returns a channel that is closed at the next state change (each
	// call may return a new channel; call it again after it fires).
	Changed() <-chan struct{}
	// Done is closed when the session has ended for good (expired or closed).
	Done() <-chan struct{}
	// Err is nil while the session lives, then ErrSessionLost (expired) or
	// ErrClosed.
	Err() error
	// Alive reports whether the session's lease holds now: the session has
	// not ended, and the server answered it recently enough (ZooKeeper: a
	// request sent at most a third of the timeout ago, on the monotonic
	// clock) that it cannot have expired. Unlike State, which a goroutine
	// updates, it is judged at the call: a process resumed after a freeze
	// sees false at once. Cheap (atomic loads and a clock read); callers
	// check it before every fetch and every record.
	Alive() bool
}

// Sessions gives the store's current session.
type Sessions interface {
	// Session returns the current session. It may block until a session is
	// established (bounded by ctx).
	Session(ctx context.Context) (Session, error)
}

// ClockInfo describes the calibration of cluster time.
type ClockInfo struct {
	// Offset is cluster time minus local time at calibration.
	Offset time.Duration
	// RTT is the round trip of the calibrating request (the error bound is RTT/2).
	RTT time.Duration
	// At is the local time of the calibration (zero if never calibrated).
	At time.Time
}

// ClusterClock gives the cluster's time: the coordination service's clock,
// calibrated periodically, so that windows and records agree across hosts
// whatever their local clocks say.
type ClusterClock interface {
	// Now returns the current cluster time: local monotonic time plus the
	// calibrated offset. It calibrates first if never calibrated.
	Now(ctx context.Context) (time.Time, error)
	// ClockInfo returns the last calibration.
	ClockInfo() ClockInfo
}

// ConfigStore reads and writes task types and strategies with versions.
// Writes validate first (ErrInvalid naming every field, nothing written).
// Reads of undecodable data fail with ErrCorrupt naming the path.
type ConfigStore interface {
	TaskType(ctx context.Context, base string) (schedule.TaskType, schedule.Version, error)
	// TaskTypes lists every task type, sorted by name. A corrupt one fails the
	// whole call with ErrCorrupt naming it.
	TaskTypes(ctx context.Context) ([]schedule.TaskType, error)
	// CreateTaskType fails with ErrExists if it exists.
	CreateTaskType(ctx context.Context, t schedule.TaskType) (schedule.Version, error)
	// UpdateTaskType fails with ErrConflict unless the stored version is v
	// (AnyVersion: unconditional), ErrNotFound if it does not exist.
	UpdateTaskType(ctx context.Context, t schedule.TaskType, v schedule.Version) (schedule.Version, error)
	// DeleteTaskType removes the task type and all its runtimes (servers,
	// items). ErrConflict unless the stored version is v.
	DeleteTaskType(ctx context.Context, base string, v schedule.Version) error

	Strategy(ctx context.Context, name string) (schedule.Strategy, schedule.Version, error)
	Strategies(ctx context.Context) ([]schedule.Strategy, error)
	CreateStrategy(ctx context.Context, s schedule.Strategy) (schedule.Version, error)
	UpdateStrategy(ctx context.Context, s schedule.Strategy, v schedule.Version) (schedule.Version, error)
	// DeleteStrategy removes the strategy and its runtime registrations.
	DeleteStrategy(ctx context.Context, name string, v schedule.Version) error
}

// ServerStore registers schedule servers (thread groups) of a task type +
// ownSign ("runtime", named "base" or "base$ownSign").
type ServerStore interface {
	// RegisterServer creates the server's ephemeral-sequential node, with its
	// record, under the given session, and returns the record with UUID (the
	// node name) and Seq filled in. It fails with ErrSessionLost if sess is no
	// longer the store's live session. The record's TaskType names the runtime.
	RegisterServer(ctx context.Context, sess Session, rec schedule.Server) (schedule.Server, error)
	// UpdateServer rewrites the record (heartbeat). ErrNotFound if the node is
	// gone (the registration was lost with its session).
	UpdateServer(ctx context.Context, rec schedule.Server) error
	// UnregisterServer deletes the node; a missing node is not an error.
	UnregisterServer(ctx context.Context, taskType string, id schedule.ServerID) error
	// Servers lists the live servers of a runtime, sorted by Seq (the leader,
	// the lowest, first). A runtime that does not exist has no servers.
	Servers(ctx context.Context, taskType string) ([]schedule.Server, error)
	// ServerIDs lists the ids of a runtime's live servers in the same order
	// as Servers, without reading their records: one cheap listing, for a
	// server that needs only to know who leads.
	ServerIDs(ctx context.Context, taskType string) ([]schedule.ServerID, error)
	// ServersByID reads the records of the servers named (those that do not
	// exist are left out), sorted like Servers. Its cost grows with
	// len(ids), not with the number of servers.
	ServersByID(ctx context.Context, taskType string, ids []schedule.ServerID) ([]schedule.Server, error)
	// Runtimes lists the runtimes ("base", "base$TEST", ...) of a base task type.
	Runtimes(ctx context.Context, base string) ([]string, error)
	// DeleteRuntime removes a runtime (its items and server directory) in one
	// atomic step, and only if it has no live server (else ErrNotEmpty).
	DeleteRuntime(ctx context.Context, taskType string) error
}

// ItemStore holds task items and their ownership.
type ItemStore interface {
	// Items reads the mark and every item of a runtime in one call. A runtime
	// whose items were never built returns an empty Items and no error.
	Items(ctx context.Context, taskType string) (schedule.Items, error)
	// BuildItems makes the stored items match defs (TaskType.TaskItems,
	// already validated): it creates missing items, re-activates re-added ones
	// (their epoch continues), marks items not in defs as ItemRemoved (keeping
	// owner and epoch, so the owner can release at its batch boundary),
	// gives the items it creates an epoch above every epoch ever handed out
	// for an item of the same name in the same runtime (also one deleted
	// with its task type or runtime: the store derives it from a counter
	// it never reuses, such as ZooKeeper's zxid),
	// updates parameters, and rewrites the mark — all in one atomic step that
	// fails with ErrConflict if the mark's version is not mark.Version (use
	// AnyVersion on first build) or if the guard server's node is gone. It
	// returns the new snapshot.
	BuildItems(ctx context.Context, taskType string, guard schedule.ServerID, mark schedule.ItemsMark, defs []string) (schedule.Items, error)
	// UpdateItem changes one item's owner and requested owner in one atomic,
	// version-checked step (ErrConflict if old.Version is stale or if the
	// guard server's node is gone; an empty guard skips that check). A
	// server the step newly names, other than the guard, must exist too:
	// cur when it differs from old.CurServer (a grant), req when it differs
	// from old.ReqServer (a request; NoServer names none). If its node is
	// gone (it stopped, or its session ended, after the caller read the
	// servers), the step fails with ErrConflict and writes nothing, guard or
	// not: no item is granted to a server that no longer exists. A newly
	// named cur or req that is not a server id is ErrInvalid. If cur is
	// non-empty and differs from old.CurServer, the epoch grows by one;
	// otherwise it is kept. It returns the stored item. Together with
	// BuildItems's rule for new items: every grant of an item has a larger
	// epoch than every earlier grant of an item of that name and runtime,
	// across deletion and re-creation of the item, its runtime and its task
	// type.
	UpdateItem(ctx context.Context, taskType string, guard schedule.ServerID, old schedule.Item, cur, req schedule.ServerID) (schedule.Item, error)
	// SetItemDesc rewrites an item's deal_desc (free text for operators); it
	// never conflicts with ownership changes' meaning (it keeps owner and epoch).
	SetItemDesc(ctx context.Context, taskType string, id schedule.ItemID, desc string) error
	// ItemsStamp returns the runtime's current items stamp in one cheap
	// request, whatever the number of items: it changes with every write of
	// the items or the mark made through this interface (BuildItems,
	// UpdateItem, SetItemDesc, and deleting or re-creating the runtime), and
	// never repeats an earlier value; nothing else moves it (server
	// registrations and heartbeats do not). A reader that holds an Items
	// snapshot whose Stamp equals it may use the snapshot instead of reading
	// every item again. Snapshots of a runtime never built have the empty
	// stamp, which matches nothing. Writes made behind the Store's back
	// (another program editing the nodes) may not move it; the items watch
	// still sees them.
	ItemsStamp(ctx context.Context, taskType string) (schedule.ItemsStamp, error)

	// UpdateItems applies several UpdateItem changes with the same guard,
	// batched into as few atomic requests as the backend's request size
	// allows (each batch all or nothing), and returns one result per
	// update, in order. An update whose item is stale or gone gets
	// ErrConflict or ErrNotFound in its result, an update that names a
	// server whose node is gone (see UpdateItem) ErrConflict, and the
	// others are written without it. The returned error is for the call as
	// a whole (the guard server's node gone: ErrConflict; a closed store; a
	// lost connection): the updates it left unwritten carry it in their
	// results too.
	UpdateItems(ctx context.Context, taskType string, guard schedule.ServerID, ups []ItemUpdate) ([]ItemUpdateResult, error)
	// ItemsByID reads the mark and the items named (those that do not exist
	// are left out), sorted like Items; its Stamp is empty. Its cost grows
	// with len(ids), not with the number of items.
	ItemsByID(ctx context.Context, taskType string, ids []schedule.ItemID) (schedule.Items, error)

	// Notes. UpdateItem and UpdateItems leave, in the same atomic request
	// as each batch of item writes, one Note per concerned box naming the
	// items of the batch that concern it: the box of an item's old owner
	// when its owner or requested owner changes, the box of its new owner
	// when the owner changes, and LeaderBox for every write. A server
	// watches its own box (WatchNotes) instead of every item.

	// Notes lists the notes of a box in the order they were written (a
	// box never written to has none).
	Notes(ctx context.Context, taskType string, box schedule.ServerID) ([]Note, error)
	// DeleteNotes deletes the named notes of a box (missing ones are
	// skipped); with names nil, the box and every note in it. The deletes
	// happen only while the guard server's node exists (ErrConflict
	// otherwise; an empty guard skips the check): a leader deposed
	// meanwhile cannot consume the next leader's notes.
	DeleteNotes(ctx context.Context, taskType string, guard, box schedule.ServerID, names []string) error
	// NoteBoxes lists the boxes of a runtime (LeaderBox among them once
	// written to), sorted.
	NoteBoxes(ctx context.Context, taskType string) ([]schedule.ServerID, error)
}

// LeaderBox is the note box of a runtime's leader, whoever it is. Server ids
// always contain a '$', so no server's box has this name.
const LeaderBox schedule.ServerID = "leader"

// ItemUpdate is one change of ItemStore.UpdateItems: Old's owner and
// requested owner become Cur and Req, with UpdateItem's rules.
type ItemUpdate struct {
	Old      schedule.Item
	Cur, Req schedule.ServerID
}

// ItemUpdateResult is the outcome of one ItemUpdate: the stored item, or
// why it was not written.
type ItemUpdateResult struct {
	Item schedule.Item
	Err  error
}

// Note tells a server which items changed for it (see ItemStore.Notes).
type Note struct {
	// Name identifies the note in its box (for DeleteNotes); names sort in
	// the order the notes were written.
	Name string
	// By is the guard of the write ("" for an unguarded one).
	By schedule.ServerID
	// Items are the items the write changed that concern the box, sorted.
	Items []schedule.ItemID
}

// FactoryStore registers manager factories, their strategy runtimes and the
// durable operator stop flag.
type FactoryStore interface {
	// RegisterFactory creates the factory's ephemeral-sequential node under
	// sess and returns the record with UUID and Seq filled in.
	RegisterFactory(ctx context.Context, sess Session, rec schedule.Factory) (schedule.Factory, error)
	// UnregisterFactory deletes the node; a missing node is not an error.
	UnregisterFactory(ctx context.Context, id schedule.FactoryID) error
	// Factories lists live factories, sorted by Seq.
	Factories(ctx context.Context) ([]schedule.Factory, error)
	// FactoryIDs lists the live factories' ids in the same order as
	// Factories, without reading their records: one cheap listing, for a
	// factory that needs only to know who is live and who leads.
	FactoryIDs(ctx context.Context) ([]schedule.FactoryID, error)

	// FactoryState reads the durable state of a machine (ip, hostName); a
	// machine never stopped has the zero state.
	FactoryState(ctx context.Context, ip, hostName string) (schedule.FactoryState, error)
	// SetFactoryState writes it (persistent: survives sessions and restarts).
	SetFactoryState(ctx context.Context, ip, hostName string, st schedule.FactoryState) error

	// RegisterStrategyRuntime creates the factory's ephemeral registration
	// under a strategy (ErrExists if present for this session). ErrNotFound if
	// the strategy does not exist.
	RegisterStrategyRuntime(ctx context.Context, sess Session, rt schedule.StrategyRuntime) (schedule.StrategyRuntime, error)
	// UnregisterStrategyRuntime deletes it; a missing node is not an error.
	UnregisterStrategyRuntime(ctx context.Context, strategyName string, id schedule.FactoryID) error
	// StrategyRuntimes lists the registrations under a strategy, sorted by the
	// factories' Seq where known, else by UUID.
	StrategyRuntimes(ctx context.Context, strategyName string) ([]schedule.StrategyRuntime, error)
	// UpdateStrategyRuntimes rewrites several registrations of one strategy in
	// one atomic step; each is checked against its Version, and the guard
	// factory's node must exist (empty guard: no check). ErrConflict otherwise.
	UpdateStrategyRuntimes(ctx context.Context, strategyName string, guard schedule.FactoryID, rts []schedule.StrategyRuntime) ([]schedule.StrategyRuntime, error)
	// StrategyRuntimeIDs lists the ids of the registrations under a
	// strategy, sorted like StrategyRuntimes, in one listing that reads no
	// registration's data. A strategy that does not exist has none (no
	// error).
	StrategyRuntimeIDs(ctx context.Context, strategyName string) ([]schedule.FactoryID, error)
	// StrategyRuntime reads one registration; ErrNotFound if it does not
	// exist (nor its strategy).
	StrategyRuntime(ctx context.Context, strategyName string, id schedule.FactoryID) (schedule.StrategyRuntime, error)
}

// WatchKind says what a watch observes.
type WatchKind int

// Watch kinds.
const (
	// WatchServers: servers of one runtime joining or leaving (not
	// heartbeats). With Server set (the watching server's own id), only
	// what can change whether that server leads must fire: while another
	// server comes first (leads), that server leaving; while Server comes
	// first or is not registered, every join and leave. A store may fire
	// for more. One or two watches, whatever the number of servers.
	WatchServers WatchKind = iota + 1
	// WatchItems: any item of one runtime, or its mark, changing.
	WatchItems
	// WatchConfig: task types and strategies created, changed or deleted.
	WatchConfig
	// WatchFactories: factories joining or leaving, and factory states
	// changing. With Factory set (the watching factory's own id), only
	// that factory's node leaving and the state of its machine (the IP and
	// host name its id begins with) changing must fire; a store may fire
	// for more. Two watches, whatever the number of factories.
	WatchFactories
	// WatchStrategyRuntimes: registrations under one strategy joining,
	// leaving or changing.
	WatchStrategyRuntimes
	// WatchNotes: notes added to or deleted from one note box (Name the
	// runtime, Server the box). One watch, whatever the number of items.
	WatchNotes
	// WatchMark: the mark of one runtime's items rewritten (a build), or
	// the items created or deleted as a whole. One watch.
	WatchMark
	// WatchStrategyRuntime: one registration under one strategy (Name)
	// joining, changing or leaving (Factory), and what can make it come
	// first: while another registration comes first, that one leaving;
	// while Factory's comes first or is not there, every registration
	// joining or leaving. Not the other registrations' changes; a store may
	// fire for other joins and leaves. A constant number of watches,
	// whatever the number of registrations.
	WatchStrategyRuntime
)

// WatchScope names what to watch: Kind, and Name (the runtime for servers,
// items, notes and the mark, the strategy for strategy runtimes, empty
// otherwise), Server (the note box, for WatchNotes; the watching server,
// optional, for WatchServers) and Factory (the registration whose changes
// are watched, for WatchStrategyRuntime; the watching factory, optional,
// for WatchFactories).
type WatchScope struct {
	Kind    WatchKind
	Name    string
	Server  schedule.ServerID
	Factory schedule.FactoryID
}

// Watcher delivers "something changed" signals; the receiver re-reads.
type Watcher interface {
	// Watch returns a channel (buffer 1, sends coalesce) that receives after
	// any change in scope that happens after Watch returns, for as long as ctx
	// lives; it is closed when ctx ends or the store closes. Watches survive
	// disconnects; after a session expiry (or anything else that may have lost
	// events) the channel receives, so the receiver re-reads. The store never
	// polls on the caller's behalf at steady state.
	Watch(ctx context.Context, scope WatchScope) (<-chan struct{}, error)
}
