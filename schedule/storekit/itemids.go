package storekit

import (
	"slices"
	"strings"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// CompareItemIDs orders item ids naturally: ids made only of ASCII digits
// come first, in numeric order ("2" < "10", of any length); equal numbers
// ("01", "1") are ordered as strings; every other id follows, in byte order.
// It returns -1, 0 or +1.
func CompareItemIDs(a, b schedule.ItemID) int {
	an, bn := asciiDigits(string(a)), asciiDigits(string(b))
	switch {
	case an && bn:
		x, y := strings.TrimLeft(string(a), "0"), strings.TrimLeft(string(b), "0")
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(string(a), string(b))
}

// SortItemIDs sorts ids in place in CompareItemIDs order.
func SortItemIDs(ids []schedule.ItemID) {
	slices.SortFunc(ids, CompareItemIDs)
}

// asciiDigits reports whether s is a non-empty string of ASCII digits.
func asciiDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
