// Package q is an internal package whose types p exports by alias.
package q

// T is exported by p as Aliased.
type T struct {
	F      int
	hidden int
}

// M is listed under p's alias.
func (*T) M() string { return "" }

func (T) unexported() {}

// I is exported by p as AliasedI.
type I interface {
	N() int
}
