package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// module is one Go module of the repository and the file its listing is
// checked in as, under api/.
type module struct {
	dir  string // relative to the repository root
	file string // under api/
}

// modules are the modules whose public surface the report lists: the
// library and the Prometheus exporter. The orders example is a nested module
// of package main only and has no importable API.
var modules = []module{
	{dir: ".", file: "tbschedule.txt"},
	{dir: "tbsprom", file: "tbsprom.txt"},
}

// Counts is the size of one package's public surface, the go/ast way:
// exported top-level names (funcs, types, vars, consts), exported methods of
// exported types, exported (or embedded exported) fields of exported struct
// types, and the methods (or embedded interfaces) of exported interfaces.
type Counts struct {
	TopLevel, Methods, Fields, IfaceMethods int
}

// Total is the sum of the four counts.
func (c Counts) Total() int { return c.TopLevel + c.Methods + c.Fields + c.IfaceMethods }

func (c *Counts) add(o Counts) {
	c.TopLevel += o.TopLevel
	c.Methods += o.Methods
	c.Fields += o.Fields
	c.IfaceMethods += o.IfaceMethods
}

// pkgAPI is one package's listing: lines without the "pkg P, " prefix.
type pkgAPI struct {
	path   string // relative to the repository root, e.g. "schedule/memstore"
	lines  []string
	counts Counts

	dir     string            // the package's directory
	imports map[string]string // of the file being read: local name -> import path
	err     error             // of reading an aliased internal package
}

// scanModule lists every importable, non-internal package of the module at
// root/m.dir, sorted by path. Nested modules, internal/, testdata/ and
// hidden directories are left out, as are package main and test files.
func scanModule(root string, m module) ([]*pkgAPI, error) {
	base := filepath.Join(root, m.dir)
	var out []*pkgAPI
	err := filepath.WalkDir(base, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if dir != base && skipDir(dir, d.Name()) {
			return filepath.SkipDir
		}
		p, err := scanPackage(root, dir)
		if p != nil {
			out = append(out, p)
		}
		return err
	})
	slices.SortFunc(out, func(a, b *pkgAPI) int { return strings.Compare(a.path, b.path) })
	return out, err
}

func skipDir(dir, name string) bool {
	switch {
	case name == "internal", name == "testdata", name == "vendor":
		return true
	case strings.HasPrefix(name, "."), strings.HasPrefix(name, "_"):
		return true
	}
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil // a nested module has its own listing, or none
}

func scanPackage(root, dir string) (*pkgAPI, error) {
	bp, err := build.Default.ImportDir(dir, 0)
	var noGo *build.NoGoError
	if errors.As(err, &noGo) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apireport: %s: %w", dir, err)
	}
	if bp.Name == "main" {
		return nil, nil
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return nil, err
	}
	p := &pkgAPI{path: filepath.ToSlash(rel), dir: dir}
	files, err := parseFiles(dir, bp.GoFiles)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		p.imports = importNames(f)
		for _, d := range f.Decls {
			p.decl(d)
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	slices.Sort(p.lines)
	p.lines = slices.Compact(p.lines)
	return p, nil
}

func (p *pkgAPI) emit(format string, args ...any) {
	p.lines = append(p.lines, fmt.Sprintf(format, args...))
}

func (p *pkgAPI) decl(d ast.Decl) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		p.funcDecl(d)
	case *ast.GenDecl:
		switch d.Tok {
		case token.TYPE:
			for _, s := range d.Specs {
				p.typeSpec(s.(*ast.TypeSpec))
			}
		case token.CONST:
			p.constDecl(d)
		case token.VAR:
			for _, s := range d.Specs {
				p.varSpec(s.(*ast.ValueSpec))
			}
		}
	}
}

func (p *pkgAPI) funcDecl(d *ast.FuncDecl) {
	if !d.Name.IsExported() {
		return
	}
	sig := signature(d.Type)
	if d.Recv == nil {
		p.counts.TopLevel++
		p.emit("func %s%s%s", d.Name.Name, typeParams(d.Type.TypeParams), sig)
		return
	}
	recv := d.Recv.List[0].Type
	if !embeddedExported(recv) {
		return // a method of an unexported type: not reachable by name
	}
	p.counts.Methods++
	p.emit("method (%s) %s%s", typeString(recv), d.Name.Name, sig)
}

func (p *pkgAPI) typeSpec(s *ast.TypeSpec) {
	if !s.Name.IsExported() {
		return
	}
	p.counts.TopLevel++
	name := s.Name.Name + typeParams(s.TypeParams)
	if s.Assign.IsValid() {
		p.emit("type %s = %s", name, typeString(s.Type))
		p.aliasMembers(s)
		return
	}
	switch t := s.Type.(type) {
	case *ast.StructType:
		p.emit("type %s struct", name)
		p.structMembers(s.Name.Name, t)
	case *ast.InterfaceType:
		p.emit("type %s interface", name)
		p.interfaceMembers(s.Name.Name, t)
	default:
		p.emit("type %s %s", name, typeString(s.Type))
	}
}

