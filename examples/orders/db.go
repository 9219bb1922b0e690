package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"

	"github.com/tbschedule/tbschedule-go/processor"
)

// The schema. orders is the work: a row is an order to process, of one
// environment (own_sign). item_epochs is the fencing state: per ownSign and
// task item, the highest epoch (fencing token) that has written. attempts
// records every execution that reached the database, with its outcome, so
// that "processed exactly once" is computed from facts.
const schema = `
CREATE TABLE IF NOT EXISTS orders (
	id         INTEGER PRIMARY KEY,
	own_sign   TEXT    NOT NULL,
	status     TEXT    NOT NULL DEFAULT 'new',   -- new | done
	done_by    TEXT,
	done_epoch INTEGER
);
CREATE INDEX IF NOT EXISTS orders_pending ON orders (own_sign, status, id);
CREATE TABLE IF NOT EXISTS item_epochs (
	own_sign TEXT    NOT NULL,
	item     INTEGER NOT NULL,
	epoch    INTEGER NOT NULL,
	PRIMARY KEY (own_sign, item)
);
CREATE TABLE IF NOT EXISTS attempts (
	order_id INTEGER NOT NULL,
	own_sign TEXT    NOT NULL,
	worker   TEXT    NOT NULL,
	epoch    INTEGER NOT NULL,
	outcome  TEXT    NOT NULL                     -- done | already_done | stale_epoch
);
CREATE INDEX IF NOT EXISTS attempts_order ON attempts (order_id, outcome);`

// Outcomes of an execution.
const (
	outcomeDone        = "done"
	outcomeAlreadyDone = "already_done"
	outcomeStale       = "stale_epoch"
)

// errStale: the item was granted to another owner with a higher epoch; this
// server's write is refused (it is a stale owner).
var errStale = errors.New("orders: stale epoch, the item has a newer owner")

// openDB opens (and creates) the SQLite database at path, set up for
// several processes: WAL journal, a busy timeout, and write transactions
// that take the write lock at BEGIN (so two writers never deadlock on an
// upgrade).
func openDB(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("-db: a database file is required")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	return db, nil
}

// seed inserts n new orders of ownSign, with ids following the largest.
func seed(ctx context.Context, db *sql.DB, ownSign string, n int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO orders (own_sign) VALUES (?)`)
	if err != nil {
		return err
	}
	for range n {
		if _, err := stmt.ExecContext(ctx, ownSign); err != nil {
			return fmt.Errorf("seed %s: %w", ownSign, err)
		}
	}
	return tx.Commit()
}

// order is one fetched row, with the item it belongs to and the epoch of
// the grant under which it was fetched.
type order struct {
	ID    int64
	Item  int
	Epoch int64
}

// orderDeal is the TBSchedule deal of the orders task type.
type orderDeal struct {
	db     *sql.DB
	worker string
}

// SelectTasks returns up to FetchNum new orders of the request's ownSign
// whose id mod TaskItemNum is one of the request's items: TBSchedule's
// canonical "mod(id, taskItemNum) in (items)" query.
func (d orderDeal) SelectTasks(ctx context.Context, req processor.SelectRequest) ([]order, error) {
	if req.TaskItemNum <= 0 {
		return nil, fmt.Errorf("orders: TaskItemNum %d must be positive", req.TaskItemNum)
	}
	epochs := map[int]int64{}
	marks := make([]string, 0, len(req.Items))
	args := []any{req.OwnSign, req.TaskItemNum}
	for _, it := range req.Items {
		n, err := strconv.Atoi(it.ID)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("orders: task item %q is not a non-negative integer (id mod taskItemNum needs one)", it.ID)
		}
		epochs[n] = it.Epoch
		marks = append(marks, "?")
		args = append(args, n)
	}
	args = append(args, req.FetchNum)
	rows, err := d.db.QueryContext(ctx, `SELECT id FROM orders
		WHERE own_sign = ? AND status = 'new' AND (id % ?) IN (`+strings.Join(marks, ",")+`)
		ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("orders: select: %w", err)
	}
	defer rows.Close()
	var out []order
	for rows.Next() {
		var o order
		if err := rows.Scan(&o.ID); err != nil {
			return nil, err
		}
		o.Item = int(o.ID % int64(req.TaskItemNum))
		o.Epoch = epochs[o.Item]
		out = append(out, o)
	}
	return out, rows.Err()
}

