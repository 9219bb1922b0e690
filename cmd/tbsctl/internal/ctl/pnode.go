package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	yaml "go.yaml.in/yaml/v3"
)

// pos is a place in a file: line and column, counted from 1. A zero column
// means unknown (a YAML key has one; a key inside a Java console line's
// value string does not).
type pos struct{ line, col int }

func (p pos) String() string {
	switch {
	case p.line == 0:
		return ""
	case p.col == 0:
		return fmt.Sprintf("line %d", p.line)
	}
	return fmt.Sprintf("line %d, column %d", p.line, p.col)
}

// pnode is one value of a JSON or YAML document with the place of every
// object key, so unknown fields can be reported where they are.
type pnode struct {
	at     pos
	obj    map[string]*pnode // nil unless an object
	keys   []string          // object keys in file order
	keyPos map[string]pos
	arr    []*pnode // nil unless an array (isArr)
	isArr  bool
	scalar any // string, json.Number, bool, nil, or YAML's int/float
}

func (n *pnode) isObj() bool { return n.obj != nil }

// plain returns the value as encoding/json's generic form.
func (n *pnode) plain() any {
	switch {
	case n.isObj():
		m := make(map[string]any, len(n.obj))
		for k, v := range n.obj {
			m[k] = v.plain()
		}
		return m
	case n.isArr:
		a := make([]any, len(n.arr))
		for i, v := range n.arr {
			a[i] = v.plain()
		}
		return a
	}
	return n.scalar
}

// kindName names the value's type for errors.
func (n *pnode) kindName() string {
	switch {
	case n.isObj():
		return "a map"
	case n.isArr:
		return "a list"
	case n.scalar == nil:
		return "null"
	}
	return fmt.Sprintf("%T", n.scalar)
}

// lineIndex turns byte offsets into line and column.
type lineIndex []int // offsets where lines start

func newLineIndex(data []byte) lineIndex {
	idx := lineIndex{0}
	for i, b := range data {
		if b == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIndex) pos(off int64) pos {
	i := sort.Search(len(l), func(i int) bool { return int64(l[i]) > off }) - 1
	return pos{line: i + 1, col: int(off) - l[i] + 1}
}

// jsonReader reads JSON values token by token, keeping key positions.
type jsonReader struct {
	data []byte
	dec  *json.Decoder
	idx  lineIndex
}

func newJSONReader(data []byte) *jsonReader {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &jsonReader{data: data, dec: dec, idx: newLineIndex(data)}
}

// next reads the next top-level value; io.EOF at the end. A syntax error
// names its line and column.
func (r *jsonReader) next() (*pnode, error) {
	n, err := r.value()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, r.placed(err)
	}
	return n, err
}

// placed adds the line and column to a decoding error.
func (r *jsonReader) placed(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %v", r.idx.pos(max(se.Offset-1, 0)), err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: unexpected end of the file", r.idx.pos(int64(len(r.data))))
	}
	return err
}

// tokenStart is where the next token begins: past blanks, ',' and ':'.
func (r *jsonReader) tokenStart() pos {
	off := r.dec.InputOffset()
	for off < int64(len(r.data)) {
		switch r.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return r.idx.pos(off)
}

// inner reads a value inside another: the end of the file there is an
// error, not the end of the stream.
func (r *jsonReader) inner() (*pnode, error) {
	n, err := r.value()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *jsonReader) value() (*pnode, error) {
	at := r.tokenStart()
	tok, err := r.dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		n := &pnode{at: at, obj: map[string]*pnode{}, keyPos: map[string]pos{}}
		for r.dec.More() {
			kat := r.tokenStart()
			kt, err := r.dec.Token()
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			k, _ := kt.(string)
			v, err := r.inner()
			if err != nil {
				return nil, err
			}
			n.add(k, kat, v)
		}
		_, err := r.dec.Token() // '}'
		return n, unexpectedEOF(err)
	case json.Delim('['):
		n := &pnode{at: at, isArr: true, arr: []*pnode{}}
		for r.dec.More() {
			v, err := r.inner()
			if err != nil {
				return nil, err
			}
			n.arr = append(n.arr, v)
		}
		_, err := r.dec.Token() // ']'
		return n, unexpectedEOF(err)
	}
	return &pnode{at: at, scalar: tok}, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// add sets key k (a repeated key keeps its last value, as encoding/json and
// YAML's decoder do).
func (n *pnode) add(k string, at pos, v *pnode) {
	if _, dup := n.obj[k]; !dup {
		n.keys = append(n.keys, k)
	}
	n.obj[k], n.keyPos[k] = v, at
}

// maxYAMLNodes bounds the values a YAML file may expand to through its
// aliases (a configuration file has a few hundred; an alias bomb billions).
const maxYAMLNodes = 100_000

// yamlConverter turns decoded YAML into pnodes, following aliases ("<<"
// merge keys merged) with a guard against cycles and alias bombs.
type yamlConverter struct {
	active map[*yaml.Node]bool // aliased nodes being converted (cycle guard)
	nodes  int
}

// fromYAML converts a decoded YAML document, keeping key positions.
func fromYAML(y *yaml.Node) (*pnode, error) {
	c := &yamlConverter{active: map[*yaml.Node]bool{}}
	return c.convert(y)
}

func (c *yamlConverter) convert(y *yaml.Node) (*pnode, error) {
	at := pos{line: y.Line, col: y.Column}
	if c.nodes++; c.nodes > maxYAMLNodes {
		return nil, fmt.Errorf("%s: the aliases expand to more than %d values", at, maxYAMLNodes)
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &pnode{at: at}, nil
		}
		return c.convert(y.Content[0])
	case yaml.AliasNode:
		if c.active[y.Alias] {
			return nil, fmt.Errorf("%s: alias *%s refers to a value that contains it", at, y.Value)
		}
		c.active[y.Alias] = true
		defer delete(c.active, y.Alias)
		return c.convert(y.Alias)
	case yaml.SequenceNode:
		n := &pnode{at: at, isArr: true, arr: []*pnode{}}
		for _, e := range y.Content {
			v, err := c.convert(e)
			if err != nil {
				return nil, err
			}
			n.arr = append(n.arr, v)
		}
		return n, nil
	case yaml.MappingNode:
		return c.convertMap(y, at)
	}
	var v any
	if err := y.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %v", at, err)
	}
	return &pnode{at: at, scalar: v}, nil
}

func (c *yamlConverter) convertMap(y *yaml.Node, at pos) (*pnode, error) {
	n := &pnode{at: at, obj: map[string]*pnode{}, keyPos: map[string]pos{}}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, vy := y.Content[i], y.Content[i+1]
		v, err := c.convert(vy)
		if err != nil {
			return nil, err
		}
		if k.Tag == "!!merge" && v.isObj() {
			for _, mk := range v.keys {
				n.add(mk, v.keyPos[mk], v.obj[mk])
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: a key must be a name", pos{line: k.Line, col: k.Column})
		}
		n.add(k.Value, pos{line: k.Line, col: k.Column}, v)
	}
	return n, nil
}
