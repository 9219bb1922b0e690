package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	iplan "github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// Severities of doctor's findings. Only problems make doctor exit 1.
const (
	// sevProblem needs a person.
	sevProblem = "problem"
	// sevHold is a takeover under way: items held for a vanished server's
	// lock delay, which the leader reassigns when it ends.
	sevHold = "hold"
	// sevWarning is worth a look but may be fine (a field this version does
	// not know, perhaps written by a newer one).
	sevWarning = "warning"
)

// finding is one thing doctor found: how bad, where, what, and what to do.
type finding struct {
	Severity string `json:"severity"`
	Check    string `json:"check"`
	Node     string `json:"node"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
}

// schemaFinding checks the root's data without creating anything: a
// missing root, a TBSchedule (Java) root, or another schema.
func schemaFinding(root string, data []byte, exists bool) *finding {
	f := &finding{Severity: sevProblem, Check: "schema", Node: root}
	if !exists {
		f.Detail = "the root does not exist"
		f.Fix = "check -root; a factory or \"tbsctl apply\" creates it"
		return f
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return nil // adopted by the first writer
	}
	if strings.HasPrefix(text, "tbschedule-") || strings.HasPrefix(text, "taobao-pamirs-schedule") {
		f.Detail = fmt.Sprintf("the root belongs to TBSchedule (Java), version %q", text)
		f.Fix = fmt.Sprintf("migrate, leaving this root to the Java processes: \"tbsctl -root /NEW-ROOT import --from-java-root %s --time-zone ZONE --dry-run\" (reads it, never writes it), then without --dry-run; see docs/MIGRATING.md", root)
		return f
	}
	var info struct {
		Schema   int    `json:"schema"`
		Software string `json:"software"`
	}
	if err := json.Unmarshal(data, &info); err != nil || info.Software != "tbschedule-go" {
		f.Detail = fmt.Sprintf("the root holds foreign data %s", decodeValue(data))
		f.Fix = "use another root"
		return f
	}
	if info.Schema != 1 {
		f.Detail = fmt.Sprintf("the root has schema %d; this tbsctl reads schema 1", info.Schema)
		f.Fix = "use the tbsctl of the version that wrote it"
		return f
	}
	return nil
}

func doctorCmd() command {
	return command{
		name:    "doctor",
		args:    "",
		summary: "find and explain problems; exit code 1 when one needs a person",
		help: `
Checks: the root's schema (TBSchedule's Java root, another schema); clock
drift between this host and ZooKeeper; strategies that no live factory can
run (the IPList matches none, or every match is stopped), Schedule
strategies whose task type is missing, and registrations whose factory
cannot start what it is asked to (their message says why); items owned by
servers that are not live and items with no owner while servers are live;
servers whose heartbeat is older than the task type's judgeDeadInterval;
runtimes with no server whose items were built longer ago than
expireOwnSignInterval; undecodable nodes; stored task types and strategies
with fields this version does not know; damaged text in parameters, item
definitions and deal descriptions (U+FFFD or U+001A where a decoder lost
characters: a PROBLEM; UTF-8 read as Latin-1: a WARNING).

Items of a server that vanished (a crash) are held by the runtime's leader
for that server's lock delay before they move: doctor reports them as HOLD
with the time the hold ends, and they fail doctor only once the hold is
overdue (one heartBeatRate after its end). A field that differs from a known
one only in case is a PROBLEM (a typo the library ignores); another unknown
field is a WARNING (perhaps written by a newer version).