func (p *pkgAPI) structMembers(name string, t *ast.StructType) {
	for _, m := range members(t.Fields, false) {
		p.counts.Fields++
		p.emit("type %s struct, %s", name, m)
	}
}

func (p *pkgAPI) interfaceMembers(name string, t *ast.InterfaceType) {
	for _, m := range members(t.Methods, true) {
		p.counts.IfaceMethods++
		p.emit("type %s interface, %s", name, m)
	}
}

// aliasMembers lists, under the alias's name, the fields, interface methods
// and methods of the type an exported alias names in an internal package of
// the module (type Clock = clock.Clock): they are public surface although
// their declarations are not, and a change to them must show here too.
func (p *pkgAPI) aliasMembers(s *ast.TypeSpec) {
	sel, ok := s.Type.(*ast.SelectorExpr)
	if !ok {
		return
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return
	}
	path := p.imports[pkg.Name]
	i := strings.LastIndex(path, "/internal/")
	if i < 0 {
		return
	}
	dir, err := internalDir(p.dir, path[i+1:])
	if err != nil {
		p.err = fmt.Errorf("apireport: alias %s: %w", s.Name.Name, err)
		return
	}
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		p.err = fmt.Errorf("apireport: alias %s: %w", s.Name.Name, err)
		return
	}
	files, err := parseFiles(dir, bp.GoFiles)
	if err != nil {
		p.err = err
		return
	}
	name := s.Name.Name
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if !ok || ts.Name.Name != sel.Sel.Name {
						continue
					}
					switch t := ts.Type.(type) {
					case *ast.StructType:
						p.structMembers(name, t)
					case *ast.InterfaceType:
						p.interfaceMembers(name, t)
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil || !d.Name.IsExported() {
					continue
				}
				recv := typeString(d.Recv.List[0].Type)
				if strings.TrimPrefix(recv, "*") != sel.Sel.Name {
					continue
				}
				p.counts.Methods++
				p.emit("method (%s%s) %s%s", recv[:len(recv)-len(sel.Sel.Name)], name, d.Name.Name, signature(d.Type))
			}
		}
	}
}

// parseFiles parses the named files of dir.
func parseFiles(dir string, names []string) ([]*ast.File, error) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("apireport: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}

// importNames maps the names a file refers to its imports by to their paths.
func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, im := range f.Imports {
		path := strings.Trim(im.Path.Value, `"`)
		name := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		m[name] = path
	}
	return m
}

// internalDir finds the directory of the internal package rel
// ("internal/clock") imported from dir: under dir or one of its parents, as
// Go's rule for internal packages allows.
func internalDir(dir, rel string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(d, filepath.FromSlash(rel))
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no %s above %s", rel, dir)
		}
		d = up
	}
}

// constDecl follows Go's implicit repetition: a spec with neither type nor
// values has the type of the spec before it ("B" after "A Kind = iota").
func (p *pkgAPI) constDecl(d *ast.GenDecl) {
	var typ ast.Expr
	for _, s := range d.Specs {
		vs := s.(*ast.ValueSpec)
		if vs.Type != nil || len(vs.Values) > 0 {
			typ = vs.Type
		}
		for i, n := range vs.Names {
			if !n.IsExported() {
				continue
			}
			p.counts.TopLevel++
			line := "const " + n.Name
			if typ != nil {
				line += " " + typeString(typ)
			}
			if i < len(vs.Values) {
				line += " = " + exprString(vs.Values[i])
			}
			p.emit("%s", line)
		}
	}
}

func (p *pkgAPI) varSpec(vs *ast.ValueSpec) {
	for i, n := range vs.Names {
		if !n.IsExported() {
			continue
		}
		p.counts.TopLevel++
		switch {
		case vs.Type != nil:
			p.emit("var %s %s", n.Name, typeString(vs.Type))
		case i < len(vs.Values) && len(vs.Names) == len(vs.Values):
			p.emit("var %s%s", n.Name, varType(vs.Values[i]))
		default:
			p.emit("var %s", n.Name)
		}
	}
}

// varType names the type of an untyped var declaration where the source
// shows it (an error sentinel, a composite literal); otherwise it shows the
// initialiser.
func varType(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.CallExpr:
		if s := typeString(v.Fun); s == "errors.New" || s == "fmt.Errorf" {
			return " error"
		}
	case *ast.CompositeLit:
		return " " + typeString(v.Type)
	case *ast.UnaryExpr:
		if c, ok := v.X.(*ast.CompositeLit); ok && v.Op == token.AND {
			return " *" + typeString(c.Type)
		}
	}
	return " = " + exprString(e)
}
