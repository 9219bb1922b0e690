//go:build !linux

package chaos

import "time"

// Mono falls back to the wall clock outside Linux: shared by every process
// of the host, but a step of the clock spoils comparisons. The chaos suite
// does not run there (Supported is false).
func Mono() int64 { return time.Now().UnixNano() }

// Supported reports whether the chaos suite can run here.
const Supported = false