// Execute marks one order done, fenced by the epoch of its item: in one
// transaction it refuses the write if a newer owner of the item (higher
// epoch) has already written, records its own epoch otherwise, and marks
// the order done only if it is still new. Every attempt is recorded.
//
// Item ownership already keeps two servers from processing an item at the
// same time (package schedule); the epoch check is the data store's own
// defence against a stale owner, e.g. a process frozen past its session's
// expiry that wakes up and writes.
func (d orderDeal) Execute(ctx context.Context, o order, ownSign string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("orders: begin: %w", err)
	}
	defer tx.Rollback()
	outcome, err := d.execute(ctx, tx, o, ownSign)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (order_id, own_sign, worker, epoch, outcome)
		VALUES (?, ?, ?, ?, ?)`, o.ID, ownSign, d.worker, o.Epoch, outcome); err != nil {
		return fmt.Errorf("orders: record attempt on order %d: %w", o.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("orders: commit order %d: %w", o.ID, err)
	}
	if outcome == outcomeStale {
		return fmt.Errorf("order %d item %d epoch %d: %w", o.ID, o.Item, o.Epoch, errStale)
	}
	return nil
}

func (d orderDeal) execute(ctx context.Context, tx *sql.Tx, o order, ownSign string) (string, error) {
	var stored int64
	err := tx.QueryRowContext(ctx, `SELECT epoch FROM item_epochs WHERE own_sign = ? AND item = ?`,
		ownSign, o.Item).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return "", fmt.Errorf("orders: read epoch of item %d: %w", o.Item, err)
	case stored > o.Epoch:
		return outcomeStale, nil
	}
	if stored < o.Epoch {
		if _, err := tx.ExecContext(ctx, `INSERT INTO item_epochs (own_sign, item, epoch) VALUES (?, ?, ?)
			ON CONFLICT (own_sign, item) DO UPDATE SET epoch = excluded.epoch`, ownSign, o.Item, o.Epoch); err != nil {
			return "", fmt.Errorf("orders: write epoch of item %d: %w", o.Item, err)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'done', done_by = ?, done_epoch = ?
		WHERE id = ? AND own_sign = ? AND status = 'new'`, d.worker, o.Epoch, o.ID, ownSign)
	if err != nil {
		return "", fmt.Errorf("orders: mark order %d done: %w", o.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", err
	} else if n == 0 {
		return outcomeAlreadyDone, nil
	}
	return outcomeDone, nil
}

// signReport is the outcome of one ownSign, computed from the database.
type signReport struct {
	OwnSign     string
	Rows, Done  int
	ByWorker    map[string]int // orders done per worker
	Duplicates  int            // orders with more than one "done" attempt
	AlreadyDone int            // attempts on an order already done
	Stale       int            // attempts refused by the epoch check
	Unrecorded  int            // orders done without a "done" attempt
}

// OK reports whether every order of the ownSign was processed exactly once.
func (r signReport) OK() bool {
	return r.Rows > 0 && r.Done == r.Rows && r.Duplicates == 0 && r.AlreadyDone == 0 && r.Unrecorded == 0
}

func (r signReport) String() string {
	return fmt.Sprintf("%-5s rows %d, done %d, by worker %v, duplicates %d, attempts on done orders %d, stale-epoch refusals %d, unrecorded %d",
		r.OwnSign, r.Rows, r.Done, r.ByWorker, r.Duplicates, r.AlreadyDone, r.Stale, r.Unrecorded)
}

// check computes the report of every ownSign in the database.
func check(ctx context.Context, db *sql.DB) ([]signReport, error) {
	var reps []signReport
	rows, err := db.QueryContext(ctx, `SELECT own_sign, count(*), coalesce(sum(status = 'done'), 0)
		FROM orders GROUP BY own_sign ORDER BY own_sign`)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	for rows.Next() {
		r := signReport{ByWorker: map[string]int{}}
		if err := rows.Scan(&r.OwnSign, &r.Rows, &r.Done); err != nil {
			rows.Close()
			return nil, err
		}
		reps = append(reps, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range reps {
		r := &reps[i]
		q := []struct {
			dst   *int
			query string
		}{
			{&r.Duplicates, `SELECT count(*) FROM (SELECT order_id FROM attempts WHERE own_sign = ?1 AND outcome = 'done'
				GROUP BY order_id HAVING count(*) > 1)`},
			{&r.AlreadyDone, `SELECT count(*) FROM attempts WHERE own_sign = ?1 AND outcome = 'already_done'`},
			{&r.Stale, `SELECT count(*) FROM attempts WHERE own_sign = ?1 AND outcome = 'stale_epoch'`},
			{&r.Unrecorded, `SELECT count(*) FROM orders o WHERE o.own_sign = ?1 AND o.status = 'done' AND NOT EXISTS
				(SELECT 1 FROM attempts a WHERE a.order_id = o.id AND a.outcome = 'done')`},
		}
		for _, c := range q {
			if err := db.QueryRowContext(ctx, c.query, r.OwnSign).Scan(c.dst); err != nil {
				return nil, fmt.Errorf("check %s: %w", r.OwnSign, err)
			}
		}
		w, err := db.QueryContext(ctx, `SELECT done_by, count(*) FROM orders WHERE own_sign = ? AND status = 'done'
			GROUP BY done_by`, r.OwnSign)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", r.OwnSign, err)
		}
		for w.Next() {
			var name string
			var n int
			if err := w.Scan(&name, &n); err != nil {
				w.Close()
				return nil, err
			}
			r.ByWorker[name] = n
		}
		w.Close()
		if err := w.Err(); err != nil {
			return nil, err
		}
	}
	return reps, nil
}
