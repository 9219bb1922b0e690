// Command tbsctl inspects and edits the ZooKeeper tree of tbschedule-go.
//
// Not yet implemented: see the project's issues.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "tbsctl: not yet implemented")
	os.Exit(2)
}
