// Command quickstart shows tbschedule-go at work on the in-memory store.
//
// Not yet implemented: it lands with the quickstart issue.
package main

import "fmt"

func main() {
	fmt.Println("tbschedule-go quickstart: not yet — the quickstart lands with the factory and CLI issues.")
}
