package main

import (
	"bytes"
	"go/ast"
	"go/printer"
	"go/token"
	"strings"
)

// typeString writes a type expression the way the report shows it: on one
// line, parameter and result names dropped (they are not part of the
// contract), everything else as written in the source.
func typeString(e ast.Expr) string {
	switch t := e.(type) {
	case nil:
		return ""
	case *ast.Ident:
		return t.Name
	case *ast.SelectorExpr:
		return typeString(t.X) + "." + t.Sel.Name
	case *ast.StarExpr:
		return "*" + typeString(t.X)
	case *ast.ParenExpr:
		return "(" + typeString(t.X) + ")"
	case *ast.Ellipsis:
		return "..." + typeString(t.Elt)
	case *ast.ArrayType:
		if t.Len == nil {
			return "[]" + typeString(t.Elt)
		}
		return "[" + exprString(t.Len) + "]" + typeString(t.Elt)
	case *ast.MapType:
		return "map[" + typeString(t.Key) + "]" + typeString(t.Value)
	case *ast.ChanType:
		return chanString(t)
	case *ast.FuncType:
		return "func" + signature(t)
	case *ast.IndexExpr:
		return typeString(t.X) + "[" + typeString(t.Index) + "]"
	case *ast.IndexListExpr:
		return typeString(t.X) + "[" + typeList(t.Indices) + "]"
	case *ast.UnaryExpr:
		return t.Op.String() + typeString(t.X)
	case *ast.BinaryExpr:
		return typeString(t.X) + " " + t.Op.String() + " " + typeString(t.Y)
	case *ast.StructType:
		return inlineFields("struct", t.Fields)
	case *ast.InterfaceType:
		return inlineFields("interface", t.Methods)
	}
	return exprString(e)
}

func chanString(t *ast.ChanType) string {
	switch t.Dir {
	case ast.SEND:
		return "chan<- " + typeString(t.Value)
	case ast.RECV:
		return "<-chan " + typeString(t.Value)
	}
	return "chan " + typeString(t.Value)
}

func typeList(es []ast.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = typeString(e)
	}
	return strings.Join(parts, ", ")
}

// signature is "(params) results" without names: "(context.Context, int)
// error", "(string) (*T, error)".
func signature(f *ast.FuncType) string {
	s := "(" + strings.Join(fieldTypes(f.Params), ", ") + ")"
	res := fieldTypes(f.Results)
	switch {
	case len(res) == 1:
		s += " " + res[0]
	case len(res) > 1:
		s += " (" + strings.Join(res, ", ") + ")"
	}
	return s
}

// fieldTypes lists one type per parameter: "a, b int" is two ints.
func fieldTypes(fl *ast.FieldList) []string {
	if fl == nil {
		return nil
	}
	var out []string
	for _, f := range fl.List {
		n := max(len(f.Names), 1)
		for range n {
			out = append(out, typeString(f.Type))
		}
	}
	return out
}

// typeParams is "[K comparable, V any]", or "" for a non-generic name.
func typeParams(fl *ast.FieldList) string {
	if fl == nil || len(fl.List) == 0 {
		return ""
	}
	var parts []string
	for _, f := range fl.List {
		for _, n := range f.Names {
			parts = append(parts, n.Name+" "+typeString(f.Type))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// inlineFields shows an anonymous struct or interface on one line, with
// only its exported members (the unexported ones are not reachable).
func inlineFields(kw string, fl *ast.FieldList) string {
	parts := members(fl, kw == "interface")
	if len(parts) == 0 {
		return kw + "{}"
	}
	return kw + "{ " + strings.Join(parts, "; ") + " }"
}

// members lists the exported members of a struct's fields or an
// interface's methods, one string each: "Name Type", "embedded T",
// "Method(params) results" (iface), or a type-set element such as
// "~int | ~int64".
func members(fl *ast.FieldList, iface bool) []string {
	if fl == nil {
		return nil
	}
	var out []string
	for _, f := range fl.List {
		if len(f.Names) == 0 {
			if embeddedExported(f.Type) {
				out = append(out, "embedded "+typeString(f.Type))
			} else if _, ok := f.Type.(*ast.BinaryExpr); ok {
				out = append(out, typeString(f.Type))
			} else if u, ok := f.Type.(*ast.UnaryExpr); ok && u.Op == token.TILDE {
				out = append(out, typeString(f.Type))
			}
			continue
		}
		for _, n := range f.Names {
			if !n.IsExported() {
				continue
			}
			if ft, ok := f.Type.(*ast.FuncType); ok && iface {
				out = append(out, n.Name+signature(ft))
			} else {
				out = append(out, n.Name+" "+typeString(f.Type))
			}
		}
	}
	return out
}

// embeddedExported reports whether an embedded field or interface is
// reachable by a user: its type name is exported ("T", "*T", "pkg.T",
// "T[X]").
func embeddedExported(e ast.Expr) bool {
	switch t := e.(type) {
	case *ast.Ident:
		return t.IsExported()
	case *ast.StarExpr:
		return embeddedExported(t.X)
	case *ast.SelectorExpr:
		return t.Sel.IsExported()
	case *ast.IndexExpr:
		return embeddedExported(t.X)
	case *ast.IndexListExpr:
		return embeddedExported(t.X)
	}
	return false
}

// exprString prints any expression on one line, white space collapsed.
func exprString(e ast.Expr) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, token.NewFileSet(), e); err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
