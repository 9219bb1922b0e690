// Package storekit is the kit of a Store implementer: the contract between
// tbschedule-go's scheduling logic and a coordination service, and what
// only the service's clients deal in. Users of the scheduler read package
// schedule; they meet this package only to name the Store they hand to
// strategy.NewFactory and strategy.NewAdmin.
//
// # The Store contract
//
// Store is everything the scheduling logic needs of the coordination
// service: sessions, ephemeral-sequential registrations, versioned config,
// items whose ownership changes in one guarded compare-and-set with a
// growing epoch, watches, and cluster time. It is the union of role
// interfaces (Sessions, ClusterClock, ConfigStore, ServerStore, ItemStore,
// FactoryStore, Watcher); code that needs one role takes that interface,
// not the whole Store. The records a Store reads and writes that users see
// too (schedule.TaskType, schedule.Server, schedule.Item and the others)
// and the errors it wraps (schedule.ErrNotFound and the others) are in
// package schedule; the ones only stores and the manager deal in are here:
// WatchScope, Note, ItemUpdate and ItemUpdateResult, LeaderBox, AnyVersion.
// Items are kept and listed in CompareItemIDs order.
//
// Package zkstore implements Store on ZooKeeper; package schedule/memstore
// in memory (tests, examples, simulation). Package
// schedule/storekit/storetest is the conformance suite both pass: a new
// implementation runs it through a storetest.Harness. This package never
// imports a ZooKeeper client.
package storekit
