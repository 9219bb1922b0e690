package zkreq

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStats(t *testing.T) {
	a := Stats{Get: 101, Children: 1, Exists: 2, Create: 3, Set: 4, Delete: 5, Multi: 6, Sync: 7, Watch: 8, Probe: 9, Auth: 10}
	b := Stats{Get: 100, Exists: 2, Multi: 1, Probe: 9}
	assert.Equal(t, uint64(156), a.Total())
	assert.Equal(t, Stats{Get: 1, Children: 1, Create: 3, Set: 4, Delete: 5, Multi: 5, Sync: 7, Watch: 8, Auth: 10}, a.Sub(b))
	assert.Equal(t, "get=1 children=1 create=3 set=4 delete=5 multi=5 sync=7 watch=8 auth=10", a.Sub(b).String())
	assert.Equal(t, "none", Stats{}.String())
	assert.Equal(t, Stats{}, a.Sub(a))
}
