package strategy

import "github.com/tbschedule/tbschedule-go/schedule"

// Admits reports whether the strategy's IPList admits a factory on the
// machine (ip, hostName), by the rule factories apply: "127.0.0.1" or
// "localhost" admits every factory; otherwise an entry must equal the IP or
// the host name, case-insensitively. Operators' tools use it to find
// strategies no live factory can run.
func Admits(s schedule.Strategy, ip, hostName string) bool {
	return admits(s.IPList, ip, hostName)
}