Exit codes: 0 nothing needs a person (holds and warnings may be listed),
1 a PROBLEM needs a person, 2 the command line is wrong.`,
		example: `  tbsctl doctor || alert "tbschedule needs attention"
  tbsctl doctor -o json --max-drift 500ms`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			out := outputFlag(fs, "text", "text", "json")
			maxDrift := fs.Duration("max-drift", time.Second, "largest clock offset between this host and ZooKeeper that is fine")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("doctor", args, 0, 0, "no arguments"); err != nil {
					return err
				}
				if err := checkOutput("doctor", *out, "text", "json"); err != nil {
					return err
				}
				if *maxDrift <= 0 {
					return usagef("doctor: --max-drift must be positive")
				}
				fs, err := c.diagnose(ctx, *maxDrift)
				if err != nil {
					return err
				}
				if *out == "json" {
					if fs == nil {
						fs = []finding{}
					}
					if err := printJSON(c.io.Out, fs); err != nil {
						return err
					}
				} else {
					c.printFindings(fs)
				}
				if count(fs, sevProblem) > 0 {
					return errSilent
				}
				return nil
			}
		},
	}
}

func count(fs []finding, severity string) int {
	n := 0
	for _, f := range fs {
		if f.Severity == severity {
			n++
		}
	}
	return n
}

// printFindings prints one line per finding with its fix, then the counts.
func (c *cli) printFindings(fs []finding) {
	for _, f := range fs {
		c.out("%s [%s] %s: %s\n", strings.ToUpper(f.Severity), f.Check, f.Node, f.Detail)
		if f.Fix != "" {
			c.out("        fix: %s\n", f.Fix)
		}
	}
	summary := "no problems found"
	if n := count(fs, sevProblem); n > 0 {
		summary = fmt.Sprintf("%d problem(s) found", n)
	}
	if n := count(fs, sevHold); n > 0 {
		summary += fmt.Sprintf("; %d takeover(s) under way (items held for a lock delay)", n)
	}
	if n := count(fs, sevWarning); n > 0 {
		summary += fmt.Sprintf("; %d warning(s)", n)
	}
	c.out("%s\n", summary)
}

// diagnose runs every check. It returns an error only when it cannot check.
func (c *cli) diagnose(ctx context.Context, maxDrift time.Duration) ([]finding, error) {
	if _, err := c.config(); err != nil {
		return nil, err
	}
	conn, err := c.rawConn(ctx)
	if err != nil {
		return nil, err
	}
	root := c.g.root
	data, _, err := conn.Get(root)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return nil, fmt.Errorf("doctor: read %s: %w", root, err)
	}
	if f := schemaFinding(root, data, err == nil); f != nil {
		return []finding{*f}, nil // nothing else can be read safely
	}
	admin, store, err := c.readAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var out []finding
	add := func(check, node, fix, format string, args ...any) {
		out = append(out, finding{Severity: sevProblem, Check: check, Node: node, Detail: fmt.Sprintf(format, args...), Fix: fix})
	}
	if _, err := store.Now(ctx); err != nil {
		return nil, err
	}
	ci := store.ClockInfo()
	if ci.At.IsZero() {
		// Calibration writes a throw-away node; without write access it
		// cannot run. That is not a problem of the cluster: say so aside.
		fmt.Fprintf(c.io.Err, "note: clock drift not measured: these credentials cannot write under %s (set %s)\n", root, EnvAuth)
	} else if off := ci.Offset.Abs(); off > maxDrift {
		add("clock", "this host", "synchronize this host's clock (NTP); cluster time is used meanwhile",
			"local clock is %v %s ZooKeeper's (round trip %v; allowed %v)", off.Round(time.Millisecond),
			map[bool]string{true: "behind", false: "ahead of"}[ci.Offset > 0], ci.RTT.Round(time.Microsecond), maxDrift)
	}
	v, err := admin.Runtime(ctx)
	if errors.Is(err, schedule.ErrCorrupt) {
		add("corrupt", root, "fix or delete the node named in the error", "%v", err)
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	tts := map[string]schedule.TaskType{}
	for _, tv := range v.TaskTypes {
		tts[tv.BaseTaskType] = tv.TaskType
	}
	for _, s := range v.Strategies {
		node := root + "/strategy/" + s.StrategyName
		if s.Kind == schedule.KindSchedule {
			base, _, _ := schedule.SplitRuntimeName(s.TaskName)
			if _, ok := tts[base]; !ok {
				add("strategy", node, "apply the task type, or fix taskName",
					"taskName %q names task type %q, which does not exist", s.TaskName, base)
			}
		}
		if s.Sts != schedule.StsResume || s.AssignNum == 0 {
			continue
		}
		units := "thread groups"
		if s.Kind == schedule.KindBean {
			units = "copies of the Bean"
		}
		for _, r := range s.Registrations {
			if r.Message != "" && r.CurrentNum < r.RequestNum {
				add("strategy", node+"/"+string(r.UUID), "fix what the message names (a deal or task not registered in that process, an invalid task type...)",
					"factory runs %d of the %d %s asked of it: %s", r.CurrentNum, r.RequestNum, units, r.Message)
			}
		}
		var admitted, running int
		for _, f := range v.Factories {
			if iplan.Admits(s.Strategy.IPList, f.IP, f.HostName) {
				admitted++
				if !f.State.Stopped {
					running++
				}
			}
		}
		switch {
		case len(v.Factories) == 0:
			add("strategy", node, "start the service's factories", "no factory is live, so nothing runs this strategy")
		case admitted == 0:
			add("strategy", node, "fix IPList (127.0.0.1 admits every factory) or start factories on the listed hosts",
				"IPList %v matches none of the %d live factories (%s)", s.IPList, len(v.Factories), factoryHosts(v.Factories))
		case running == 0:
			add("strategy", node, "tbsctl start a factory it admits",
				"every factory IPList %v admits (%d) is stopped", s.IPList, admitted)
		}
	}
	for _, tv := range v.TaskTypes {
		for _, rt := range tv.Runtimes {
			out = append(out, c.runtimeFindings(conn, v.At, tv.TaskType, rt)...)
		}
	}
	out = append(out, textFindings(root, v)...)
	return append(out, storedFieldFindings(conn, root)...), nil
}

func factoryHosts(fs []strategy.FactoryView) string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fs {
		k := f.IP + "/" + f.HostName
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return strings.Join(out, ", ")
}
