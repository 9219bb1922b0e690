package chaos

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Outcomes of an execution, as logged.
const (
	OutcomeDone      = "done"      // committed
	OutcomeCancelled = "cancelled" // the deal's context was cancelled first: nothing committed
	OutcomeStale     = "stale"     // the commit was refused: a newer epoch claimed the item
	OutcomeError     = "error"     // the database failed
)

// Log is a worker's append-only execution log. Every line is one write(2)
// to a file opened with O_APPEND, so a kill -9 loses at most the line being
// written, and a torn last line (no newline) is ignored when read back.
//
// Lines (times are Mono() nanoseconds):
//
//	W <t> <worker> <pid>                 the worker started
//	F <t> <item> <epoch>                 a fetch (SelectTasks) began for the item
//	C <t> <item> <epoch>                 the fetch's claim of the item was granted by
//	                                     the database (t: after it returned)
//	B <t> <item> <epoch> <record>        an execution began
//	E <t> <item> <epoch> <record> <outcome>   t: when the deal finished its
//	                                          work and asked to commit (the
//	                                          commit itself is atomic at the DB)
//	X <t> <leaked goroutines>            the worker stopped gracefully
type Log struct {
	mu sync.Mutex // serializes lines
	f  *os.File
}

// CreateLog opens path for appending.
func CreateLog(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("chaos: log: %w", err)
	}
	return &Log{f: f}, nil
}

// Line writes one line: the kind, the current Mono() time, then args.
func (l *Log) Line(kind string, args ...any) error { return l.LineAt(kind, Mono(), args...) }

// LineAt writes one line stamped with the Mono() time at.
func (l *Log) LineAt(kind string, at int64, args ...any) error {
	var b bytes.Buffer
	b.WriteString(kind)
	fmt.Fprintf(&b, " %d", at)
	for _, a := range args {
		fmt.Fprintf(&b, " %v", a)
	}
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(b.Bytes()); err != nil {
		return fmt.Errorf("chaos: log: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

// Exec is one execution of a record, read back from a log.
type Exec struct {
	Worker  string // the worker incarnation ("w2.3")
	Item    string
	Epoch   int64
	Rec     int64
	Start   int64 // Mono() ns
	End     int64 // Mono() ns; the kill time if killed mid-run; math.MaxInt64 if unknown
	Outcome string
}

// Fetch is the start of one SelectTasks call, for one of its items, read
// back from a log.
type Fetch struct {
	Worker string
	Item   string
	Epoch  int64
	Start  int64 // Mono() ns
}

// Claim is a claim of an item granted by the database under an epoch, read
// back from a log: from At on, the database refuses commits under older
// epochs of the item (it may have done so a little earlier).
type Claim struct {
	Worker string
	Item   string
	Epoch  int64
	At     int64 // Mono() ns, taken after the claim returned
}

// WorkerLog is what one worker incarnation logged.
type WorkerLog struct {
	Worker  string
	Execs   []Exec
	Fetches []Fetch
	Claims  []Claim
	Open    int   // executions with no end line (ended by a kill, or lost)
	Stopped bool  // an X line: it stopped gracefully
	Leaked  int   // goroutines left after a graceful stop
	Last    int64 // time of the last line
	Torn    bool  // the last line had no newline (ignored)
}

// ReadLog parses the log of worker at path. killedAt (non-zero) ends the
// executions left open by a kill -9.
func ReadLog(path, worker string, killedAt int64) (WorkerLog, error) {
	wl := WorkerLog{Worker: worker}
	data, err := os.ReadFile(path)
	if err != nil {
		return wl, fmt.Errorf("chaos: log: %w", err)
	}
	if n := len(data); n > 0 && data[n-1] != '\n' {
		wl.Torn = true
		data = data[:bytes.LastIndexByte(data, '\n')+1]
	}
	type key struct {
		item       string
		epoch, rec int64
	}
	open := map[key][]int{} // begun, not ended: indexes into wl.Execs
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		bad := func(why string) error {
			return fmt.Errorf("chaos: log %s line %d: %s: %q", path, line, why, sc.Text())
		}
		if len(f) < 2 {
			return wl, bad("too short")
		}
		at, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return wl, bad("bad time")
		}
		wl.Last = at
		num := func(i int) (int64, error) {
			if i >= len(f) {
				return 0, bad("missing field")
			}
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return 0, bad("bad number")
			}
			return v, nil
		}
		switch f[0] {
		case "W":
		case "F":
			epoch, err := num(3)
			if err != nil {
				return wl, err
			}
			wl.Fetches = append(wl.Fetches, Fetch{Worker: worker, Item: f[2], Epoch: epoch, Start: at})
		case "C":
			epoch, err := num(3)
			if err != nil {
				return wl, err
			}
			wl.Claims = append(wl.Claims, Claim{Worker: worker, Item: f[2], Epoch: epoch, At: at})
		case "X":
			n, err := num(2)
			if err != nil {
				return wl, err
			}
			wl.Stopped, wl.Leaked = true, int(n)
		case "B", "E":
			if len(f) < 5 {
				return wl, bad("missing field")
			}
			epoch, err := num(3)
			if err != nil {
				return wl, err
			}
			rec, err := num(4)
			if err != nil {
				return wl, err
			}
			k := key{f[2], epoch, rec}
			if f[0] == "B" {
				wl.Execs = append(wl.Execs, Exec{Worker: worker, Item: f[2], Epoch: epoch, Rec: rec, Start: at, End: math.MaxInt64})
				open[k] = append(open[k], len(wl.Execs)-1)
				continue
			}
			if len(f) < 6 {
				return wl, bad("missing outcome")
			}
			q := open[k]
			if len(q) == 0 {
				return wl, bad("end without begin")
			}
			e := &wl.Execs[q[0]]
			open[k] = q[1:]
			e.End, e.Outcome = at, f[5]
		default:
			return wl, bad("unknown kind")
		}
	}
	if err := sc.Err(); err != nil {
		return wl, fmt.Errorf("chaos: log %s: %w", path, err)
	}
	for _, q := range open {
		for _, i := range q {
			wl.Open++
			if killedAt != 0 {
				wl.Execs[i].End = killedAt
			}
		}
	}
	sort.Slice(wl.Execs, func(i, j int) bool { return wl.Execs[i].Start < wl.Execs[j].Start })
	return wl, nil
}
