//go:build unix

package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// DB is the data the workers process: a directory on the host shared by
// every worker process, one state file per item behind an flock, as a
// table in a database would be. Per item it keeps which records are done and
// the highest epoch an owner has claimed it with: a claim or a commit under a
// lower epoch is refused, which is how a deal fences its own writes with the
// epoch the library hands it (the fencing token).
//
// Records appear over time: record n of an item exists from its birth +
// n*period on (CLOCK_MONOTONIC; the birth is the origin for the items of the
// start, the time it was added for the others), so the set of records that
// must be processed by some instant is known to the checker.
type DB struct {
	dir    string
	origin int64 // Mono() of record 0
	period int64 // ns between records of an item
}

// OpenDB opens (creating) the database in dir.
func OpenDB(dir string, origin, period int64) (*DB, error) {
	if period <= 0 {
		return nil, fmt.Errorf("chaos: record period %d must be positive", period)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: db: %w", err)
	}
	return &DB{dir: dir, origin: origin, period: period}, nil
}

// Born records that item appears at the Mono() instant at: its record n
// exists from at + n*period on. An item without a birth record was born at
// the origin. A second call for an item changes nothing.
func (db *DB) Born(item string, at int64) error {
	if err := checkItem(item); err != nil {
		return err
	}
	f, err := os.OpenFile(db.path(item)+".born", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("chaos: db: %w", err)
	}
	// Written before the item is named in the task type, so no reader
	// sees it half-written.
	if _, err := fmt.Fprintf(f, "%d\n", at); err != nil {
		_ = f.Close()
		return fmt.Errorf("chaos: db: %w", err)
	}
	return f.Close()
}

// Available returns how many records item has at the monotonic instant at
// (records 0..n-1).
func (db *DB) Available(item string, at int64) (int64, error) {
	born := db.origin
	data, err := os.ReadFile(db.path(item) + ".born")
	switch {
	case err == nil:
		if born, err = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err != nil {
			return 0, fmt.Errorf("chaos: db: birth of %s: %w", item, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("chaos: db: %w", err)
	}
	if at < born {
		return 0, nil
	}
	return (at-born)/db.period + 1, nil
}

func checkItem(item string) error {
	if item == "" || strings.ContainsAny(item, "/\x00") {
		return fmt.Errorf("chaos: db: bad item id %q", item)
	}
	return nil
}

// itemState is the stored state of one item.
type itemState struct {
	epoch int64
	low   int64              // every record below low is done
	done  map[int64]struct{} // done records at or above low
}

// Claim raises the item's epoch to epoch and returns up to max records
// available at now that are not done. stale reports that a newer owner has
// claimed the item already: then nothing is returned.
func (db *DB) Claim(item string, epoch, now int64, max int) (recs []int64, stale bool, err error) {
	err = db.locked(item, func(st *itemState) (bool, error) {
		if epoch < st.epoch {
			stale = true
			return false, nil
		}
		raised := epoch > st.epoch
		st.epoch = epoch
		avail, err := db.Available(item, now)
		if err != nil {
			return false, err
		}
		for n := st.low; n < avail && len(recs) < max; n++ {
			if _, ok := st.done[n]; !ok {
				recs = append(recs, n)
			}
		}
		return raised, nil
	})
	return recs, stale, err
}

// Commit marks rec done under epoch. It refuses (false) when a newer owner
// has claimed the item.
func (db *DB) Commit(item string, epoch, rec int64) (bool, error) {
	ok := false
	err := db.locked(item, func(st *itemState) (bool, error) {
		if epoch < st.epoch {
			return false, nil
		}
		ok = true
		st.epoch = epoch
		if rec >= st.low {
			st.done[rec] = struct{}{}
		}
		for {
			if _, d := st.done[st.low]; !d {
				break
			}
			delete(st.done, st.low)
			st.low++
		}
		return true, nil
	})
	return ok, err
}

// Low returns how many leading records of item are done.
func (db *DB) Low(item string) (int64, error) {
	var low int64
	err := db.locked(item, func(st *itemState) (bool, error) {
		low = st.low
		return false, nil
	})
	return low, err
}

func (db *DB) path(item string) string { return filepath.Join(db.dir, "item-"+item) }

// locked runs f on the item's state under its lock and stores the state if
// f says it changed (write to a temporary file, then rename: a process
// killed mid-write leaves the old state).
func (db *DB) locked(item string, f func(*itemState) (bool, error)) error {
	if err := checkItem(item); err != nil {
		return err
	}
	p := db.path(item)
	lock, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("chaos: db: %w", err)
	}
	defer lock.Close()
	for {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("chaos: db: lock %s: %w", p, err)
	}
	st, err := readState(p)
	if err != nil {
		return err
	}
	changed, err := f(st)
	if err != nil || !changed {
		return err
	}
	return writeState(p, st)
}

func readState(p string) (*itemState, error) {
	st := &itemState{done: map[int64]struct{}{}}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chaos: db: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return nil, fmt.Errorf("chaos: db: %s: corrupt state %q", p, data)
	}
	nums := make([]int64, len(f))
	for i, s := range f {
		if nums[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, fmt.Errorf("chaos: db: %s: corrupt state: %w", p, err)
		}
	}
	st.epoch, st.low = nums[0], nums[1]
	for _, n := range nums[2:] {
		st.done[n] = struct{}{}
	}
	return st, nil
}

func writeState(p string, st *itemState) error {
	done := make([]int64, 0, len(st.done))
	for n := range st.done {
		done = append(done, n)
	}
	sort.Slice(done, func(i, j int) bool { return done[i] < done[j] })
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d", st.epoch, st.low)
	for _, n := range done {
		fmt.Fprintf(&b, " %d", n)
	}
	b.WriteByte('\n')
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("chaos: db: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("chaos: db: %w", err)
	}
	return nil
}
