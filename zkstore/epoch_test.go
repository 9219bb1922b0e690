package zkstore

import (
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
)

// TestEpochFloor: the floor is the largest zxid that a deletion of the item,
// of taskItem or of the runtime moves (see epochFloor), and 0 without a
// runtime, which BuildItems then creates before reading again.
func TestEpochFloor(t *testing.T) {
	rt := func(m, p int64) *zk.Stat { return &zk.Stat{Czxid: min(m, p), Mzxid: m, Pzxid: p} }
	items := func(p int64) *zk.Stat { return &zk.Stat{Czxid: 1, Mzxid: 2, Pzxid: p} }
	for _, tc := range []struct {
		name      string
		rt, items *zk.Stat
		want      int64
	}{
		{"no runtime", nil, nil, 0},
		{"no runtime, stale taskItem stat", nil, items(9), 0},
		{"runtime without taskItem: its last items write", rt(40, 30), nil, 40},
		{"runtime without taskItem: taskItem deleted after the last write", rt(40, 55), nil, 55},
		{"an item deleted last", rt(40, 30), items(70), 70},
		{"the last items write last", rt(90, 30), items(70), 90},
		{"taskItem created again last", rt(40, 80), items(80), 80},
		{"leader epochs in the high bits", rt(0x3_0000_0001, 0x2_0000_0010), items(0x2_ffff_fff0), 0x3_0000_0001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, epochFloor(tc.rt, tc.items))
		})
	}
}
