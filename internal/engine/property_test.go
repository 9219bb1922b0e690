package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tbschedule/tbschedule-go/processor"
)

// propDB is a table of records 0..total-1; record r belongs to item
// r % itemNum. Its deal checks the processor's guarantees as it runs.
type propDB struct {
	t       *testing.T
	mode    processor.Type
	execNum int
	itemNum int

	mu        sync.Mutex
	done      []bool
	execCount []int
	executing []int
	running   int             // deal calls in progress
	released  map[string]bool // items whose Release channel closed (not re-added)
	failures  int
}

func (db *propDB) errorf(format string, args ...any) {
	db.failures++
	if db.failures < 10 {
		db.t.Errorf(format, args...)
	}
}

func (db *propDB) item(r int) string { return strconv.Itoa(r % db.itemNum) }

func (db *propDB) selectTasks(ctx context.Context, req processor.SelectRequest) ([]int, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.mode == processor.Sleep && db.running != 0 {
		db.errorf("SLEEP fetched while %d deal calls run", db.running)
	}
	if !slices.Equal(req.Items, processor.ItemsFromContext(ctx)) {
		db.errorf("ctx items %v != request items %v", processor.ItemsFromContext(ctx), req.Items)
	}
	want := map[string]bool{}
	for _, it := range req.Items {
		want[it.ID] = true
		if db.released[it.ID] {
			db.errorf("fetch for released item %s", it.ID)
		}
	}
	n := rand.IntN(req.FetchNum + 1)
	if rand.IntN(4) > 0 {
		n = req.FetchNum
	}
	var out []int
	for r, d := range db.done {
		if len(out) == n {
			break
		}
		if !d && want[db.item(r)] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (db *propDB) execute(ctx context.Context, recs []int) {
	if len(recs) == 0 || len(recs) > db.execNum {
		db.mu.Lock()
		db.errorf("batch of %d records, executeNumber %d", len(recs), db.execNum)
		db.mu.Unlock()
	}
	ctxItems := map[string]bool{}
	for _, it := range processor.ItemsFromContext(ctx) {
		ctxItems[it.ID] = true
	}
	db.mu.Lock()
	db.running++
	for _, r := range recs {
		if !ctxItems[db.item(r)] {
			db.errorf("record %d executed with items %v", r, processor.ItemsFromContext(ctx))
		}
		if db.released[db.item(r)] {
			db.errorf("record %d of released item %s executed", r, db.item(r))
		}
		if db.executing[r]++; db.executing[r] > 1 {
			db.errorf("record %d executed twice at once", r)
		}
	}
	db.mu.Unlock()
	// A random length of work (not a wait): some executions are long, some
	// yield, most return at once, to vary the interleavings.
	switch x := rand.IntN(10); {
	case x == 0:
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	case x < 3:
		runtime.Gosched() // a zero sleep returned at once without yielding
	}
	db.mu.Lock()
	for _, r := range recs {
		db.done[r] = true
		db.execCount[r]++
		db.executing[r]--
	}
	db.running--
	db.mu.Unlock()
}

func (db *propDB) allDone() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return !slices.Contains(db.done, false)
}

// TestProperties runs random configurations, deal latencies, fetch sizes,
// releases and fences, and checks: every record is executed exactly once;
// NOTSLEEP never executes a record twice at once; SLEEP never fetches while
// a deal runs; batches respect executeNumber; nothing of a released item runs
// after its Release channel closed; nothing runs after Fence's channel closed.
func TestProperties(t *testing.T) {
	iters := 20
	if testing.Short() {
		iters = 5
	}
	if n, err := strconv.Atoi(os.Getenv("PROCESSOR_PROPERTY_ITERS")); err == nil && n > 0 {
		iters = n // soak: PROCESSOR_PROPERTY_ITERS=500 go test -race -run TestProperties
	}
	for _, mode := range modes {
		for _, multi := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/multi=%v", mode, multi), func(t *testing.T) {
				for i := range iters {
					seed := uint64(i)*7919 + 17
					if multi {
						seed += 1
					}
					t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { runProperty(t, mode, multi, seed) })
				}
			})
		}
	}
}

