package processor

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/tbschedule/tbschedule-go/internal/dealrun"
)

// TaskItem is one task item a thread group owns while it fetches: its id, its
// parameter (the part in braces of "0:{TYPE=A}") and the epoch of the grant,
// a fencing token that grows with every change of owner. User code that writes
// data can check the epoch to refuse writes of a stale owner.
type TaskItem struct {
	ID        string
	Parameter string
	Epoch     int64
}

// SelectRequest is what SelectTasks is asked for: TBSchedule's selectTasks
// arguments.
type SelectRequest struct {
	// TaskParameter is the task type's parameter.
	TaskParameter string
	// OwnSign is the environment tag (BASE, DEV, ...).
	OwnSign string
	// TaskItemNum is the total number of items of the task type, so a query can
	// say "mod(id, TaskItemNum) in (Items)".
	TaskItemNum int
	// Items are the items to select records of, with their epochs. Never empty.
	Items []TaskItem
	// FetchNum is how many records to return at most (a hint).
	FetchNum int
}

// Selector fetches the records of the given items.
type Selector[T any] interface {
	// SelectTasks returns records of req.Items that still need processing.
	// The processor owns the returned slice afterwards (it may reorder and
	// overwrite it). An empty result means "no data" for now.
	SelectTasks(ctx context.Context, req SelectRequest) ([]T, error)
}

// SingleDeal handles one record per call (TBSchedule's IScheduleTaskDealSingle).
type SingleDeal[T any] interface {
	Selector[T]
	// Execute processes one record. An error or a panic counts the record as
	// failed; the processor does not retry it (the record is processed again
	// only if a later SelectTasks returns it). ctx is cancelled when the
	// processor is fenced or its shutdown times out: stop touching data then.
	Execute(ctx context.Context, task T, ownSign string) error
}

// MultiDeal handles up to the task type's executeNumber records per call
// (TBSchedule's IScheduleTaskDealMulti).
type MultiDeal[T any] interface {
	Selector[T]
	// ExecuteBatch processes a batch of records of one fetch. The slice is
	// valid only during the call. An error or a panic counts every record of
	// the batch as failed. ctx is as for SingleDeal.Execute.
	ExecuteBatch(ctx context.Context, tasks []T, ownSign string) error
}

// Deal is a user's deal adapted to the processor by Single, Multi, SingleFunc
// or MultiFunc: the type parameter is erased, so one factory can register deals
// of many record types by bean name. Deals are immutable and may be used by
// several processors at once (each processor keeps its own in-flight keys).
type Deal interface {
	// String describes the deal, e.g. "single deal of main.Order (key: WithKey)".
	String() string

	// erased returns the construction data; unexported so that only this
	// package makes Deals.
	erased() *dealrun.Info[SelectRequest]
}

// DealOption configures Single, Multi, SingleFunc and MultiFunc.
type DealOption[T any] func(*dealSpec[T])

// WithKey sets the key of a record for NOTSLEEP deduplication: two records
// with equal keys are the same record, and a fetched record is dropped when a
// record with its key is queued or executing, or finished while the
// SelectTasks call that returned it ran (the call may have read it before it
// was marked done). key must be a pure function of the record (it is called
// once per fetched record, on the fetching goroutine, without locks held, and
// for a record whose deal failed). A nil key is a construction error (the
// manager refuses the deal with schedule.ErrInvalid). SLEEP processors do
// not deduplicate (nothing executes while they fetch); both types use the
// key to hold back a record that failed until its backoff ends (see "Failed
// records" in the package doc).
func WithKey[T any, K comparable](key func(T) K) DealOption[T] {
	return func(s *dealSpec[T]) {
		if key == nil {
			s.keyDesc, s.mk = "nil WithKey", nil
			return
		}
		s.keyDesc = "WithKey"
		s.mk = keyedMaker(key)
	}
}

// Single adapts a SingleDeal. When no WithKey option is given and T is a
// string, boolean or integer type (named or not), the record itself is its key;
// any other type needs WithKey to run as NOTSLEEP (the manager refuses it
// with schedule.ErrInvalid).
// Structs are not keyed automatically on purpose: a row re-read with a changed
// status column would not equal its in-flight copy.
func Single[T any](d SingleDeal[T], opts ...DealOption[T]) Deal {
	s := dealSpec[T]{kind: "single"}
	if d == nil {
		s.err = fmt.Errorf("%w: Single: nil deal", errInvalid)
	} else {
		s.sel, s.one = d.SelectTasks, d.Execute
	}
	return s.build(opts)
}

// Multi adapts a MultiDeal; keys are as for Single.
func Multi[T any](d MultiDeal[T], opts ...DealOption[T]) Deal {
	s := dealSpec[T]{kind: "multi"}
	if d == nil {
		s.err = fmt.Errorf("%w: Multi: nil deal", errInvalid)
	} else {
		s.sel, s.batch = d.SelectTasks, d.ExecuteBatch
	}
	return s.build(opts)
}

