package itest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
)

// execution is one run of a deal on one record.
type execution struct {
	server     string // which manager ran it
	item       string
	epoch      int64
	record     int64
	start, end time.Time // local monotonic clock of the test process
	cancelled  bool
}

// recorder collects the executions of every manager of a test.
type recorder struct {
	mu    sync.Mutex // guards execs, next and calls
	execs []execution
	next  map[string]int64 // next record number per item
	calls int
	// inFlight counts the executions started and not yet ended, per server.
	inFlight map[string]int
}

func newRecorder() *recorder { return &recorder{next: map[string]int64{}, inFlight: map[string]int{}} }

type record struct {
	item  string
	epoch int64
	n     int64
}

// deal returns the deal of one manager: each fetch hands out fresh records of
// the items it is given (an endless stream per item), and each execution
// takes d (or until its context is cancelled) and is recorded.
func (r *recorder) deal(server string, d time.Duration) processor.Deal {
	return processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]record, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			var out []record
			// Start at a rotating item, so every item gets records even when
			// FetchNum is smaller than two per item.
			r.calls++
			for k := range req.Items {
				it := req.Items[(k+r.calls)%len(req.Items)]
				for i := 0; i < 2 && len(out) < req.FetchNum; i++ {
					n := r.next[it.ID]
					r.next[it.ID] = n + 1
					out = append(out, record{item: it.ID, epoch: it.Epoch, n: n})
				}
			}
			return out, nil
		},
		func(ctx context.Context, rec record, ownSign string) error {
			start := time.Now()
			r.mu.Lock()
			r.inFlight[server]++
			r.mu.Unlock()
			t := time.NewTimer(d)
			defer t.Stop()
			cancelled := false
			select {
			case <-t.C:
			case <-ctx.Done():
				cancelled = true
			}
			r.mu.Lock()
			r.execs = append(r.execs, execution{server: server, item: rec.item, epoch: rec.epoch, record: rec.n, start: start, end: time.Now(), cancelled: cancelled})
			r.inFlight[server]--
			r.mu.Unlock()
			return ctx.Err()
		},
		processor.WithKey(func(r record) string { return fmt.Sprintf("%s/%d", r.item, r.n) }),
	)
}

// overlaps returns every pair of executions of one item by two different
// servers at overlapping times: what single ownership forbids.
func (r *recorder) overlaps() []string {
	r.mu.Lock()
	byItem := map[string][]execution{}
	for _, e := range r.execs {
		byItem[e.item] = append(byItem[e.item], e)
	}
	r.mu.Unlock()
	var bad []string
	for item, es := range byItem {
		sort.Slice(es, func(i, j int) bool { return es[i].start.Before(es[j].start) })
		// Sweep: keep the latest end per server seen so far.
		lastEnd := map[string]time.Time{}
		for _, e := range es {
			for srv, end := range lastEnd {
				if srv != e.server && end.After(e.start) {
					bad = append(bad, fmt.Sprintf("item %s: %s ran until %s while %s started at %s (epoch %d)",
						item, srv, end.Format("15:04:05.000"), e.server, e.start.Format("15:04:05.000"), e.epoch))
				}
			}
			if e.end.After(lastEnd[e.server]) {
				lastEnd[e.server] = e.end
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// count returns the number of executions, and those per server.
func (r *recorder) count() (int, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	per := map[string]int{}
	for _, e := range r.execs {
		per[e.server]++
	}
	return len(r.execs), per
}

// running returns the number of executions of server under way.
func (r *recorder) running(server string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight[server]
}

// executedSince reports which servers executed item after t.
func (r *recorder) executedSince(item string, t time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range r.execs {
		if e.item == item && e.start.After(t) {
			seen[e.server] = true
		}
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// epochsGrow checks that, per item, a later owner never runs with a smaller
// epoch than an earlier one.
func (r *recorder) epochsGrow() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	type owner struct {
		server string
		epoch  int64
	}
	byItem := map[string][]execution{}
	for _, e := range r.execs {
		byItem[e.item] = append(byItem[e.item], e)
	}
	var bad []string
	for item, es := range byItem {
		sort.Slice(es, func(i, j int) bool { return es[i].start.Before(es[j].start) })
		var last owner
		for _, e := range es {
			if last.server != "" && e.server != last.server && e.epoch <= last.epoch {
				bad = append(bad, fmt.Sprintf("item %s: %s ran with epoch %d after %s had epoch %d", item, e.server, e.epoch, last.server, last.epoch))
			}
			last = owner{e.server, e.epoch}
		}
	}
	sort.Strings(bad)
	return bad
}

func joinLines(s []string) string { return strings.Join(s, "\n") }
