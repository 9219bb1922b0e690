package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// TestOrdersDeleteReapply: an operator deletes the task type with force
// while the workers run (tbsctl delete taskType --force) and applies it
// again. The items come back with epochs above every epoch handed out
// before, so the database, which keeps the highest epoch per item, accepts
// the new owners: every order is done, and the only writes the epoch check
// refuses are those of owners from before the delete.
func TestOrdersDeleteReapply(t *testing.T) {
	c := zktest.Shared(t)
	root := c.UniqueRoot(t)
	zkArgs := []string{"-zk", strings.Join(c.Servers(), ","), "-root", root, "-session", "3s"}
	db := filepath.Join(t.TempDir(), "orders.db")
	const baseOrders, testOrders = 1500, 300
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()

	require.Equal(t, 0, runMain(ctx, []string{"seed", "-db", db, "-base", fmt.Sprint(baseOrders), "-test", fmt.Sprint(testOrders)}, os.Stdout, os.Stderr))
	require.Equal(t, 0, runMain(ctx, append([]string{"setup"}, zkArgs...), os.Stdout, os.Stderr))
	var workers []*worker
	for _, name := range []string{"w1", "w2", "t1"} {
		workers = append(workers, startWorker(t, append(append([]string{"work"}, zkArgs...), "-db", db, "-name", name)))
	}
	sqlDB, err := openDB(db)
	require.NoError(t, err)
	defer sqlDB.Close()
	pending := func() int {
		var n int
		require.NoError(t, sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE status = 'new'`).Scan(&n))
		return n
	}
	store, err := zkstore.Open(ctx, zkstore.Config{Servers: c.Servers(), Root: root})
	require.NoError(t, err)
	defer store.Close()
	runtimes := []string{taskType, taskType + "$" + testOwnSign}
	defer func() { // runs before sqlDB.Close, also after a failed wait
		var left, stale int
		_ = sqlDB.QueryRow(`SELECT count(*) FROM orders WHERE status = 'new'`).Scan(&left)
		_ = sqlDB.QueryRow(`SELECT count(*) FROM attempts WHERE outcome = 'stale_epoch'`).Scan(&stale)
		t.Logf("after %v: %d orders pending, %d stale-epoch refusals", time.Since(start).Round(time.Millisecond), left, stale)
	}()

	waitFor(t, 45*time.Second, "a third of the orders done", func() bool { return pending() <= (baseOrders+testOrders)*2/3 })
	before := epochs(ctx, t, store, runtimes)
	require.NoError(t, strategy.NewAdmin(store, strategy.AdminConfig{}).DeleteTaskType(ctx, taskType, true))
	require.Equal(t, 0, runMain(ctx, append([]string{"setup"}, zkArgs...), os.Stdout, os.Stderr))
	t.Logf("deleted and applied again after %v with %d orders pending", time.Since(start).Round(time.Millisecond), pending())

	waitFor(t, 60*time.Second, "every order done after the task type came back", func() bool { return pending() == 0 })
	t.Logf("all orders done after %v", time.Since(start).Round(time.Millisecond))
	after := epochs(ctx, t, store, runtimes)
	for _, w := range workers {
		w.terminate(t)
	}

	require.NotEmpty(t, before, "no item was owned before the delete")
	compared := 0
	for key, old := range before {
		if now, ok := after[key]; ok {
			compared++
			assert.Greater(t, now, old, "%s: the epoch after the delete is not above the one before", key)
		}
	}
	require.NotZero(t, compared, "no item owned both before the delete and at the end")
	refused := staleEpochs(ctx, t, sqlDB)
	for key, epoch := range refused {
		assert.LessOrEqual(t, epoch, before[key], "%s: an owner granted after the delete was refused", key)
	}
	reps, err := check(ctx, sqlDB)
	require.NoError(t, err)
	for _, r := range reps {
		assert.Equal(t, r.Rows, r.Done, "%s", r)
		assert.Zero(t, r.Duplicates, "%s", r)
		t.Log(r)
	}
}

// epochs reads the epoch of every owned item of the runtimes, keyed
// "ownSign/item".
func epochs(ctx context.Context, t *testing.T, store storekit.ItemStore, runtimes []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, rt := range runtimes {
		_, ownSign, err := schedule.SplitRuntimeName(rt)
		require.NoError(t, err)
		snap, err := store.Items(ctx, rt)
		require.NoError(t, err)
		for _, it := range snap.Items {
			if it.CurServer != "" {
				out[ownSign+"/"+string(it.ID)] = it.Epoch
			}
		}
	}
	return out
}

// staleEpochs returns the highest epoch the database refused, per
// "ownSign/item".
func staleEpochs(ctx context.Context, t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT own_sign, order_id % ?, max(epoch), count(*) FROM attempts
		WHERE outcome = 'stale_epoch' GROUP BY 1, 2`, numItems)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int64{}
	total := 0
	for rows.Next() {
		var ownSign string
		var item, n int
		var epoch int64
		require.NoError(t, rows.Scan(&ownSign, &item, &epoch, &n))
		out[fmt.Sprintf("%s/%d", ownSign, item)] = epoch
		total += n
	}
	require.NoError(t, rows.Err())
	t.Logf("stale-epoch refusals: %d, on %d items", total, len(out))
	return out
}
