package chaos

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ex(worker, item string, epoch, rec, start, end int64, outcome string) Exec {
	return Exec{Worker: worker, Item: item, Epoch: epoch, Rec: rec, Start: start, End: end, Outcome: outcome}
}

// handover is a clean history: w1 runs records 0-1 of item 0 under epoch
// 1, w2 takes over under epoch 2 and runs 2-3.
func handover() []Exec {
	return []Exec{
		ex("w1.1", "0", 1, 0, 0, 10, OutcomeDone),
		ex("w1.1", "0", 1, 1, 10, 20, OutcomeDone),
		ex("w2.1", "0", 2, 2, 30, 40, OutcomeDone),
		ex("w2.1", "0", 2, 3, 40, 50, OutcomeDone),
	}
}

func logsOf(execs ...Exec) []WorkerLog {
	by := map[string]*WorkerLog{}
	var order []string
	for _, e := range execs {
		if by[e.Worker] == nil {
			by[e.Worker] = &WorkerLog{Worker: e.Worker}
			order = append(order, e.Worker)
		}
		by[e.Worker].Execs = append(by[e.Worker].Execs, e)
	}
	var out []WorkerLog
	for _, w := range order {
		out = append(out, *by[w])
	}
	return out
}

func fetch(worker, item string, epoch, start int64) Fetch {
	return Fetch{Worker: worker, Item: item, Epoch: epoch, Start: start}
}

// withFetches adds fetches to the logs of their workers.
func withFetches(logs []WorkerLog, fs ...Fetch) []WorkerLog {
	for _, x := range fs {
		for i := range logs {
			if logs[i].Worker == x.Worker {
				logs[i].Fetches = append(logs[i].Fetches, x)
			}
		}
	}
	return logs
}

func claim(worker, item string, epoch, at int64) Claim {
	return Claim{Worker: worker, Item: item, Epoch: epoch, At: at}
}

// withClaims adds granted claims to the logs of their workers.
func withClaims(logs []WorkerLog, cs ...Claim) []WorkerLog {
	for _, c := range cs {
		for i := range logs {
			if logs[i].Worker == c.Worker {
				logs[i].Claims = append(logs[i].Claims, c)
			}
		}
	}
	return logs
}

