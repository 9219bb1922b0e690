// Package readpath holds the benchmark-only switch back to the managers'
// previous way of following a runtime's items: a data watch on every item
// and a read of every item whenever the items stamp moved. It exists so
// that a benchmark can measure the previous and the current way in one run;
// nothing else sets it.
//
// manager.NewManager reads the switch once: managers built while it is on
// keep the previous way for their whole life, whatever happens to the
// switch later.
package readpath

import "sync/atomic"

var old atomic.Bool

// UseOld turns the previous way on (true) or off (false) for the managers
// built from now on.
func UseOld(on bool) { old.Store(on) }

// Old reports whether managers built now take the previous way.
func Old() bool { return old.Load() }
