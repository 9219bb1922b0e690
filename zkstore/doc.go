// Package zkstore implements schedule.Store on ZooKeeper with
// github.com/go-zookeeper/zk.
//
// It owns the ZooKeeper tree of tbschedule-go (every path is built in
// paths.go), the JSON codecs of every node, digest ACLs, watches, session
// handling (a disconnect is not an expiry) and cluster time.
package zkstore
