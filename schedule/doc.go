// Package schedule holds the domain of tbschedule-go: task types, strategies,
// task items, server and factory records, their validation, and the Store
// contract that every coordination backend implements.
//
// The thread-group Manager (registration, heartbeat, leader election, item
// building, assignment, handover, permit windows) will live here too; it
// drives a processor and talks to the coordination service only through Store.
//
// Implementations of Store: package zkstore (ZooKeeper, for production) and
// package schedule/memstore (in memory, for tests, examples and simulation).
// Package schedule/storetest is the conformance suite both pass.
//
// This package never imports a ZooKeeper client.
package schedule
