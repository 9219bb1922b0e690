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

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// finding is one problem doctor found: where, what, and what to do.
type finding struct {
	Check  string `json:"check"`
	Node   string `json:"node"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// schemaFinding checks the root's data without creating anything: a
// missing root, a TBSchedule (Java) root, or another schema.
func schemaFinding(root string, data []byte, exists bool) *finding {
	f := &finding{Check: "schema", Node: root}
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
		f.Fix = "use another root for tbschedule-go; move the configuration with the Java console's export and \"tbsctl import\""
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
		summary: "find and explain problems; exit code 1 when something is wrong",
		help: `
Checks: the root's schema (TBSchedule's Java root, another schema); clock
drift between this host and ZooKeeper; strategies that no live factory can
run (the IPList matches none, or every match is stopped), Schedule
strategies whose task type is missing, and registrations whose factory
cannot start what it is asked to (their message says why); items owned by servers that are not
live and items with no owner while servers are live; servers whose
heartbeat is older than the task type's judgeDeadInterval; runtimes with no
server whose items were built longer ago than expireOwnSignInterval;
undecodable nodes.`,
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
					for _, f := range fs {
						c.out("PROBLEM [%s] %s: %s\n", f.Check, f.Node, f.Detail)
						if f.Fix != "" {
							c.out("        fix: %s\n", f.Fix)
						}
					}
					if len(fs) == 0 {
						c.out("no problems found\n")
					} else {
						c.out("%d problem(s) found\n", len(fs))
					}
				}
				if len(fs) > 0 {
					return errSilent
				}
				return nil
			}
		},
	}
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
		out = append(out, finding{Check: check, Node: node, Detail: fmt.Sprintf(format, args...), Fix: fix})
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
		for _, r := range s.Registrations {
			if r.Message != "" && r.CurrentNum < r.RequestNum {
				add("strategy", node+"/"+string(r.UUID), "fix what the message names (a deal or task not registered in that process, an invalid task type...)",
					"factory runs %d of the %d thread groups asked of it: %s", r.CurrentNum, r.RequestNum, r.Message)
			}
		}
		var admitted, running int
		for _, f := range v.Factories {
			if strategy.Admits(s.Strategy, f.IP, f.HostName) {
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
			node := root + "/baseTaskType/" + tv.BaseTaskType + "/" + rt.Name
			live := map[schedule.ServerID]bool{}
			for _, s := range rt.Servers {
				live[s.UUID] = true
				if age := v.At.Sub(s.HeartBeatTime.Time); !s.HeartBeatTime.IsZero() && age > tv.JudgeDeadInterval {
					add("stale server", node+"/server/"+string(s.UUID), "look at the process on "+s.HostName+" (stuck or starved); restart it if needed",
						"last heartbeat %v ago, more than judgeDeadInterval %v, although its session is alive", age.Round(time.Millisecond), tv.JudgeDeadInterval)
				}
			}
			var dead, unowned []string
			for _, it := range rt.Items.Items {
				switch {
				case it.Sts == schedule.ItemRemoved:
				case it.CurServer == "":
					unowned = append(unowned, string(it.ID))
				case !live[it.CurServer]:
					dead = append(dead, fmt.Sprintf("%s (owner %s)", it.ID, it.CurServer))
				}
			}
			if len(dead) > 0 {
				fix := "the runtime's leader reassigns them once the vanished server's lock delay has passed (by default two thirds of its session timeout + 100ms); if this persists, check that a server of this runtime runs"
				if len(rt.Servers) == 0 {
					fix = "no server runs this runtime: resume or apply a strategy for " + rt.Name
				}
				add("dead owner", node+"/taskItem", fix, "%d item(s) owned by servers that are not live: %s", len(dead), strings.Join(dead, ", "))
			}
			if len(unowned) > 0 && len(rt.Servers) > 0 {
				add("unassigned", node+"/taskItem", "the leader assigns them within a round; if this persists, look at the leader's log",
					"%d item(s) have no owner although %d server(s) are live: %s", len(unowned), len(rt.Servers), strings.Join(unowned, ", "))
			}
			built := rt.Items.Mark.BuiltAt
			if len(rt.Servers) == 0 && !built.IsZero() && v.At.Sub(built.Time) > tv.ExpireOwnSignInterval {
				add("stale runtime", node, "delete it if the ownSign is gone (tbsctl delete taskType removes every runtime), or run a server for it",
					"no live server, items last built %v ago, more than expireOwnSignInterval %v", v.At.Sub(built.Time).Round(time.Second), tv.ExpireOwnSignInterval)
			}
		}
	}
	return out, nil
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
