package ctl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// entry is one task type or one strategy read from a file, with where it
// came from (for errors) and whether the document set its sts: a document
// without sts keeps the stored one, so applying a file never resumes a
// strategy an operator paused (the Java console resumed it on every edit).
type entry struct {
	where  string
	tt     *schedule.TaskType
	st     *schedule.Strategy
	hasSts bool
	// at is the place of each key in the file (nil when unknown), so a
	// problem with a field names its line.
	at map[string]pos
	// java: the record was written by TBSchedule (a console export line or
	// a node of a Java root), so javaSemantics maps its meanings.
	java bool
	// noIPList: the Java record had no IPList, or null (Gson leaves a null
	// field out): the strategy ran nowhere.
	noIPList bool
	// hasTimeZone: the record set timeZone (only our export writes it).
	hasTimeZone bool
	// unread: TBSchedule's fields that nothing read and no field of ours
	// holds (taskKind, version), as "key value", when the record set them
	// to anything but TBSchedule's defaults.
	unread []string
	// notes say what javaSemantics mapped and what behaves differently.
	notes []string
}

func (e entry) kind() string {
	if e.tt != nil {
		return "taskType"
	}
	return "strategy"
}

func (e entry) name() string {
	if e.tt != nil {
		return e.tt.BaseTaskType
	}
	return e.st.StrategyName
}

// Formats of configuration files.
const (
	formatAuto = "auto"
	formatOurs = "ours"
	formatJava = "java"
)

// configFile is the document of apply and export (JSON or YAML):
//
//	taskTypes:  [ {baseTaskType: ..., ...}, ... ]
//	strategies: [ {strategyName: ..., ...}, ... ]
//
// with TBSchedule's field names. Export adds exportedFrom (the root).
type configFile struct {
	ExportedFrom string              `json:"exportedFrom,omitempty"`
	TaskTypes    []schedule.TaskType `json:"taskTypes"`
	Strategies   []schedule.Strategy `json:"strategies"`
}

// topKeys are the keys a configFile document may hold.
var topKeys = map[string]bool{"taskTypes": true, "strategies": true, "exportedFrom": true}

// readEntries reads a configuration file in the given format (auto: the
// Java console's export if its first line is one of its records, else
// ours). src names the file in errors.
func readEntries(src string, data []byte, format string) ([]entry, string, error) {
	if format == formatAuto {
		format = formatOurs
		if looksJava(data) {
			format = formatJava
		}
	}
	var es []entry
	var err error
	switch format {
	case formatOurs:
		es, err = parseOurs(src, data)
	case formatJava:
		es, err = parseJava(src, data)
	default:
		return nil, "", usagef("unknown format %q (auto, ours or java)", format)
	}
	if err == nil && len(es) == 0 {
		err = fmt.Errorf("%s: no task type or strategy in the file", src)
	}
	return es, format, err
}

// looksJava reports whether the first non-blank line is a record of the
// Java console's export: {"rootPath":...,"configType":...} or TASK{...} /
// STRATEGY{...} (the later console's form).
func looksJava(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "TASK{") || strings.HasPrefix(line, "STRATEGY{") {
			return true
		}
		var probe map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &probe) != nil {
			return false
		}
		_, ok := probe["configType"]
		return ok
	}
	return false
}

// decodeEntry decodes a task type or strategy from its JSON.
func decodeEntry(where, kind string, b []byte, hasSts bool) (entry, error) {
	return decodeEntryAt(where, kind, b, hasSts, nil)
}

// decodeEntryAt is decodeEntry naming, in errors about a field, the
// field's place from at.
func decodeEntryAt(where, kind string, b []byte, hasSts bool, at map[string]pos) (entry, error) {
	e := entry{where: where, hasSts: hasSts, at: at}
	var err error
	switch kind {
	case "taskType":
		var t schedule.TaskType
		err = json.Unmarshal(b, &t)
		e.tt = &t
	case "strategy":
		var s schedule.Strategy
		err = json.Unmarshal(b, &s)
		e.st = &s
	default:
		return entry{}, fmt.Errorf("%s: unknown kind %q", where, kind)
	}
	if err != nil {
		return entry{}, placeFields(where, err, at)
	}
	return e, nil
}

// javaNode is one line of the Java console's export: the node's root, its
// type (baseTaskType or strategy), its name and its data (the record's JSON,
// as a string).
type javaNode struct {
	RootPath   string          `json:"rootPath"`
	ConfigType string          `json:"configType"`
	Name       string          `json:"name"`
	Value      json.RawMessage `json:"value"`
}

// parseJava reads the Java console's export, one record per line. The
// rootPath inside the lines is ignored: the target is the root given to
// tbsctl.
func parseJava(src string, data []byte) ([]entry, error) {
	var es []entry
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		where := fmt.Sprintf("%s: line %d", src, n)
		e, err := parseJavaLine(where, line)
		if err != nil {
			errs = append(errs, &unreadable{err})
			continue
		}
		es = append(es, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %v", src, err))
	}
	return es, errors.Join(errs...)
}

