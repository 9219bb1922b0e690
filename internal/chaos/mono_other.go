//go:build !linux

package chaos

import "time"

var start = time.Now()

// Mono is not shared between processes outside Linux; the suite does not
// run there (Supported is false).
func Mono() int64 { return int64(time.Since(start)) }

// Supported reports whether the chaos suite can run here.
const Supported = false
