package main

import (
	"fmt"
	"github.com/tbschedule/tbschedule-go/internal/readpath"
	"strconv"
	"strings"
)

// scaleSize is one size of the scale scenario: sessions (one factory each),
// task types (one strategy each) and items in all, split evenly over the
// task types.
type scaleSize struct{ sessions, types, items int }

func (z scaleSize) String() string { return fmt.Sprintf("%d×%d×%d", z.sessions, z.types, z.items) }

// key names the size in JSON value names: "50x2x2000".
func (z scaleSize) key() string { return fmt.Sprintf("%dx%dx%d", z.sessions, z.types, z.items) }

// scaleSizes is the -scale flag: repeatable, and each value may hold
// several sizes separated by ';' ("10,2,1000;20,2,1000").
type scaleSizes []scaleSize

func (s *scaleSizes) String() string {
	var parts []string
	for _, z := range *s {
		parts = append(parts, fmt.Sprintf("%d,%d,%d", z.sessions, z.types, z.items))
	}
	return strings.Join(parts, ";")
}

func (s *scaleSizes) Set(v string) error {
	sizes, err := parseScaleSizes(v)
	if err != nil {
		return err
	}
	*s = append(*s, sizes...)
	return nil
}

// parseScaleSizes parses one -scale value: sizes "S,T,I" separated by ';'
// (spaces around the numbers are ignored). Every number must be positive and I ≥ T (each task type
// has at least one item).
func parseScaleSizes(v string) ([]scaleSize, error) {
	var fields []string
	for _, f := range strings.Split(v, ";") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("want sessions,taskTypes,items (several separated by ';'), got %q", v)
	}
	var out []scaleSize
	for _, f := range fields {
		n := strings.Split(f, ",")
		if len(n) != 3 {
			return nil, fmt.Errorf("size %q: want three numbers sessions,taskTypes,items", f)
		}
		var vals [3]int
		for i, s := range n {
			x, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || x < 1 {
				return nil, fmt.Errorf("size %q: %q is not a positive number", f, s)
			}
			vals[i] = x
		}
		z := scaleSize{sessions: vals[0], types: vals[1], items: vals[2]}
		if z.items < z.types {
			return nil, fmt.Errorf("size %q: items (%d) must be at least taskTypes (%d)", f, z.items, z.types)
		}
		out = append(out, z)
	}
	return out, nil
}

// readPath is the -read-path flag: which read path of the managers the
// scale scenario runs.
type readPath string

const (
	readNew  readPath = "new"
	readOld  readPath = "old"
	readBoth readPath = "both"
)

func parseReadPath(v string) (readPath, error) {
	switch p := readPath(strings.TrimSpace(v)); p {
	case readNew, readOld, readBoth:
		return p, nil
	}
	return "", fmt.Errorf("-read-path %q: want new, old or both", v)
}

// runs lists the read paths to run for each size, in order: old before new.
func (p readPath) runs() []readPath {
	if p == readBoth {
		return []readPath{readOld, readNew}
	}
	return []readPath{p}
}

// setReadPath makes the managers built from now on follow their items the
// previous way (readOld: a watch on every item, every item read when the
// stamp moved) or by note boxes. Each manager reads the switch
// (internal/readpath) once, when it is built, and a size runs its read
// paths one after the other, never at once: a factory rebuilding a manager
// after a session loss keeps the path of its run.
func setReadPath(p readPath) {
	readpath.UseOld(p == readOld)
}
