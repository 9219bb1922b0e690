package storekit

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestCompareItemIDs(t *testing.T) {
	tests := []struct {
		name string
		a, b schedule.ItemID
		want int
	}{
		{"equal", "3", "3", 0},
		{"numeric not lexicographic", "2", "10", -1},
		{"numeric reversed", "10", "2", 1},
		{"leading zeros same number", "01", "1", -1},
		{"leading zeros numeric", "009", "10", -1},
		{"huge numbers", "123456789012345678901234567890", "99999999999999999999", 1},
		{"numbers before words", "99", "a", -1},
		{"words after numbers", "a", "0", 1},
		{"words lexicographic", "b", "a10", 1},
		{"mixed digits are words", "1a", "2", 1},
		{"empty is a word", "", "0", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, CompareItemIDs(tt.a, tt.b))
			assert.Equal(t, -tt.want, CompareItemIDs(tt.b, tt.a))
		})
	}
}

func TestSortItemIDs(t *testing.T) {
	ids := []schedule.ItemID{"b", "10", "2", "a", "0", "01", "1", "a10", "9"}
	SortItemIDs(ids)
	assert.Equal(t, []schedule.ItemID{"0", "01", "1", "2", "9", "10", "a", "a10", "b"}, ids)
}