// TestCheck: every check passes a clean history and fails the history that
// breaks it, with the evidence.
func TestCheck(t *testing.T) {
	frozenW1 := []Freeze{{Worker: "w1.1", From: 15, To: 1000}}
	tests := []struct {
		name   string
		in     Input
		want   map[string]int // violations per check
		frozen int
		// of them committed before the newer epoch reached the database
		frozenCommitted int
		// started after a SIGCONT under a superseded epoch
		resumed, resumedFetches int
		inProof                 string // a substring of the evidence
	}{
		{name: "clean handover", in: Input{Logs: logsOf(handover()...), Need: map[string]int64{"0": 4}}},
		{name: "overlap of one record by two workers",
			in: Input{Logs: logsOf(append(handover(), ex("w3.1", "0", 2, 3, 45, 60, OutcomeStale))...)},
			// Also (c)? No: epoch 2 is not stale. Only the overlap.
			want: map[string]int{"a": 1}, inProof: "record 3"},
		{name: "stale epoch started after the newer one",
			in:   Input{Logs: logsOf(append(handover(), ex("w1.1", "0", 1, 4, 35, 36, OutcomeStale))...)},
			want: map[string]int{"c": 1}, inProof: "under epoch 1"},
		{name: "stale deal still running when the newer epoch started",
			in:   Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 0, 100, OutcomeCancelled), ex("w2.1", "0", 2, 1, 50, 60, OutcomeDone))},
			want: map[string]int{"c": 1}, inProof: "still running"},
		{name: "epochs used out of order",
			in:   Input{Logs: logsOf(ex("w1.1", "0", 5, 0, 0, 10, OutcomeDone), ex("w2.1", "0", 3, 1, 20, 30, OutcomeDone))},
			want: map[string]int{"c": 1}, inProof: "under epoch 3 at 20, after epoch 5 started at 0"},
		{name: "frozen older execution, refused: excused",
			in: Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 10, 1001, OutcomeStale), ex("w2.1", "0", 2, 0, 500, 510, OutcomeDone)),
				Freezes: frozenW1, ResumeGrace: 10},
			frozen: 2},
		{name: "frozen older execution that committed: not excused",
			in: Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 10, 1001, OutcomeDone), ex("w2.1", "0", 2, 0, 500, 510, OutcomeDone)),
				Freezes: frozenW1, ResumeGrace: 10},
			want: map[string]int{"a": 1, "c": 1}},
		{name: "frozen older execution that committed before the newer owner's claim was granted: excused",
			// w2.1's fetch began at 500, its claim waited for the item's
			// lock until after the thaw: the database took w1.1's commit
			// first, and w2.1 found record 0 done.
			in: Input{Logs: withClaims(withFetches(logsOf(ex("w1.1", "0", 1, 0, 10, 1001, OutcomeDone), ex("w2.1", "0", 2, 1, 1003, 1010, OutcomeDone)),
				fetch("w2.1", "0", 2, 500)), claim("w2.1", "0", 2, 1002)),
				Freezes: frozenW1, ResumeGrace: 10},
			frozen: 1, frozenCommitted: 1},
		{name: "frozen older execution that committed after the newer owner's claim was granted: not excused",
			in: Input{Logs: withClaims(withFetches(logsOf(ex("w1.1", "0", 1, 0, 10, 1001, OutcomeDone), ex("w2.1", "0", 2, 1, 1003, 1010, OutcomeDone)),
				fetch("w2.1", "0", 2, 500)), claim("w2.1", "0", 2, 501)),
				Freezes: frozenW1, ResumeGrace: 10},
			want: map[string]int{"c": 1}, inProof: "still running when epoch 2 started at 500"},
		{name: "frozen older execution ending long after the thaw: not excused",
			in: Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 10, 5000, OutcomeCancelled), ex("w2.1", "0", 2, 0, 500, 510, OutcomeDone)),
				Freezes: frozenW1, ResumeGrace: 10},
			want: map[string]int{"a": 1, "c": 1}},
		{name: "queued record of a frozen worker started after the thaw, refused: not excused",
			in: Input{Logs: logsOf(ex("w2.1", "0", 2, 0, 500, 510, OutcomeDone), ex("w1.1", "0", 1, 1, 1001, 1005, OutcomeStale)),
				Freezes: frozenW1, ResumeGrace: 10},
			want: map[string]int{"c": 1}, resumed: 1, inProof: "started record 1 under epoch 1 at 1001"},
		{name: "queued record of a frozen worker run after the thaw beside its new owner, refused: not excused",
			in: Input{Logs: logsOf(ex("w2.1", "0", 2, 1, 500, 1100, OutcomeDone), ex("w1.1", "0", 1, 1, 1001, 1005, OutcomeCancelled)),
				Freezes: frozenW1, ResumeGrace: 10},
			want: map[string]int{"a": 1, "c": 1}, resumed: 1},
		{name: "record begun before the freeze, refused after the thaw beside its new owner: excused",
			in: Input{Logs: logsOf(ex("w1.1", "0", 1, 1, 12, 1005, OutcomeCancelled), ex("w2.1", "0", 2, 1, 500, 1100, OutcomeDone)),
				Freezes: frozenW1, ResumeGrace: 10},
			frozen: 2},
		{name: "fetch of a frozen worker after the thaw under the superseded epoch",
			in: Input{Logs: withFetches(logsOf(handover()...), fetch("w1.1", "0", 1, 1001)),
				Freezes: frozenW1, ResumeGrace: 10},
			want: map[string]int{"c": 1}, resumedFetches: 1, inProof: "fetched under epoch 1 at 1001, after epoch 2 started at 30"},
		{name: "fetch under a superseded epoch without a freeze",
			in:   Input{Logs: withFetches(logsOf(handover()...), fetch("w1.1", "0", 1, 35))},
			want: map[string]int{"c": 1}, inProof: "fetched under epoch 1 at 35"},
		{name: "a newer owner's fetch supersedes the epoch before its first execution",
			in:   Input{Logs: withFetches(logsOf(handover()...), fetch("w2.1", "0", 2, 22)), Need: map[string]int64{"0": 4}},
			want: nil},
		{name: "old owner's record started after the new owner's first fetch",
			in:   Input{Logs: withFetches(logsOf(append(handover(), ex("w1.1", "0", 1, 5, 25, 26, OutcomeStale))...), fetch("w2.1", "0", 2, 22))},
			want: map[string]int{"c": 1}, inProof: "after epoch 2 started at 22"},
		{name: "fetches under the current epoch, before and after a freeze",
			in: Input{Logs: withFetches(logsOf(handover()...), fetch("w1.1", "0", 1, 5), fetch("w2.1", "0", 2, 1001)),
				Freezes: []Freeze{{Worker: "w2.1", From: 60, To: 1000}}}},
		{name: "stale start long after the thaw: not excused",
			in: Input{Logs: logsOf(ex("w2.1", "0", 2, 0, 500, 510, OutcomeDone), ex("w1.1", "0", 1, 1, 1500, 1505, OutcomeStale)),
				Freezes: frozenW1, ResumeGrace: 10},
			want: map[string]int{"c": 1}, resumed: 1},
		{name: "killed after its commit: the database vouches",
			in: Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 0, 10, OutcomeDone), ex("w1.1", "0", 1, 1, 10, 20, "")),
				Need: map[string]int64{"0": 2}, Stored: map[string]int64{"0": 2}}},
		{name: "killed before its commit: missed",
			in: Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 0, 10, OutcomeDone), ex("w1.1", "0", 1, 1, 10, 20, "")),
				Need: map[string]int64{"0": 2}, Stored: map[string]int64{"0": 1}},
			want: map[string]int{"b": 1}},
		{name: "window start of a thawing worker: excused",
			in: Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 1005, 1010, OutcomeDone)), Freezes: frozenW1, ResumeGrace: 10,
				InWindow: func(m int64) bool { return m < 1000 }}},
		{name: "missed records",
			in:   Input{Logs: logsOf(handover()...), Need: map[string]int64{"0": 6, "1": 1}},
			want: map[string]int{"b": 2}, inProof: "2 of 6 records never committed: 4 5"},
		{name: "cancelled is not committed",
			in:   Input{Logs: logsOf(ex("w1.1", "0", 1, 0, 0, 10, OutcomeCancelled)), Need: map[string]int64{"0": 1}},
			want: map[string]int{"b": 1}},
		{name: "ownership late", in: Input{OwnedAfter: 20 * time.Second, OwnBound: 10 * time.Second},
			want: map[string]int{"d": 1}, inProof: "more than 10s"},
		{name: "ownership never", in: Input{OwnedAfter: -1}, want: map[string]int{"d": 1}},
		{name: "leaks", in: Input{Leaks: []string{"2 stale server nodes left"}}, want: map[string]int{"e": 1}, inProof: "stale server"},
		{name: "graceful stop with open executions",
			in:   Input{Logs: []WorkerLog{{Worker: "w1.1", Stopped: true, Open: 1}}},
			want: map[string]int{"e": 1}},
		{name: "outside the window",
			in:   Input{Logs: logsOf(handover()...), InWindow: func(m int64) bool { return m < 30 }},
			want: map[string]int{"f": 1}, inProof: "2 executions started outside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(tc.in)
			got := map[string]int{}
			for _, v := range r.Violations {
				got[v.Check]++
			}
			want := tc.want
			if want == nil {
				want = map[string]int{}
			}
			assert.Equal(t, want, got, "violations: %v", r.Violations)
			assert.Equal(t, tc.frozen, r.FrozenSpans)
			assert.Equal(t, tc.frozenCommitted, r.FrozenCommitted)
			assert.Equal(t, tc.resumed, r.ResumedStarts)
			assert.Equal(t, tc.resumedFetches, r.ResumedFetches)
			if tc.inProof != "" {
				var all []string
				for _, v := range r.Violations {
					all = append(all, v.Evidence)
				}
				assert.Contains(t, strings.Join(all, "\n"), tc.inProof)
			}
			var b strings.Builder
			r.Print(&b, 3)
			if len(r.Violations) > 0 {
				assert.Contains(t, b.String(), "FAIL")
			} else {
				assert.NotContains(t, b.String(), "FAIL")
			}
		})
	}
}