// SingleFunc adapts two functions to a single deal; keys are as for Single.
func SingleFunc[T any](sel func(ctx context.Context, req SelectRequest) ([]T, error),
	exec func(ctx context.Context, task T, ownSign string) error, opts ...DealOption[T]) Deal {
	s := dealSpec[T]{kind: "single", sel: sel, one: exec}
	if sel == nil || exec == nil {
		s.err = fmt.Errorf("%w: SingleFunc: nil function", errInvalid)
	}
	return s.build(opts)
}

// MultiFunc adapts two functions to a multi deal; keys are as for Single.
func MultiFunc[T any](sel func(ctx context.Context, req SelectRequest) ([]T, error),
	exec func(ctx context.Context, tasks []T, ownSign string) error, opts ...DealOption[T]) Deal {
	s := dealSpec[T]{kind: "multi", sel: sel, batch: exec}
	if sel == nil || exec == nil {
		s.err = fmt.Errorf("%w: MultiFunc: nil function", errInvalid)
	}
	return s.build(opts)
}

// ItemsFromContext returns the items (with their epochs) of the fetch whose
// records the deal is executing, or nil outside a deal call. It is also set on
// the ctx of SelectTasks. The slice is shared: do not modify it.
func ItemsFromContext(ctx context.Context) []TaskItem {
	items, _ := ctx.Value(dealrun.ItemsKey{}).([]TaskItem)
	return items
}

// dealSpec is the typed description of a deal.
type dealSpec[T any] struct {
	kind    string // "single" or "multi"
	sel     func(context.Context, SelectRequest) ([]T, error)
	one     func(context.Context, T, string) error
	batch   func(context.Context, []T, string) error
	mk      func(*dealSpec[T], *dealrun.Env) dealRunner // nil: no key
	keyDesc string
	err     error // construction error, reported by the engine's New
}

// dealRunner is the runner of a deal, as the engine sees it.
type dealRunner = dealrun.Runner[SelectRequest]

type deal struct{ info dealrun.Info[SelectRequest] }

func (d *deal) String() string                       { return d.info.Desc }
func (d *deal) erased() *dealrun.Info[SelectRequest] { return &d.info }

// DealInfo implements dealrun.Source: the engine reads the deal through it.
func (d *deal) DealInfo() *dealrun.Info[SelectRequest] { return &d.info }

func typeName[T any]() string { return reflect.TypeFor[T]().String() }
func (s dealSpec[T]) build(opts []DealOption[T]) Deal {
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if s.keyDesc == "nil WithKey" {
		s.err = errors.Join(s.err, fmt.Errorf("%w: %s deal of %s: nil WithKey", errInvalid, s.kind, typeName[T]()))
	}
	if s.keyDesc == "" {
		if mk := autoKeys[T](); mk != nil {
			s.mk, s.keyDesc = mk, "the record itself"
		} else {
			s.keyDesc = "none"
		}
	}
	spec := s
	mk := s.mk
	if mk == nil {
		mk = keyedMaker[T, struct{}](nil)
	}
	return &deal{info: dealrun.Info[SelectRequest]{
		Desc:      fmt.Sprintf("%s deal of %s (key: %s)", s.kind, typeName[T](), s.keyDesc),
		Multi:     s.kind == "multi",
		Keyed:     s.mk != nil,
		Err:       s.err,
		NewRunner: func(e *dealrun.Env) dealRunner { return mk(&spec, e) },
	}}
}

// autoKeys returns a runner maker keyed by the record itself when T's values
// are their own identity: strings, booleans and integers. Exact predeclared
// types get a typed map (no allocation per record); named types go through a
// map keyed by interface (an allocation per record for most values).
func autoKeys[T any]() func(*dealSpec[T], *dealrun.Env) dealRunner {
	var zero T
	switch any(zero).(type) {
	case string:
		return identityKeys[T, string]()
	case int:
		return identityKeys[T, int]()
	case int64:
		return identityKeys[T, int64]()
	case int32:
		return identityKeys[T, int32]()
	case uint64:
		return identityKeys[T, uint64]()
	case uint32:
		return identityKeys[T, uint32]()
	case uint:
		return identityKeys[T, uint]()
	}
	switch reflect.TypeFor[T]().Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return keyedMaker(func(v T) any { return v })
	}
	return nil
}

// identityKeys builds a runner maker for a T that is exactly K.
func identityKeys[T any, K comparable]() func(*dealSpec[T], *dealrun.Env) dealRunner {
	return keyedMaker(any(func(v K) K { return v }).(func(T) K))
}
