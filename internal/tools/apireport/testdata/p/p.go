// Package p holds one of each kind of declaration the report lists.
package p

import (
	"context"
	"errors"
	"time"

	"example.com/p/internal/q"
)

// Kind is typed; its constants repeat the type implicitly.
type Kind int

const (
	A Kind = iota
	B
	c
	D = 5 * time.Second
)

var ErrX = errors.New("p: x")

var Default = Config{}

var hidden, Shown int

// Config has exported, unexported, embedded and function fields.
type Config struct {
	Name, Host string
	port       int
	OnStop     func(context.Context) error
	Nested     struct{ A, b int }
	*Embedded
	unexported
}

type Embedded struct{}
type unexported struct{}

// Store has methods, an embedded interface and an unexported method.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Watch(context.Context) <-chan struct{}
	Getter
	private()
}

type Getter interface {
	Get(context.Context, string) ([]byte, error)
}

type Number interface{ ~int | ~int64 }

type List[T any] struct{ Items []T }

type Alias = Config

func (l *List[T]) Len() int      { return len(l.Items) }
func (c Config) Validate() error { return nil }
func (c Config) check() error    { return nil }
func (u unexported) Exported()   {}

func New(a, b string, opts ...func(*Config)) (*Config, error) { return nil, nil }

func Map[T, U any](in []T, f func(T) U) []U { return nil }

func helper() {}

// Aliased names a type of an internal package: its fields and methods are
// listed under this name.
type Aliased = q.T

// AliasedI names an interface of an internal package.
type AliasedI = q.I
