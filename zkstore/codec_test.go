package zkstore

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestDecodeCorrupt(t *testing.T) {
	const path = "/app/baseTaskType/t1/t1/taskItem/3"
	for _, data := range [][]byte{nil, []byte("  "), []byte(`{"id":`), []byte(`"text"`), []byte(`{"epoch":"x"}`)} {
		_, err := decodeItem(path, "3", data, 0)
		require.Error(t, err, "%q", data)
		assert.ErrorIs(t, err, schedule.ErrCorrupt, "%q", data)
		assert.Contains(t, err.Error(), path, "the error names the path")
	}
	_, err := decodeTaskType("/app/baseTaskType/t1", "t1", []byte(`{"baseTaskType":"t2"}`))
	assert.ErrorIs(t, err, schedule.ErrCorrupt, "task type named after another node")
	_, err = decodeStrategy("/app/strategy/s1", "s1", []byte(`{"strategyName":"s2"}`))
	assert.ErrorIs(t, err, schedule.ErrCorrupt, "strategy named after another node")
}

func TestDecodeRecords(t *testing.T) {
	it, err := decodeItem("/p/7", "7", []byte(`{"id":"ignored","cur_server":"a","req_server":"b","epoch":4,"sts":"ACTIVTE","parameter":"X","deal_desc":"d"}`), 9)
	require.NoError(t, err)
	assert.Equal(t, schedule.Item{ID: "7", CurServer: "a", ReqServer: "b", Epoch: 4, Sts: schedule.ItemActive,
		Parameter: "X", DealDesc: "d", Version: 9}, it, "TBSchedule's ACTIVTE reads as active; the id is the node's")

	name := "t1$10.0.0.1$ABC$0000000042"
	sv, err := decodeServer("/p/"+name, name, []byte(`{"uuid":"","taskType":"t1","registerTime":"2026-11-21 10:00:00"}`))
	require.NoError(t, err)
	assert.Equal(t, schedule.ServerID(name), sv.UUID)
	assert.Equal(t, int64(42), sv.Seq)
	assert.Equal(t, time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), sv.RegisterTime.Time)

	m, err := decodeMark("/p", []byte(`{"leader":"x","builtAt":"2026-11-21T10:05:02.123Z","defs":["0","1"]}`), 3)
	require.NoError(t, err)
	assert.Equal(t, schedule.ItemsMark{Leader: "x", BuiltAt: schedule.Time{Time: time.Date(2026, 11, 21, 10, 5, 2, 123e6, time.UTC)},
		Defs: []string{"0", "1"}, Version: 3}, m)

	data, err := encode(schedule.Item{ID: "1", Epoch: 2, Sts: schedule.ItemActive, Version: 5})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"1","cur_server":"","req_server":"","epoch":2,"sts":"ACTIVE","parameter":"","deal_desc":""}`, string(data),
		"the item node's JSON (the version is not stored)")
}

func TestChunk(t *testing.T) {
	check := &zk.CheckVersionRequest{Path: "/g", Version: -1}
	var ops []any
	for i := range 10 {
		ops = append(ops, &zk.SetDataRequest{Path: "/p", Data: make([]byte, 100+i)})
	}
	limit := opSize(check) + 3*opSize(ops[9])
	chunks := chunk(ops, []any{check}, limit)
	require.Len(t, chunks, 4)
	n := 0
	for _, c := range chunks {
		assert.Same(t, check, c[0], "every chunk starts with the checks")
		assert.LessOrEqual(t, sumSize(c), limit)
		n += len(c) - 1
	}
	assert.Equal(t, len(ops), n, "every operation once")
	// An operation larger than the limit still goes, alone.
	chunks = chunk([]any{&zk.SetDataRequest{Path: "/big", Data: make([]byte, 1000)}}, nil, 10)
	require.Len(t, chunks, 1)
	assert.Len(t, chunk(nil, []any{check}, limit), 0)
}
