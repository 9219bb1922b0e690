// Command tbsbench measures tbschedule-go against a real ZooKeeper it starts
// itself (internal/testinfra/zktest, ZooKeeper 3.8 standalone on loopback, tickTime
// 100 ms) and in a simulation on memstore, prints a table and writes the
// figures as JSON.
//
// Usage:
//
//	go run ./cmd/tbsbench [-quick] [-json tbsbench.json] [-only takeover,steady,...]
//	                      [-trials 20] [-scale sessions,taskTypes,items[;...]]
//	                      [-read-path both|old|new] [-scale-limit 1m]
//	                      [-scale-timeline FILE]
//	                      [-steady-items 100,1000,10000] [-steady-no-baseline]
//	                      [-deadline 1h] [-cpuprofile FILE]
//
// Scenarios (BENCHMARKS.md explains each figure):
//
//	startup   10 servers × 100 items: start → every item owned and processed
//	takeover  10 manager processes: kill -9 of one, SIGTERM of one, start of an 11th
//	steady    requests per server per second with nothing changing, for
//	          100, 1,000 and 10,000 items, counted by the client and by ZooKeeper
//	throughput records per second through a strategy factory (empty and 1 ms deals)
//	scale     per size (default 200 sessions, 5 task types, 10,000 items in
//	          all; -scale repeats), one process with that many sessions, each a
//	          strategy.Factory running one strategy per task type: start →
//	          balanced, crash of 10 % of the sessions → balanced, one join →
//	          balanced, with requests, bytes, watches, heap, CPU and session
//	          expiries; on the old read path, the new one or both (-read-path)
//	sim       memstore + fake clock: 1,000 servers × 100,000 items
//
// -quick runs every scenario smaller and shorter (for CI, under two minutes).
//
// -scale-timeline FILE records every scale session's events, log lines
// (debug level), store calls with their latencies and watch notifications,
// with offsets from one origin, into FILE (one line each; with several
// sizes or read paths, one file per run, named after them), and prints per
// phase where the time went: the milestones of the start path, each
// manager's wait from its start to its server's registration, the handover
// cycles (asked → released → acquired) and the slowest one's chain, item
// writes that lost a race, the store calls' latencies, suspect sessions,
// and the observer's bound and decision next to the last ownership change.
//
// The run ends on its own at -deadline (default 1 h, 15 min with -quick)
// and on SIGTERM or SIGINT: every scenario is cancelled; if they have not
// wound down within stopGrace, ZooKeeper and the worker processes are
// killed. Either way it prints and writes the sections finished so far and
// exits with status 1.
// The command needs ZooKeeper installed (see internal/testinfra/zktest) except for
// -only sim.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

// Report is the JSON document.
type Report struct {
	Started  time.Time `json:"started"`
	Quick    bool      `json:"quick"`
	Machine  Machine   `json:"machine"`
	Sections []Section `json:"sections"`
}

// Machine describes where the numbers were taken.
type Machine struct {
	CPUs      int     `json:"cpus"`
	GoVersion string  `json:"go"`
	OS        string  `json:"os"`
	LoadAvg   string  `json:"loadavg_before"`
	LoadAfter string  `json:"loadavg_after"`
	Seconds   float64 `json:"seconds"`
}

