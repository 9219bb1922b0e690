package zkstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Codecs: every node holds JSON. Task types and strategies use their own
// MarshalJSON (TBSchedule's field names); records use their struct tags.
// Data that does not decode is reported with schedule.ErrCorrupt naming the
// path, and is never overwritten by a read.

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, invalidf("encode %T: %v", v, err)
	}
	return b, nil
}

// decode decodes data at path into v, or returns an ErrCorrupt error.
func decode(path string, data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return opErr("decode", path, schedule.ErrCorrupt, fmt.Errorf("no data, want JSON of %s", typeName(v)))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return opErr("decode", path, schedule.ErrCorrupt, fmt.Errorf("%s: %v (data %q)", typeName(v), err, excerpt(data)))
	}
	return nil
}

func typeName(v any) string {
	return fmt.Sprintf("%T", v)[1:] // v is a pointer
}

func excerpt(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func decodeTaskType(path, name string, data []byte) (schedule.TaskType, error) {
	var t schedule.TaskType
	if err := decode(path, data, &t); err != nil {
		return t, err
	}
	if t.BaseTaskType == "" {
		t.BaseTaskType = name
	}
	if t.BaseTaskType != name {
		return t, opErr("decode", path, schedule.ErrCorrupt, fmt.Errorf("the node is %q but its baseTaskType is %q", name, t.BaseTaskType))
	}
	return t, nil
}

func decodeStrategy(path, name string, data []byte) (schedule.Strategy, error) {
	var st schedule.Strategy
	if err := decode(path, data, &st); err != nil {
		return st, err
	}
	if st.StrategyName == "" {
		st.StrategyName = name
	}
	if st.StrategyName != name {
		return st, opErr("decode", path, schedule.ErrCorrupt, fmt.Errorf("the node is %q but its strategyName is %q", name, st.StrategyName))
	}
	return st, nil
}

func decodeItem(path string, id schedule.ItemID, data []byte, version int32) (schedule.Item, error) {
	var it schedule.Item
	if err := decode(path, data, &it); err != nil {
		return it, err
	}
	it.ID = id
	if it.Sts == "ACTIVTE" || it.Sts == "" {
		it.Sts = schedule.ItemActive
	}
	it.Version = schedule.Version(version)
	return it, nil
}

// markOf decodes a runtime's mark (the directory node path, read with
// stat) once per change (see decodeMemo): every owner reads the mark with
// the items its notes name, and a mark lists every item definition
// (decoding a mark of 2,000 items at every such read took 7 % of the CPU
// of 200 sessions).
func (s *Store) markOf(path string, data []byte, stat *zk.Stat) (schedule.ItemsMark, error) {
	return decodeMemo(s, path, stat, func(m schedule.ItemsMark) schedule.ItemsMark {
		m.Defs = slices.Clone(m.Defs)
		return m
	}, func() (schedule.ItemsMark, error) { return decodeMark(path, data, stat.Version) })
}

func decodeMark(path string, data []byte, version int32) (schedule.ItemsMark, error) {
	var m schedule.ItemsMark
	if err := decode(path, data, &m); err != nil {
		return m, err
	}
	m.Version = schedule.Version(version)
	return m, nil
}

func decodeServer(path, name string, data []byte) (schedule.Server, error) {
	var sv schedule.Server
	if err := decode(path, data, &sv); err != nil {
		return sv, err
	}
	sv.UUID = schedule.ServerID(name)
	sv.Seq = parseSeq(name)
	return sv, nil
}

func decodeFactory(path, name string, data []byte) (schedule.Factory, error) {
	var f schedule.Factory
	if err := decode(path, data, &f); err != nil {
		return f, err
	}
	f.UUID = schedule.FactoryID(name)
	f.Seq = parseSeq(name)
	return f, nil
}

func decodeStrategyRuntime(path, strategy, name string, data []byte, version int32) (schedule.StrategyRuntime, error) {
	var rt schedule.StrategyRuntime
	if err := decode(path, data, &rt); err != nil {
		return rt, err
	}
	rt.StrategyName = strategy
	rt.UUID = schedule.FactoryID(name)
	rt.Version = schedule.Version(version)
	return rt, nil
}
