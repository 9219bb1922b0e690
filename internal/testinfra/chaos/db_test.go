//go:build unix

package chaos

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDB: records appear over time; claims and commits under an epoch older
// than the item's are refused; done records are not handed out again.
func TestDB(t *testing.T) {
	db, err := OpenDB(t.TempDir(), 1000, 100)
	require.NoError(t, err)
	avail := func(item string, at int64) int64 {
		n, err := db.Available(item, at)
		require.NoError(t, err)
		return n
	}
	assert.Equal(t, int64(0), avail("a", 999))
	assert.Equal(t, int64(1), avail("a", 1000))
	assert.Equal(t, int64(3), avail("a", 1250))
	require.NoError(t, db.Born("late", 5000))
	require.NoError(t, db.Born("late", 9000), "a second birth changes nothing")
	assert.Equal(t, int64(0), avail("late", 4999))
	assert.Equal(t, int64(2), avail("late", 5100))

	recs, stale, err := db.Claim("a", 2, 1250, 10)
	require.NoError(t, err)
	assert.False(t, stale)
	assert.Equal(t, []int64{0, 1, 2}, recs)
	recs, _, err = db.Claim("a", 2, 1250, 2)
	require.NoError(t, err)
	assert.Equal(t, []int64{0, 1}, recs, "max")

	ok, err := db.Commit("a", 2, 1)
	require.NoError(t, err)
	assert.True(t, ok)
	low, err := db.Low("a")
	require.NoError(t, err)
	assert.Equal(t, int64(0), low)
	ok, err = db.Commit("a", 2, 0)
	require.NoError(t, err)
	assert.True(t, ok)
	low, err = db.Low("a")
	require.NoError(t, err)
	assert.Equal(t, int64(2), low, "0 and 1 done")

	_, stale, err = db.Claim("a", 1, 1250, 10)
	require.NoError(t, err)
	assert.True(t, stale, "epoch 1 is older than 2")
	ok, err = db.Commit("a", 1, 2)
	require.NoError(t, err)
	assert.False(t, ok, "a commit under an older epoch is refused")
	recs, _, err = db.Claim("a", 3, 1450, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 3, 4}, recs)
	ok, err = db.Commit("a", 2, 2)
	require.NoError(t, err)
	assert.False(t, ok, "epoch 3 claimed the item")

	_, _, err = db.Claim("a/b", 1, 1000, 1)
	assert.ErrorContains(t, err, "bad item id")
	_, err = OpenDB(t.TempDir(), 0, 0)
	assert.ErrorContains(t, err, "period")
}
