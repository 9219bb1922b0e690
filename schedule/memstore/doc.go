// Package memstore is an in-memory storekit.Store with ZooKeeper's
// semantics, for unit tests, examples and simulation. It is not a
// coordination service: every client lives in one process, nothing is
// persisted, and nothing survives the process. Production code uses package
// zkstore. memstore passes the same conformance suite as zkstore
// (package schedule/storekit/storetest), so code tested on it behaves the
// same on ZooKeeper.
//
// # Model
//
// A Server is the "ZooKeeper server": it holds a tree of nodes, the sessions
// and the watches. Server.Connect opens a Client, which implements
// storekit.Store: one client, one session at a time.
//
//	srv := memstore.New(memstore.Config{})     // settings: Auth; options: WithClock
//	a := srv.Connect(memstore.ClientConfig{})  // settings: SessionTimeout, Auth
//	b := srv.Connect(memstore.ClientConfig{})
//	defer a.Close()
//
// As everywhere in the project, settings are a config struct whose zero
// fields mean their defaults, and options carry only dependencies (the
// clock). New and Connect do not fail: a config that is not valid (a
// negative SessionTimeout, an Auth with an empty user or password) gives
// clients whose every operation, Session and Now included, fails with an
// error that wraps schedule.ErrInvalid and names the field.
//
// What is copied from ZooKeeper:
//
//   - Ephemeral nodes (server, factory and strategy-runtime registrations)
//     belong to the session that created them and vanish when it expires or
//     its client closes. A registration under a Session that is no longer the
//     client's live session fails with schedule.ErrSessionLost.
//   - Sequential nodes get a 10-digit suffix from a counter of their parent
//     (its child version): increasing, never reused, shared by all children.
//   - Node versions start at 0 and grow by one per write; a write with a
//     stale version fails with schedule.ErrConflict; multi-node writes
//     (BuildItems, guarded UpdateItem, UpdateStrategyRuntimes, the deletes of
//     subtrees) are all-or-nothing.
//   - Records are stored as JSON bytes through the schedule types' own
//     codecs, so data planted with Server.WriteRaw is read as ZooKeeper's
//     would be (undecodable data is schedule.ErrCorrupt naming the path).
//   - With Config.Auth, every node is world-readable and writable only by
//     clients holding the same digest (ClientConfig.Auth), like ZooKeeper's
//     digest ACL (zkstore's Config.Auth).
//   - Cluster time (Client.Now) and node times come from the server's Clock.
//
// # Fault hooks
//
//   - Server.ExpireSession(c) expires c's session at the server: its
//     ephemerals vanish at once (watches fire), the Session value is expired
//     for good (Done closed, Err schedule.ErrSessionLost), every watch of c
//     fires, and c gets a new session, as go-zookeeper reconnects.
//   - Client.Disconnect(d) cuts a client off for d: its session is
//     SessionSuspect and its operations fail with ErrConnectionLoss (not
//     ErrSessionLost). A cut shorter than the session timeout keeps the
//     session; a longer one expires it when the timeout has elapsed on the
//     server's clock (a fake clock drives it), and the client gets a new
//     session when the cut ends. Client.Reconnect ends a cut early. The
//     session's lease (Session.Alive) lapses at the Disconnect call itself,
//     before any goroutine watching the state has run, and holds again when
//     the session is connected.
//   - Client.FailNext(n, err) fails the client's next n operations.
//   - Server.ReadRaw and Server.WriteRaw read and write nodes directly.
//   - Server.Stats and Client.Stats count operations.
//
// # Layout
//
// The tree follows zkstore's ZooKeeper layout (zkstore/doc.go), without a
// root prefix:
//
//	/baseTaskType/<base>                                   task type
//	/baseTaskType/<base>/<runtime>/server/<serverID>       server (ephemeral, sequential)
//	/baseTaskType/<base>/<runtime>/taskItem                items mark
//	/baseTaskType/<base>/<runtime>/taskItem/<item>         item (deal_desc in a child)
//	/strategy/<name>                                       strategy
//	/strategy/<name>/<factoryID>                           strategy runtime (ephemeral)
//	/factory/<factoryID>                                   factory (ephemeral, sequential)
//	/factoryState/<ip>$<hostName>                          factory state
//
// # Choices where the contract leaves room
//
//   - Runtimes, Servers, StrategyRuntimes, StrategyRuntimeIDs and Items of
//     something that does not exist are empty, with no error; DeleteRuntime of a runtime that
//     does not exist is schedule.ErrNotFound.
//   - RegisterServer needs the base task type (schedule.ErrNotFound).
//   - BuildItems and UpdateItem with an empty guard skip the guard check.
//     UpdateItem and UpdateItems check, guard or not, that the server a
//     write newly names as owner or requested owner exists (as zkstore's
//     multi does); an update naming a gone one fails alone with
//     schedule.ErrConflict, the rest of the call is written.
//     BuildItems with mark.Version = AnyVersion creates or overwrites the
//     mark; any other version when no mark exists is schedule.ErrConflict.
//     Items whose definition did not change are not rewritten (their
//     version stays).
//   - UpdateItem computes the epoch from the stored item. BuildItems starts
//     new items at the server's write counter (every create, set and delete
//     adds one; never reused, like ZooKeeper's zxid), so epochs never
//     restart when a task type or runtime is deleted and created again.
//   - SetItemDesc does not change the item's version.
//   - UpdateStrategyRuntimes fails with schedule.ErrNotFound if one of the
//     registrations is gone.
//   - On schedule.ErrCorrupt, TaskType and Strategy still return the node's
//     version, so that an operator can replace it with a checked update.
//   - Closing a client twice is a no-op.
//
// # Concurrency
//
// Everything is safe for concurrent use. One mutex per Server guards the
// tree, so operations are linearizable. No goroutine runs per client or per
// watch: a watch is closed from a context.AfterFunc, and only a client that
// is cut off runs one goroutine, which ends with the cut or at Close.
package memstore
