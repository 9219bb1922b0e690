// Package storetest is the conformance suite of the storekit.Store contract.
// Every Store implementation runs it through a Harness: memstore in every
// go test, zkstore against real ZooKeeper servers (standalone and a 3-node
// ensemble) started by internal/testinfra/zktest.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Name: "memstore", NewClient: ..., ...})
//	}
//
// The suite is the executable form of the contract: where store.go leaves a
// choice open, the suite pins one, and every Store makes the same one:
//
//   - Reads of what does not exist: Servers, Runtimes, Items,
//     StrategyRuntimes and StrategyRuntimeIDs return empty results and no
//     error; TaskType, Strategy, StrategyRuntime,
//     Update*, Delete*, UpdateItem, SetItemDesc and DeleteRuntime fail with
//     ErrNotFound; Unregister* of a missing node is not an error.
//   - Names that cannot be path elements (see schedule.ValidateName) fail
//     with ErrInvalid on reads and writes, before any request.
//   - New nodes have Version 0, and every write adds one; WriteRaw is one
//     ordinary write. Runtimes are sorted by name.
//   - RegisterServer needs the base task type (ErrNotFound). Server ids are
//     "<runtime>$<ip>$<32 upper-case hex>$<10 digits>", factory ids
//     "<ip>$<hostName>$<processUUID>$<10 digits>" with a generated 32-digit
//     upper-case hex processUUID when none is given. Every other field of a
//     record reads back as written, times at millisecond precision in UTC.
//   - BuildItems leaves items whose definition did not change untouched
//     (same Version); invalid definitions are ErrInvalid with nothing
//     written; a stale mark, a gone guard or a guard of another runtime are
//     ErrConflict. An empty guard skips the guard check in UpdateItem and
//     UpdateStrategyRuntimes.
//   - Epochs: UpdateItem grows an item's epoch by one per grant; every grant
//     has a larger epoch than every earlier grant of that item, also after
//     DeleteTaskType, DeleteRuntime or removal from the item list and
//     re-creation. The epoch a new item starts at is the store's choice.
//   - UpdateStrategyRuntimes with a registration that is gone fails with
//     ErrNotFound, nothing written.
//   - A corrupt node fails reads with ErrCorrupt naming the node (TaskTypes
//     and Strategies included, and BuildItems over a corrupt item); it is
//     replaced only by an explicit write: a version-checked update with its
//     current version, or SetFactoryState.
//   - After Close, every call fails with ErrClosed, the session is
//     SessionClosed with Err ErrClosed, and watch channels are closed.
//
// What the suite does not assert, because ZooKeeper may differ: that a watch
// does not fire (heartbeats, item descriptions), whether SetItemDesc changes
// the item's Version, and the value returned with ErrCorrupt.
//
// ZooKeeper gives each client a consistent, ordered view, but a client may
// lag behind another client's write for a moment (its server is a follower
// that has not applied it yet). The suite therefore polls, with a deadline
// of Harness.Wait, wherever one client reads what another just wrote, and
// never sleeps for a fixed time.
package storetest
