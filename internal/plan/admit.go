package plan

import "strings"

// anyHost is the IPList entry that admits every factory (schedule.AnyHost).
const anyHost = "127.0.0.1"

// Admits reports whether a strategy's IPList admits a factory on the
// machine (ip, hostName): an entry "127.0.0.1" or "localhost" admits every
// factory; otherwise an entry must equal the IP or the host name,
// case-insensitively. Factories apply it before they register under a
// strategy; tbsctl doctor uses it to find strategies no live factory can
// run.
func Admits(ipList []string, ip, hostName string) bool {
	for _, e := range ipList {
		e = strings.TrimSpace(e)
		switch {
		case e == anyHost, strings.EqualFold(e, "localhost"):
			return true
		case strings.EqualFold(e, ip), strings.EqualFold(e, hostName):
			return true
		}
	}
	return false
}
