// Package plan holds the pure decisions of a task type's leader and of each
// item owner: the balanced assignment (Assign), the leader's round (Lead:
// items × live servers × lock-delay holds → grants and requests; Settle:
// whether the first grants of a cluster start wait for servers still
// joining) and the owner's round (Own: my items × requests × batch state →
// releases and handovers); and, for the factories, which strategies admit a factory
// (Admits) and the strategy leader's balanced distribution of thread groups
// over factories (Distribute).
//
// Nothing here reads a clock or calls a store: each function takes a
// snapshot and "now" and returns a plan. manager.Manager's session loop
// reads, calls them, applies the writes and logs; internal/testinfra/sim calls the
// very same functions, so the simulation predicts what the managers do.
//
// The functions are generic over the id types (I for items, S for servers,
// F for factories: schedule.ItemID, schedule.ServerID and
// schedule.FactoryID in production) so that this package does not import
// schedule, which imports it.
package plan

// NoServer is the request by which a leader asks the owner of an item to
// release it to nobody (schedule.NoServer).
const NoServer = "-"

// Item is what the planners need of a task item.
type Item[I, S ~string] struct {
	ID I
	// Cur and Req are the owner and the requested next owner ("" for none).
	Cur, Req S
	// Removed marks an item whose definition was removed (kept with its
	// epoch, never owned again until added back).
	Removed bool
}

// Write is a change of one item: Items[At] is to get owner Cur and request
// Req, written against the version the snapshot read.
type Write[S ~string] struct {
	At       int
	Cur, Req S
}
