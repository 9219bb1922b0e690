// Package doccheck tests the project's documentation against the code: the
// README's "Run it on ZooKeeper" walk-through runs as written, on a real
// ZooKeeper started by scripts/zookeeper, and no document or code comment
// points at a file outside the repository. It has no code of its own.
package doccheck