// TestReadLog: executions are paired, a kill ends open ones, a torn last
// line is ignored, garbage is an error naming the line.
func TestReadLog(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.log")
	require.NoError(t, os.WriteFile(p, []byte("W 1 w1.1 42\nF 9 3 7\nC 9 3 7\nB 10 3 7 100\nB 11 3 7 101\nE 20 3 7 100 done\nB 30 3 7 102\nE 31 3 7 1"), 0o644))
	wl, err := ReadLog(p, "w1.1", 99)
	require.NoError(t, err)
	assert.True(t, wl.Torn)
	assert.Equal(t, []Fetch{fetch("w1.1", "3", 7, 9)}, wl.Fetches)
	assert.Equal(t, []Claim{claim("w1.1", "3", 7, 9)}, wl.Claims)
	require.Len(t, wl.Execs, 3)
	assert.Equal(t, ex("w1.1", "3", 7, 100, 10, 20, OutcomeDone), wl.Execs[0])
	assert.Equal(t, ex("w1.1", "3", 7, 101, 11, 99, ""), wl.Execs[1], "ended by the kill")
	assert.Equal(t, ex("w1.1", "3", 7, 102, 30, 99, ""), wl.Execs[2], "the torn end line is ignored")
	assert.Equal(t, 2, wl.Open)
	assert.False(t, wl.Stopped)

	wl, err = ReadLog(p, "w1.1", 0)
	require.NoError(t, err)
	assert.Equal(t, int64(math.MaxInt64), wl.Execs[1].End, "no kill: the end is unknown")

	for _, bad := range []string{"E 1 3 7 100 done\n", "B x 3 7 100\n", "Q 1\n", "B 1 3 7\n", "X 5 z\n", "F 1 3\n", "F 1 3 x\n", "C 1 3\n", "C 1 3 x\n"} {
		require.NoError(t, os.WriteFile(p, []byte(bad), 0o644))
		_, err := ReadLog(p, "w1.1", 0)
		assert.ErrorContains(t, err, "line 1", "%q", bad)
	}
}

// TestLogLines: lines written by Log read back.
func TestLogLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.log")
	l, err := CreateLog(p)
	require.NoError(t, err)
	require.NoError(t, l.Line("W", "w1.1", 7))
	require.NoError(t, l.Line("B", "x3", 2, 9))
	require.NoError(t, l.Line("E", "x3", 2, 9, OutcomeDone))
	require.NoError(t, l.Line("X", 0))
	require.NoError(t, l.Close())
	wl, err := ReadLog(p, "w1.1", 0)
	require.NoError(t, err)
	require.Len(t, wl.Execs, 1)
	e := wl.Execs[0]
	assert.Equal(t, "x3", e.Item)
	assert.Equal(t, OutcomeDone, e.Outcome)
	assert.LessOrEqual(t, e.Start, e.End)
	assert.True(t, wl.Stopped)
	assert.Zero(t, wl.Leaked)
}
