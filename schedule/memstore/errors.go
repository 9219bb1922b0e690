package memstore

import "errors"

// ErrConnectionLoss is the error of every operation of a client that is cut
// off from the server (see Client.Disconnect), and the default error of
// Client.FailNext. Like ZooKeeper's connection loss, it says nothing about the
// session: the session may still be alive, and a write that failed with it
// did not happen. It is not schedule.ErrSessionLost.
var ErrConnectionLoss = errors.New("memstore: connection loss")