// Section is one scenario's table.
type Section struct {
	Name    string     `json:"name"`
	Note    string     `json:"note,omitempty"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Values holds the raw figures (seconds, counts, rates) by name.
	Values map[string]float64 `json:"values"`
}

func (s *Section) row(cells ...string) { s.Rows = append(s.Rows, cells) }

func (s *Section) set(name string, v float64) {
	if s.Values == nil {
		s.Values = map[string]float64{}
	}
	s.Values[name] = v
}

var allScenarios = []string{"startup", "takeover", "steady", "throughput", "scale", "sim"}

func main() {
	if os.Getenv(envWorker) != "" {
		os.Exit(workerMain())
	}
	quick := flag.Bool("quick", false, "smaller, shorter runs (CI)")
	jsonPath := flag.String("json", "tbsbench.json", "write the figures here as JSON (empty: do not)")
	only := flag.String("only", strings.Join(allScenarios, ","), "comma-separated scenarios to run: "+strings.Join(allScenarios, ", "))
	trials := flag.Int("trials", 0, "takeover trials per event (default 20, 2 with -quick)")
	var sizes scaleSizes
	flag.Var(&sizes, "scale", "scale scenario size as sessions,taskTypes,items; repeat the flag or separate sizes with ';' (default 200,5,10000; 10,2,1000 with -quick)")
	readPathArg := flag.String("read-path", string(readBoth), "scale scenario: the managers' read path, new, old or both (each size old then new, and the ratio)")
	scaleLimit := flag.Duration("scale-limit", defaultScaleLimit, "scale scenario: give up each wait for balance (start, crash, join) of a size after this long")
	timelinePath := flag.String("scale-timeline", "", "scale scenario: record every session's events, log lines, store calls and watch notifications with their times into this file, and print where the time went")
	steadyArg := flag.String("steady-items", "", "steady scenario item counts, comma-separated (default 100,1000,10000; 100,1000 with -quick)")
	noBaseline := flag.Bool("steady-no-baseline", false, "steady scenario: skip the runs without the items stamp")
	deadline := flag.Duration("deadline", 0, "end the whole run after this long, finished or not (default 1h, 15m with -quick)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of tbsbench (its sessions, not ZooKeeper) into this file (go tool pprof reads it)")
	flag.Parse()
	var steadyItems []int
	if *steadyArg != "" {
		for _, f := range strings.Split(*steadyArg, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "tbsbench: -steady-items %q: %q is not a positive number\n", *steadyArg, f)
				os.Exit(2)
			}
			steadyItems = append(steadyItems, n)
		}
	}
	path, err := parseReadPath(*readPathArg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tbsbench: %v\n", err)
		os.Exit(2)
	}
	if *scaleLimit <= 0 {
		fmt.Fprintf(os.Stderr, "tbsbench: -scale-limit %v: must be positive\n", *scaleLimit)
		os.Exit(2)
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "tbsbench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	var want []string
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allScenarios, s) {
			fmt.Fprintf(os.Stderr, "tbsbench: -only: unknown scenario %q (known: %s)\n", s, strings.Join(allScenarios, ", "))
			os.Exit(2)
		}
		want = append(want, s)
	}
	if *trials < 0 {
		fmt.Fprintf(os.Stderr, "tbsbench: -trials %d: must not be negative\n", *trials)
		os.Exit(2)
	}
	if *trials == 0 {
		*trials = 20
		if *quick {
			*trials = 2
		}
	}
	if *deadline < 0 {
		fmt.Fprintf(os.Stderr, "tbsbench: -deadline %v: must not be negative\n", *deadline)
		os.Exit(2)
	}
	if *deadline == 0 {
		*deadline = time.Hour
		if *quick {
			*deadline = 15 * time.Minute
		}
	}
	opts := bench{quick: *quick, trials: *trials, scaleSizes: sizes, readPath: path, scaleLimit: *scaleLimit,
		timelinePath: *timelinePath,
		steadyItems:  steadyItems, steadyNoBaseline: *noBaseline}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tbsbench: -cpuprofile: %v\n", err)
		os.Exit(2)
	}
	code := supervise(&opts, want, *jsonPath, *deadline)
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "tbsbench: -cpuprofile: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

// startCPUProfile starts a CPU profile into path (none if path is empty)
// and returns what stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func run(ctx context.Context, b *bench, want []string, rep *report) error {
	quick := b.quick
	m := rep.machine()
	fmt.Printf("tbsbench: %d CPUs, %s, load average %s, quick=%v\n", m.CPUs, m.GoVersion, m.LoadAvg, quick)
	needZK := slices.ContainsFunc(want, func(s string) bool { return s != "sim" })
	if needZK {
		// A production-like server: room for the scale scenario's millions
		// of watches, and the optimising compiler.
		c, stopZK, err := zktest.StartProgram(1, "-Xmx2g", "-XX:TieredStopAtLevel=4", "-XX:CICompilerCount=2")
		if err != nil {
			return fmt.Errorf("starting ZooKeeper: %w", err)
		}
		b.children.setZK(stopZK)
		defer b.children.stopZK()
		b.zk = c
		fmt.Printf("ZooKeeper 3.8 standalone at %s (tickTime 100 ms, heap ≤ 2 GiB), session timeout %v\n", c.Servers()[0], sessionTimeout)
	}
	scenarios := map[string]func(context.Context) (Section, error){
		"startup":    func(ctx context.Context) (Section, error) { return b.startup(ctx) },
		"takeover":   func(ctx context.Context) (Section, error) { return b.takeover(ctx) },
		"steady":     func(ctx context.Context) (Section, error) { return b.steady(ctx) },
		"throughput": func(ctx context.Context) (Section, error) { return b.throughput(ctx) },
		"scale":      func(ctx context.Context) (Section, error) { return b.scale(ctx) },
		"sim":        func(ctx context.Context) (Section, error) { return simulate(ctx, quick) },
	}
	var errs []error
	for _, name := range want {
		if ctx.Err() != nil {
			break
		}
		fmt.Printf("\n== %s\n", name)
		t0 := time.Now()
		sec, err := scenarios[name](ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			fmt.Printf("FAILED: %v\n", err)
			if len(sec.Rows) > 0 {
				// Keep what was measured before the failure, and say so.
				sec.Note = strings.TrimPrefix(sec.Note+"; ", "; ") + "INCOMPLETE: " + err.Error()
				printTable(sec)
				rep.add(sec)
			}
			continue
		}
		sec.set("scenario_seconds", time.Since(t0).Seconds())
		printTable(sec)
		rep.add(sec)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func printTable(s Section) {
	if s.Note != "" {
		fmt.Println(s.Note)
	}
	w := make([]int, len(s.Columns))
	for i, c := range s.Columns {
		w[i] = len(c)
	}
	for _, r := range s.Rows {
		for i, c := range r {
			if i < len(w) {
				w[i] = max(w[i], len(c))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString(" | ")
			}
			fmt.Fprintf(&b, "%-*s", w[i], c)
		}
		fmt.Println(strings.TrimRight(b.String(), " "))
	}
	line(s.Columns)
	sep := make([]string, len(w))
	for i := range w {
		sep[i] = strings.Repeat("-", w[i])
	}
	line(sep)
	for _, r := range s.Rows {
		line(r)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
