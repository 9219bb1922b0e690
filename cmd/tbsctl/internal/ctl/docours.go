package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// parseOurs reads JSON (one value or several in a row) or YAML (one
// document or several separated by ---). Errors name the line (and column)
// where they can.
func parseOurs(src string, data []byte) ([]entry, error) {
	docs, err := readDocs(src, data)
	if err != nil {
		return nil, err
	}
	var es []entry
	var errs []error
	for i, d := range docs {
		where := src
		if len(docs) > 1 {
			where = fmt.Sprintf("%s: document %d", src, i+1)
		}
		got, err := parseValue(where, d)
		es = append(es, got...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return es, errors.Join(errs...)
}

// readDocs reads every document of a JSON or YAML stream.
func readDocs(src string, data []byte) ([]*pnode, error) {
	var docs []*pnode
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		r := newJSONReader(data)
		for {
			n, err := r.next()
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			if err != nil {
				return nil, fmt.Errorf("%s: not valid JSON (document %d): %v", src, len(docs)+1, err)
			}
			docs = append(docs, n)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var y yaml.Node
		err := dec.Decode(&y)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		var n *pnode
		if err == nil {
			n, err = fromYAML(&y)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not valid YAML (document %d): %v", src, len(docs)+1, err)
		}
		docs = append(docs, n)
	}
}

// parseValue reads one document: a task type, a strategy, a list of them,
// or a {taskTypes, strategies} map.
func parseValue(where string, v *pnode) ([]entry, error) {
	switch {
	case !v.isObj() && !v.isArr && v.scalar == nil:
		return nil, nil
	case v.isArr:
		return parseList(where, "", v, "")
	case v.isObj():
		_, isTT := v.obj["baseTaskType"]
		_, isSt := v.obj["strategyName"]
		if isTT || isSt {
			e, err := parseObject(where, v, "")
			if err != nil {
				return nil, &unreadable{err}
			}
			return []entry{e}, nil
		}
		var errs []error
		for _, k := range v.keys {
			if !topKeys[k] {
				errs = append(errs, fmt.Errorf("%s: %s: unknown key %q (expected taskTypes, strategies, or a single task type or strategy)%s",
					where, v.keyPos[k], k, didYouMean(k, []string{"taskTypes", "strategies", "exportedFrom", "baseTaskType", "strategyName"})))
			}
		}
		var es []entry
		for _, key := range []string{"taskTypes", "strategies"} {
			list, ok := v.obj[key]
			if !ok || (!list.isArr && !list.isObj() && list.scalar == nil) {
				continue
			}
			if !list.isArr {
				errs = append(errs, fmt.Errorf("%s: %s must be a list", where, key))
				continue
			}
			kind := map[string]string{"taskTypes": "taskType", "strategies": "strategy"}[key]
			got, err := parseList(where, key, list, kind)
			es = append(es, got...)
			if err != nil {
				errs = append(errs, err)
			}
		}
		return es, errors.Join(errs...)
	default:
		return nil, fmt.Errorf("%s: expected a map or a list, got %s", where, v.kindName())
	}
}

// parseList reads the objects of a list (key names the list in errors).
func parseList(where, key string, list *pnode, kind string) ([]entry, error) {
	var es []entry
	var errs []error
	for i, el := range list.arr {
		e, err := parseObject(fmt.Sprintf("%s: %s[%d]", where, key, i), el, kind)
		if err != nil {
			errs = append(errs, &unreadable{err})
			continue
		}
		es = append(es, e)
	}
	return es, errors.Join(errs...)
}

// didYouMean is " (did you mean X?)" for the known name nearest to key, or "".
func didYouMean(key string, known []string) string {
	if near, _ := nearestName(key, known); near != "" {
		return fmt.Sprintf(" (did you mean %s?)", near)
	}
	return ""
}

// parseObject decodes one object as kind ("taskType", "strategy", or ""
// to tell by its name key). A key that is not a field of kind is an error
// naming it, its place and the nearest field name.
func parseObject(where string, n *pnode, kind string) (entry, error) {
	if !n.isObj() {
		return entry{}, fmt.Errorf("%s: %s: expected an object, got %s", where, n.at, n.kindName())
	}
	m := n.obj
	if kind == "" {
		if _, ok := m["baseTaskType"]; ok {
			kind = "taskType"
		} else if _, ok := m["strategyName"]; ok {
			kind = "strategy"
		} else {
			return entry{}, fmt.Errorf("%s: neither baseTaskType nor strategyName is set", where)
		}
	}
	var errs []error
	for _, u := range unknownFields(n.keys, func(k string) pos { return n.keyPos[k] }, knownFields[kind]) {
		errs = append(errs, fmt.Errorf("%s: %s", where, u))
	}
	if len(errs) > 0 {
		return entry{}, errors.Join(errs...)
	}
	plain := n.plain().(map[string]any)
	for _, k := range []string{"taskItems", "IPList"} {
		if list, ok := plain[k].([]any); ok {
			for i, el := range list {
				switch v := el.(type) {
				case int:
					list[i] = strconv.Itoa(v)
				case json.Number:
					list[i] = v.String()
				}
			}
		}
	}
	b, err := json.Marshal(plain)
	if err != nil {
		return entry{}, fmt.Errorf("%s: %v", where, err)
	}
	_, hasSts := m["sts"]
	return decodeEntryAt(where, kind, b, hasSts, n.keyPos)
}

// placeFields puts where, and the place of the field at fault when at
// knows it, before each of the problems err holds.
func placeFields(where string, err error, at map[string]pos) error {
	var errs []error
	for _, leaf := range leafErrors(err) {
		errs = append(errs, placeField(where, leaf, at))
	}
	return errors.Join(errs...)
}

// placeField returns "where: line L, column C: err" for a problem with a
// field whose place is known, else "where: err".
func placeField(where string, err error, at map[string]pos) error {
	var fe *schedule.FieldError
	if errors.As(err, &fe) {
		key, _, _ := strings.Cut(fe.Field, "[")
		if p, ok := at[key]; ok {
			return fmt.Errorf("%s: %s: %w", where, p, err)
		}
	}
	return fmt.Errorf("%s: %w", where, err)
}
