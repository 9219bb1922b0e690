//go:build unix

package chaos

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/processor"
)

// TestFrozenCommitBeforeTheNewClaim replays, on the real database, log and
// checker, the history of the one failure of check (c) in a short run (seed
// 1796407514989977245): a worker is frozen while a record of item 10 runs
// and while another of its threads holds the lock of item 4; its session
// expires, the lock delay passes, and the new owner's fetch of items 4 and
// 10 under the next epoch begins, then waits for item 4's lock. After the
// SIGCONT the frozen deal commits record 95 before the new owner's claim of
// item 10 is granted, so the database takes the commit (it is not stale
// there) and the new owner finds the record done. No record ran twice and
// no write landed under a newer owner: the checker counts it with the
// frozen executions, not as a violation.
func TestFrozenCommitBeforeTheNewClaim(t *testing.T) {
	const period = int64(400 * time.Millisecond)
	dir := t.TempDir()
	db, err := OpenDB(filepath.Join(dir, "db"), Mono()-200*period, period)
	require.NoError(t, err)
	var mu sync.Mutex
	var logErrs []error
	logTo := func(name string, hook func(kind, item string)) func(string, int64, ...any) {
		l, err := CreateLog(filepath.Join(dir, name+".log"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		return func(kind string, at int64, args ...any) {
			if err := l.LineAt(kind, at, args...); err != nil {
				mu.Lock()
				logErrs = append(logErrs, err)
				mu.Unlock()
			}
			if hook != nil {
				hook(kind, args[0].(string))
			}
		}
	}
	const oldEpoch, newEpoch = 4294967338, 4294967339
	items := func(epoch int64) processor.SelectRequest {
		return processor.SelectRequest{FetchNum: 400, Items: []processor.TaskItem{{ID: "4", Epoch: epoch}, {ID: "10", Epoch: epoch}}}
	}

	// w2.4 owns items 4 and 10 and begins record 95 of item 10.
	oldLine := logTo("w2.4", nil)
	recs, err := claimRecords(db, oldLine, items(oldEpoch))
	require.NoError(t, err)
	require.Contains(t, recs, record{item: "10", epoch: oldEpoch, n: 95})
	oldLine("B", Mono(), "10", oldEpoch, 95)

	// SIGSTOP while another thread of w2.4 is inside item 4's lock.
	held, thaw, holderDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		holderDone <- db.locked("4", func(*itemState) (bool, error) {
			close(held)
			<-thaw
			return false, nil
		})
	}()
	<-held
	from := Mono()

	// Session expired, lock delay over: w1.3 fetches both items under the
	// next epoch; its claim of item 4 waits for the frozen worker's lock.
	fetchBegan := make(chan struct{})
	newLine := logTo("w1.3", func(kind, item string) {
		if kind == "F" && item == "10" {
			close(fetchBegan)
		}
	})
	type fetched struct {
		recs []record
		err  error
	}
	newFetch := make(chan fetched, 1)
	go func() {
		recs, err := claimRecords(db, newLine, items(newEpoch))
		newFetch <- fetched{recs, err}
	}()
	<-fetchBegan

	// SIGCONT: the deal's timer fired while frozen, its context is not
	// cancelled yet (the fence guard has not run), so it commits.
	to := Mono()
	oldLine("E", Mono(), "10", oldEpoch, 95, OutcomeDone)
	ok, err := db.Commit("10", oldEpoch, 95)
	require.NoError(t, err)
	assert.True(t, ok, "the database takes the commit: the newer epoch has not claimed item 10 yet")
	close(thaw)
	require.NoError(t, <-holderDone)
	got := <-newFetch
	require.NoError(t, got.err)
	assert.False(t, slices.Contains(got.recs, record{item: "10", epoch: newEpoch, n: 95}), "the new owner finds record 95 done")
	mu.Lock()
	require.Empty(t, logErrs)
	mu.Unlock()

	var logs []WorkerLog
	for _, w := range []string{"w2.4", "w1.3"} {
		wl, err := ReadLog(filepath.Join(dir, w+".log"), w, 0)
		require.NoError(t, err)
		logs = append(logs, wl)
	}
	r := Check(Input{Logs: logs, Freezes: []Freeze{{Worker: "w2.4", From: from, To: to}}, ResumeGrace: 500 * time.Millisecond})
	assert.Empty(t, r.Violations)
	assert.Equal(t, 1, r.FrozenSpans)
	assert.Equal(t, 1, r.FrozenCommitted)
}
