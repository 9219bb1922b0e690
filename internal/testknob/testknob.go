// Package testknob holds switches that only the project's own fault tests
// turn, to break a guarantee on purpose and show that the checks catch it.
// Being internal, no user of the library can reach them; they are
// process-wide, so a test turns one only in a process of its own (the chaos
// suite's worker).
package testknob

import "sync/atomic"

// NoSelfFencing switches the managers' self-fencing off: a suspect session
// neither stops fetching nor cancels deals. For the chaos suite's
// deliberately broken build only.
var NoSelfFencing atomic.Bool
