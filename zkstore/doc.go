// Package zkstore implements storekit.Store on ZooKeeper with
// github.com/go-zookeeper/zk: the tree of tbschedule-go, the JSON codecs of
// its nodes, digest ACLs, sessions (a disconnect is not an expiry), watches,
// and cluster time. It passes the conformance suite of
// schedule/storekit/storetest on a standalone server and on a 3-node
// ensemble.
//
// # The tree
//
// TBSchedule's shape and names are kept, so an operator who knows TBSchedule
// finds their way; every path is built in paths.go from names validated with
// schedule.ValidateName. P persistent, E ephemeral, S sequential (the 10-digit
// suffix ZooKeeper appends).
//
//	/<root>                                      P    {"schema":1,"software":"tbschedule-go"}
//	  baseTaskType                               P    -
//	    <base>                                   P    task type (TBSchedule's field names; ours add
//	                                                   "timeZone", and "runNowAt","runNowBy": the last
//	                                                   run-now request, which every manager sees through
//	                                                   the configuration watch it already has)
//	      <runtime>                              P    -       ("base" or "base$ownSign"; rewritten, still
//	                                                   empty, by every item write: the items stamp)
//	        server                               P    -
//	          <runtime>$<ip>$<uuid32>$<seq>      E+S  server record, rewritten at each heartbeat
//	                                                   (with "takeoverDelay", its lock delay in ms)
//	        taskItem                             P    mark: {"leader","builtAt","defs"}
//	          <item>                             P    {"id","cur_server","req_server","epoch",
//	                                                   "sts","parameter","deal_desc"}
//	        notes                                P    -       (created with the first note)
//	          leader | <serverID>                P    -       a note box (see Notes)
//	            n<seq>                           P+S  {"by","items"}: items that changed for the box
//	  strategy                                   P    -
//	    <name>                                   P    strategy (TBSchedule's field names)
//	      <factoryID>                            E    {"strategyName","uuid","requestNum","currentNum","message",
//	                                                   "takeoverDelay"} (the factory's lock delay, ms)
//	  factory                                    P    -
//	    <ip>$<hostName>$<uuid32>$<seq>           E+S  factory record
//	  factoryState                               P    -
//	    <ip>$<hostName>                          P    {"stopped","by","at","reason"} (survives sessions)
//	  systime<seq>                               E+S  throw-away, for cluster time (deleted at once)
//
// Differences from TBSchedule (see also docs/DESIGN.md):
//   - Server nodes are EPHEMERAL_SEQUENTIAL (TBSchedule: persistent), and
//     their record is written in the create itself: there is no moment when
//     a server node exists without its data.
//   - Each task item is one node whose data holds owner, requested owner,
//     status, parameter, description and the epoch (TBSchedule: five child
//     nodes per item). An ownership change is one version-checked setData,
//     and reading all items is one read per item.
//   - The root holds {"schema":1,...}; Open refuses a root written by
//     TBSchedule (Java) ("tbschedule-x.y.z"), by a newer schema, or holding
//     any other data, with schedule.ErrSchema. An existing root with no data
//     is adopted. Only Open creates the root (and never with
//     Config.ReadOnly): a root deleted while a store is open (tbsctl
//     delete-root) is not brought back by the store's later writes, which
//     fail with schedule.ErrNotFound.
//   - Items are never deleted by a rebuild: an item no longer defined stays
//     with sts "REMOVED", so that its epoch continues when it comes back.
//   - Epochs never restart, also when a task type or an ownSign runtime is
//     deleted and created again: see Epochs below.
//   - Times are RFC 3339 with milliseconds, in UTC.
//
// testdata/tree.golden pins the tree (paths, kinds, ACLs, data shapes); run
// go test -run TestTreeGolden ./zkstore -args -update after a deliberate change.
//
// # Writes
//
// Every ownership change is one atomic ZooKeeper request. UpdateItem is a
// multi of a check that the guard's server node exists (a check of version
// -1: the write only happens while the guard's session is alive), a check
// of the same kind on the server node of the grantee (the new owner, or
// the newly requested owner, when it is not the guard: an item is never
// granted to a server that has left since the writer read the servers),
// the item's setData at the expected version and its notes (see Notes).
// UpdateItems writes many such changes in multis of up to about 1 MiB, each
// all or nothing, with one check per distinct grantee of the multi
// (counted against the size limit once): an item found stale is left out
// of its multi (reported as a conflict), so are the updates that name a
// grantee found gone (reported as conflicts too; the later multis of the
// call leave them out without asking, server ids are never reused), and
// the multi runs again without them. BuildItems is one multi: the guard
// check, the mark's setData at the expected version (or its create), and a
// create or setData per changed item. A build too large for one request
// (ZooKeeper's limit is about 1 MiB, some 4,000 items) is written in chunks,
// each guarded and checking the mark's version, the mark last: the mark is
// the commit point, and a build cut short between chunks is completed by the
// next one. Every multi that writes items or the mark (and SetItemDesc's)
// ends with an unconditional setData of the runtime node's empty data: its
// last-modified zxid is the items stamp (ItemsStamp, one exists), which lets
// a manager skip reading every item when nothing changed. DeleteRuntime is one multi that deletes the items, the mark, the
// server directory and the runtime; it refuses a runtime with servers, and a
// server that registers meanwhile makes the delete of the (then non-empty)
// server directory, so the whole multi, fail.
//
// A write whose connection is lost has an unknown outcome: the store reads
// the node back before trying again (with jittered exponential backoff,
// bounded in attempts and by the caller's context). The creation of an
// ephemeral node is resolved the same way: the node is looked up by the
// unique uuid in its name and is ours if its ephemeral owner is our session;
// a create that ran on a newer session than the caller's (queued while
// disconnected, sent after an expiry) is deleted and reported as
// schedule.ErrSessionLost.
//
// # Notes
//
// An item write tells the servers it concerns in the same multi, so that no
// server watches or reads every item. Each runtime has a note box per server
// (<runtime>/notes/<serverID>) and one for its leader (<runtime>/notes/leader;
// server ids always hold a "$", so no server is called "leader"). UpdateItem
// and UpdateItems add, per multi, one persistent-sequential note
// {"by":<guard>,"items":[...]} to the box of each server whose items changed:
// the item's old owner when its owner or request changes (it lost the item, or
// is asked to hand it over), the new owner when the owner changes; and one to
// the leader box for every write (the leader skips the notes it wrote itself).
// A server watches its own box's children (WatchNotes: one watch), reads the
// notes (Notes), then only the items they name (ItemsByID), and deletes what
// it consumed (DeleteNotes, one multi per chunk). The mark (WatchMark: one
// data watch) tells every server of a rebuild; the leader's node, or the
// server directory for the leader, of what changes the leadership and the
// balance. A server thus holds a constant number of watches whatever the
// item and server counts, and a rebalance that moves k items costs each affected server
// reads of its own changed items, and the others nothing.
//
// Boxes are created before the first note that needs them (a store remembers
// the boxes it created; a note whose box vanished meanwhile makes the multi
// fail with "no node", and the store creates the box and writes again). The
// leader deletes, at its resyncs, the boxes of servers that are no longer
// live and registered before the newest live one (NoteBoxes, DeleteNotes
// with no names); deleting notes is guarded by the deleter's server node, so
// a deposed leader cannot consume its successor's notes. Notes never decide
// anything: ownership is the item's data, version-checked and epoch-fenced
// as before; a lost or late note only delays a server's noticing, and every
// owner re-reads its own items after a rebuild and at every tenth resync.
// The layout is additive: a tree written before notes
// existed simply gains the notes directory with the first write; nothing to
// migrate. A leader of an earlier release writes no notes, so upgrade a
// runtime's servers together (stop them all, start the new release): a new
// server under an old leader would learn of its grants late.
//
// # Epochs
//
// An item's epoch grows by one with every grant (a setData of its own), and
// BuildItems creates an item with the epoch floor it read before the
// create: the largest of the runtime node's mzxid and pzxid and taskItem's
// pzxid. Every epoch handed out is therefore below the zxid of the write
// that handed it out, and below the zxid of whatever deleted the item (a
// delete of the item moves taskItem's pzxid, a delete of taskItem the
// runtime's pzxid, a runtime created again has a newer czxid), which the
// floor of the item's next life is at least: zxids are never reused. (A
// guarded build reads after its guard's registration, an unguarded one after
// creating the runtime if missing, so neither reads from a server that has
// not yet seen a delete.) Epochs
// are thus large numbers (a zxid is the leader epoch << 32 | a counter).
// Trees written before this rule keep their items' epochs, which continue
// by one; the first re-creation of such an item starts above every zxid.
// Epochs are not carried over to a different ensemble (a new ZooKeeper
// whose zxids start again) by copying nodes; a data store fencing by epoch
// must then be reset too.
//
// # Opening
//
// Open fails fast and says why. When every address refuses the connection
// (nothing listens there), it fails after one round of attempts with each
// address's error ("dial tcp 127.0.0.1:2182: connect: connection refused"),
// not after ConnectTimeout; a server that accepts but gives no session is
// waited for until ConnectTimeout. ZooKeeper accepts any digest at
// authentication and refuses only writes, so with Config.Auth Open creates
// and deletes a throw-away ephemeral node under the root: a wrong password,
// or a tree of another user, fails Open with schedule.ErrPermission naming
// the user (never the password). Later refusals by the ACL say whose
// credentials were refused too. Config.ReadOnly opens for reading only:
// nothing is created, and a missing root fails with schedule.ErrNotFound
// naming it.
//
// # Sessions
//
// The store holds one ZooKeeper session at a time and reports it as a
// storekit.Session: Connected; Suspect while disconnected (go-zookeeper keeps
// reconnecting with the same session, which survives if it is back before
// the timeout); Expired for good when the server has expired it (the store
// then continues with a new session, a new Session value); Closed after
// Close. A disconnect never opens a new session. Besides, a liveness probe
// (exists on the root every sixth of the session timeout) marks the session
// Suspect as soon as nothing has been heard from the server for a third of
// the timeout, although the connection looks up: go-zookeeper notices a
// silent server only after two thirds of it, too late for an owner that
// must stop acting on its grants before its session can expire.
//
// Session.Alive is the same rule judged at the call, not by the probe loop:
// the session has not ended and a request sent at most a third of the
// timeout ago was answered (the lease runs from the send time of an
// answered probe, and from the dial for the connect request: an answer read
// late after a freeze does not extend it). A process resumed after a freeze
// longer than that sees false at once, before the probe loop has run.
//
// # Watches
//
// Watch arms ZooKeeper watches (children of a directory, data of its
// children) that go-zookeeper's event callback dispatches by path. A
// manager holds, per runtime, a servers watch for its own server
// (WatchServers with Server: while another server leads, a children watch
// on the leader's node alone, which fires only when that node is deleted,
// not at its heartbeats nor at other servers' joins; while it leads, the
// servers directory's children watch), the mark's data watch (WatchMark)
// and its note box's children watch (WatchNotes; the leader also the
// leader box's), besides the config watches its store shares: a constant
// number whatever the items and the servers. WatchItems (a data watch on
// every item) stays for tools and for the managers' previous read path. A
// factory holds its own node's and its machine state's watches
// (WatchFactories with Factory) and, per strategy, the first
// registration's and its own registration's (WatchStrategyRuntime: two,
// whatever the number of factories) while it does not lead a Schedule
// strategy; the strategy's leader, and every factory of a Bean strategy,
// a data watch on every registration (WatchStrategyRuntimes). No
// goroutine per watch and no polling. A watch that fires is re-armed (only
// that one) before the channels are signalled; every caller of one scope
// shares its watches; after a session expiry every scope is re-armed on the
// new session and signalled. A Watch arms a new scope itself, beside the
// re-arming of what fired (which takes a round trip or more under load),
// and returns once it is armed; a watch another caller is setting is waited
// for, not set twice, and counts as armed from before its request, so that
// its notification is never dropped however early it comes. A Watch whose
// context ends first returns the context's error and subscribes nothing. A
// Watch of a scope already armed (another caller watches it) sends nothing.
//
// The data a data watch reads when it is armed is kept for strategy
// registrations, strategies and task types, until the watch fires (the
// notification drops it before any later answer is handed out; a session
// event drops everything): StrategyRuntimes, StrategyRuntime, Strategies,
// TaskTypes, Strategy and TaskType then list the directory (or read nothing) and get
// only the nodes not kept. Factory records, written once, are kept by
// name: Factories gets only the factories it has not seen.
//
// # Cluster time
//
// Now returns ZooKeeper's time: a throw-away ephemeral sequential node's
// ctime (the leader's clock), offset by the local time at the middle of the
// create's round trip, carried forward on the local monotonic clock. It is
// re-calibrated every Config.CalibrationInterval (a sample whose round trip
// exceeds 500 ms does not replace a valid calibration: its error could be
// half of it), and an offset above Config.ClockDriftWarning is logged. A client without write access cannot
// calibrate and uses its local clock (with a warning).
//
// # Metrics
//
// WithMetrics at Open hands the store a Metrics receiver: every request sent
// to ZooKeeper by kind (and whether it failed: connection loss, timeout; not
// an expected answer such as "no node"), and every session state change
// (connected, suspect, expired, closed). Without it nothing is recorded.
// Pass the same receiver's store part as to the factory (strategy.WithMetrics)
// to see every layer in one place; module tbsprom exports both to
// Prometheus.
//
// # Guarantees and non-guarantees
//
// Guaranteed: single atomic version-checked writes for ownership; fencing by
// the guard's ephemeral node; epochs that never go back, also across
// deletion and re-creation (see Epochs); errors that wrap the
// schedule sentinels (and the zk error) with the operation and the path;
// undecodable data reported as schedule.ErrCorrupt naming the node, never
// overwritten by a read.
//
// Not guaranteed: reads are ZooKeeper reads, served by the client's server,
// possibly behind the leader (but never behind what this client has seen);
// version checks catch any staleness at write time. A call abandoned through
// its context may still take effect. Items is a snapshot of N+2 reads, not
// one atomic read. The session state is the client's view: Suspect means
// "may have expired", and an expiry is learnt only on reconnecting.
//
// # Thread safety and lifecycle
//
// A Store is safe for concurrent use. Every goroutine it starts is tracked
// and has exited when Close returns. WithMetrics (see Metrics) receives every
// request sent, by kind, for measuring the load an operation puts on
// ZooKeeper.
//
// # Example
//
//	store, err := zkstore.Open(ctx, zkstore.Config{
//		Servers: []string{"zk1:2181", "zk2:2181", "zk3:2181"},
//		Root:    "/orders-app",
//		Auth:    zkstore.Digest("orders", secret),
//	}, zkstore.WithLogger(logger))
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	sess, err := store.Session(ctx)
//	...
//	srv, err := store.RegisterServer(ctx, sess, schedule.Server{TaskType: "orders", IP: ip, ...})
package zkstore
