package schedule

import (
	"errors"

	"github.com/tbschedule/tbschedule-go/internal/apierr"
)

// Sentinel errors of the schedule package and of every storekit.Store
// implementation. Store implementations wrap them with the operation and the path, and keep the
// underlying client error reachable too, so both errors.Is(err, ErrConflict) and
// errors.Is(err, zk.ErrBadVersion) hold for a failed ZooKeeper compare-and-set.
var (
	// ErrNotFound: the node (task type, strategy, server, item...) does not exist.
	ErrNotFound = errors.New("schedule: not found")
	// ErrExists: a create found the node already there.
	ErrExists = errors.New("schedule: already exists")
	// ErrConflict: a version-checked write lost the race, or its guard (the
	// writer's own registration) no longer exists.
	ErrConflict = errors.New("schedule: version conflict")
	// ErrSessionLost: the session the caller acted for has expired; ephemeral
	// registrations made under it are gone and must be made again.
	ErrSessionLost = errors.New("schedule: session lost")
	// ErrClosed: the store (or the object) has been closed.
	ErrClosed = errors.New("schedule: closed")
	// ErrPermission: the store refused the write for lack of credentials (ACL).
	ErrPermission = errors.New("schedule: permission denied")
	// ErrCorrupt: a node holds data that does not decode; the error names the path.
	// Nothing is overwritten when this is returned.
	ErrCorrupt = errors.New("schedule: corrupt data")
	// ErrSchema: the root was written by an incompatible schema or software.
	ErrSchema = errors.New("schedule: incompatible schema")
	// ErrInvalid: a configuration, name, item definition or argument is
	// invalid; the error names every field at fault. Every validation of
	// every package of the library wraps it: TaskType, Strategy and
	// ManagerConfig here, the deals of package processor (built from nil
	// parts, or a NOTSLEEP deal without a key), strategy.Config,
	// zkstore.Config and the names and paths of the stores.
	ErrInvalid error = apierr.ErrInvalid
	// ErrRunning: Run was called on an object whose Run is in progress
	// (a thread group's manager) or was called already (strategy.Factory,
	// which also refuses registrations once Run has been called).
	ErrRunning error = apierr.ErrRunning
	// ErrNotEmpty: a delete found children that must not be removed with it
	// (for example a runtime that still has live servers).
	ErrNotEmpty = errors.New("schedule: not empty")
	// ErrStopIncomplete: a thread group's graceful stop did not finish a step
	// within ManagerConfig.StopTimeout; the error names what was left (a
	// deal still running, the server node, unreleased items). What is left
	// on the coordination service vanishes with the session.
	ErrStopIncomplete = errors.New("schedule: stop incomplete")
)

// PanicError is the error a panic of user code becomes when the library
// recovers it: a deal's SelectTasks, Execute or ExecuteBatch, a key function
// (processor.WithKey), a Bean task's Start. Test for it with errors.As; it
// unwraps to the panic value when that is an error. Every package returns
// this one type.
type PanicError = apierr.PanicError