func runProperty(t *testing.T, mode processor.Type, multi bool, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	itemNum := 1 + rng.IntN(6)
	total := rng.IntN(300)
	cfg := testConfig(mode, 1+rng.IntN(6))
	cfg.FetchDataNumber = 1 + rng.IntN(40)
	cfg.ExecuteNumber = 1
	if multi {
		cfg.ExecuteNumber = 1 + rng.IntN(6)
	}
	cfg.SleepTimeNoData = time.Millisecond
	cfg.TaskItemNum = itemNum
	db := &propDB{t: t, mode: mode, execNum: cfg.ExecuteNumber, itemNum: itemNum,
		done: make([]bool, total), execCount: make([]int, total), executing: make([]int, total),
		released: map[string]bool{}}
	var deal processor.Deal
	if multi {
		deal = processor.MultiFunc(db.selectTasks, func(ctx context.Context, recs []int, _ string) error {
			db.execute(ctx, recs)
			return nil
		})
	} else {
		deal = processor.SingleFunc(db.selectTasks, func(ctx context.Context, r int, _ string) error {
			db.execute(ctx, []int{r})
			return nil
		})
	}
	p, err := New(deal, cfg)
	require.NoError(t, err)
	owned := map[string]int64{} // item -> epoch
	setItems := func() {
		var its []processor.TaskItem
		for id := range itemNum {
			s := strconv.Itoa(id)
			if e, ok := owned[s]; ok {
				its = append(its, processor.TaskItem{ID: s, Epoch: e})
			}
		}
		p.SetItems(its)
	}
	for id := range itemNum {
		owned[strconv.Itoa(id)] = 1
	}
	run := start(t, p)
	setItems()

	deadline := time.Now().Add(20 * time.Second)
	for !db.allDone() {
		require.True(t, time.Now().Before(deadline), "records left undone: stats %+v", p.Stats())
		switch x := rng.IntN(10); {
		case x < 5:
			// Let the processor work a random while before the next
			// action: the pace of this random driver, not a wait for
			// anything (the loop ends on allDone, whatever happened).
			time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		case x < 8: // hand some items over and take them back
			var ids []string
			for id := range owned {
				if rng.IntN(2) == 0 {
					ids = append(ids, id)
				}
			}
			ch := p.Release(ids)
			closed(t, ch, "release")
			db.mu.Lock()
			for _, id := range ids {
				db.released[id] = true
				delete(owned, id)
			}
			db.mu.Unlock()
			// The items stay away a random while (the behaviour under
			// test: nothing of them may run meanwhile), not a wait.
			time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
			db.mu.Lock()
			for _, id := range ids {
				db.released[id] = false
				owned[id] = 2 + int64(rng.IntN(100))
			}
			db.mu.Unlock()
			setItems()
		default: // a session in doubt
			ch := p.Fence()
			closed(t, ch, "fence")
			db.mu.Lock()
			if db.running != 0 {
				db.errorf("%d deal calls run after Fence's channel closed", db.running)
			}
			db.mu.Unlock()
			p.Unfence()
		}
	}
	all := make([]string, 0, itemNum)
	for id := range itemNum {
		all = append(all, strconv.Itoa(id))
	}
	closed(t, p.Release(all), "final release")
	require.NoError(t, run.stop())

	for r, n := range db.execCount {
		if n != 1 {
			t.Fatalf("record %d executed %d times", r, n)
		}
	}
	s := p.Stats()
	assert.EqualValues(t, total, s.Succeeded)
	assert.Zero(t, s.Failed)
	assert.Zero(t, s.Dropped)
	assert.Equal(t, s.Fetched, s.Succeeded+s.DuplicatesSuppressed+s.Fenced, "stats %+v", s)
	if mode == processor.Sleep {
		assert.Zero(t, s.DuplicatesSuppressed)
	}
	st := p.Status()
	assert.Zero(t, st.Unfinished)
	assert.Zero(t, st.Queued)
}