func parseJavaLine(where, line string) (entry, error) {
	for prefix, kind := range map[string]string{"TASK": "taskType", "STRATEGY": "strategy"} {
		if rest, ok := strings.CutPrefix(line, prefix); ok && strings.HasPrefix(rest, "{") {
			value, err := renameLater(kind, []byte(rest))
			if err != nil {
				return entry{}, fmt.Errorf("%s: %s{...}: not a JSON object: %v", where, prefix, err)
			}
			return javaRecord(where, kind, "", value)
		}
	}
	var node javaNode
	dec := json.NewDecoder(strings.NewReader(line))
	if err := dec.Decode(&node); err != nil {
		return entry{}, fmt.Errorf("%s: not a JSON record {rootPath, configType, name, value}: %v", where, err)
	}
	var kind string
	switch strings.ToLower(node.ConfigType) {
	case "basetasktype":
		kind = "taskType"
	case "strategy":
		kind = "strategy"
	default:
		return entry{}, fmt.Errorf("%s: configType %q: must be baseTaskType or strategy", where, node.ConfigType)
	}
	value := []byte(bytes.TrimSpace(node.Value))
	if len(value) > 0 && value[0] == '"' {
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return entry{}, fmt.Errorf("%s: value: %v", where, err)
		}
		value = []byte(s)
	}
	if len(value) == 0 || string(value) == "null" {
		return entry{}, fmt.Errorf("%s: value: missing (node %q)", where, node.Name)
	}
	return javaRecord(where, kind, node.Name, value)
}

// javaRecord decodes the JSON of a Java task type or strategy (node names
// the node it was stored under, "" when unknown), marked for
// javaSemantics.
func javaRecord(where, kind, node string, value []byte) (entry, error) {
	if err := checkRawFields(where, kind, value); err != nil {
		return entry{}, err
	}
	e, err := decodeEntry(where, kind, value, hasKey(value, "sts"))
	if err != nil {
		return entry{}, err
	}
	e.java = true
	e.noIPList = kind == "strategy" && !hasNonNull(value, "IPList")
	e.hasTimeZone = hasKey(value, "timeZone")
	if kind == "taskType" {
		e.unread = unreadJavaFields(value)
	}
	// The node name is the record's name; a record without one takes it.
	switch {
	case e.name() == "" && e.tt != nil:
		e.tt.BaseTaskType = node
	case e.name() == "" && e.st != nil:
		e.st.StrategyName = node
	case node != "" && node != e.name():
		return entry{}, fmt.Errorf("%s: name %q differs from the record's own name %q", where, node, e.name())
	}
	return e, nil
}

// laterNames are the keys of the later console's TASK{...}/STRATEGY{...}
// records that differ from TBSchedule's: its classes call the name "name",
// and its JSON library writes the strategy's IPList as "iPList".
var laterNames = map[string]map[string]string{
	"taskType": {"name": "baseTaskType"},
	"strategy": {"name": "strategyName", "iPList": "IPList", "ipList": "IPList"},
}

// renameLater rewrites the later console's keys to TBSchedule's, keeping
// the others (and their order does not matter to the decoder).
func renameLater(kind string, obj []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	for from, to := range laterNames[kind] {
		if v, ok := m[from]; ok {
			if _, both := m[to]; !both {
				m[to] = v
				delete(m, from)
			}
		}
	}
	return json.Marshal(m)
}

// hasNonNull reports whether obj has key with a value other than null.
func hasNonNull(obj []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return false
	}
	v, ok := m[key]
	return ok && jsonKind(v) != "null"
}

func jsonKind(v json.RawMessage) string {
	b := bytes.TrimSpace(v)
	if len(b) > 0 && b[0] == 'n' {
		return "null"
	}
	return "value"
}

// checkRawFields reports the unknown fields of a record given as JSON
// (where names its line).
func checkRawFields(where, kind string, obj []byte) error {
	var errs []error
	for _, u := range storedUnknownFields(kind, obj) {
		errs = append(errs, fmt.Errorf("%s: %s", where, u))
	}
	return errors.Join(errs...)
}

// unreadJavaFields returns, as "key value", TBSchedule's task type fields
// that nothing ever read and that no field of ours holds, when obj sets them
// to anything but the defaults: taskKind other than "static" (TBSchedule
// ran every task type the static way), version other than 0.
func unreadJavaFields(obj []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return nil
	}
	var out []string
	var kind string
	if json.Unmarshal(m["taskKind"], &kind) == nil && kind != "" && !strings.EqualFold(kind, "static") {
		out = append(out, fmt.Sprintf("taskKind %q", kind))
	}
	var version float64
	if json.Unmarshal(m["version"], &version) == nil && version != 0 {
		out = append(out, "version "+string(bytes.TrimSpace(m["version"])))
	}
	return out
}

func hasKey(obj []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

// writeOurs writes a configFile as indented JSON or as YAML.
func writeOurs(w io.Writer, f configFile, format string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeJSONAs(w, b, format)
}

// writeJSONAs writes a JSON document as is ("json") or as block YAML with
// the same key order ("yaml").
func writeJSONAs(w io.Writer, b []byte, format string) error {
	if format != "yaml" {
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle turns JSON's flow style into YAML's block style, keeping
// quoted strings quoted only where YAML needs it.
func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style &^= yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// writeJava writes the Java console's export format: one line per node,
// value holding the record's JSON as a string. A task type always carries
// timeZone ("" for UTC; the Java console ignores the field), so importing
// the file gives back the same zone.
func writeJava(w io.Writer, root string, f configFile) error {
	line := func(kind, name string, rec any) error {
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if t, ok := rec.(schedule.TaskType); ok && t.TimeZone == "" {
			// Say "UTC" by its absence no more: an explicit empty zone
			// keeps import from giving the task type the importer's zone.
			v = append(bytes.TrimSuffix(v, []byte("}")), []byte(`,"timeZone":""}`)...)
		}
		s, err := json.Marshal(string(v))
		if err != nil {
			return err
		}
		b, err := json.Marshal(javaNode{RootPath: root, ConfigType: kind, Name: name, Value: s})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, t := range f.TaskTypes {
		if err := line("baseTaskType", t.BaseTaskType, t); err != nil {
			return err
		}
	}
	for _, s := range f.Strategies {
		if err := line("strategy", s.StrategyName, s); err != nil {
			return err
		}
	}
	return nil
}
