package ctl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// knownFields are the field names of a stored task type and strategy,
// taken from what the library writes (with every optional field set, so
// none is left out).
var knownFields = map[string][]string{
	"taskType": jsonKeys(func() any {
		t := schedule.DefaultTaskType("x")
		t.PermitRunStartTime, t.PermitRunEndTime, t.TimeZone = "0 * * * * ?", "0 * * * * ?", "UTC"
		t.RunNowAt, t.RunNowBy = time.Unix(1, 0), "x"
		return t
	}()),
	"strategy": jsonKeys(schedule.DefaultStrategy("x")),
}

func jsonKeys(v any) []string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the library's own records always encode
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// unknownField is a key that no field of its record has.
type unknownField struct {
	key     string
	at      pos
	nearest string // "" when no known name is close
	// miscased: the key differs from a known name only in case, so it is a
	// typo for sure (no version adds a field differing only in case).
	miscased bool
}

func (u unknownField) String() string {
	s := fmt.Sprintf("unknown field %q", u.key)
	if u.at.line > 0 {
		s = u.at.String() + ": " + s
	}
	if u.nearest != "" {
		s += fmt.Sprintf(" (did you mean %s?)", u.nearest)
	}
	return s
}

// unknownFields returns the keys (in the given order) that are not among
// known, each with the nearest known name.
func unknownFields(keys []string, at func(string) pos, known []string) []unknownField {
	set := make(map[string]bool, len(known))
	for _, k := range known {
		set[k] = true
	}
	var out []unknownField
	for _, k := range keys {
		if set[k] {
			continue
		}
		near, miscased := nearestName(k, known)
		out = append(out, unknownField{key: k, at: at(k), nearest: near, miscased: miscased})
	}
	return out
}

// nearestName returns the known name a mistyped key most likely meant: one
// equal to it but for case, else the closest by edit distance (ignoring
// case) if it is close enough or one is a prefix of the other, else "".
func nearestName(key string, known []string) (string, bool) {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k, true
		}
	}
	best, bestD := "", -1
	lk := strings.ToLower(key)
	for _, k := range known {
		lo := strings.ToLower(k)
		d := editDistance(lk, lo)
		if len(lk) >= 4 && (strings.HasPrefix(lo, lk) || strings.HasPrefix(lk, lo)) {
			d = min(d, 1) // a shortened or lengthened name ("dealBean")
		}
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(key)/3) {
		return best, false
	}
	return "", false
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// storedUnknownFields returns the unknown fields of a stored record's JSON
// (kind "taskType" or "strategy"); nil for data that is not an object.
func storedUnknownFields(kind string, data []byte) []unknownField {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return unknownFields(keys, func(string) pos { return pos{} }, knownFields[kind])
}
