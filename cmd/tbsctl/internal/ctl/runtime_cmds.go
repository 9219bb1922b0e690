package ctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// statusJSON is the output of "status -o json".
type statusJSON struct {
	At        time.Time      `json:"at"`
	Root      string         `json:"root"`
	TaskTypes []taskTypeJSON `json:"taskTypes"`
}

type taskTypeJSON struct {
	BaseTaskType string        `json:"baseTaskType"`
	Runtimes     []runtimeJSON `json:"runtimes"`
}

type runtimeJSON struct {
	TaskType string       `json:"taskType"`
	OwnSign  string       `json:"ownSign"`
	Mark     markJSON     `json:"mark"`
	Servers  []serverJSON `json:"servers"`
	Items    []itemJSON   `json:"items"`
	// Unassigned and Orphaned count active items with no owner and items
	// owned by a server that is not live.
	Unassigned int `json:"unassigned"`
	Orphaned   int `json:"orphaned"`
}

type markJSON struct {
	Leader  schedule.ServerID `json:"leader"`
	BuiltAt schedule.Time     `json:"builtAt"`
}

type serverJSON struct {
	schedule.Server
	Leader          bool    `json:"leader"`
	HeartbeatAgeSec float64 `json:"heartbeatAgeSec"`
	Items           int     `json:"items"`
}

type itemJSON struct {
	schedule.Item
	// Flag is "", "unassigned", "orphaned" (owner not live) or "removed".
	Flag string `json:"flag,omitempty"`
}

// buildStatus turns the admin's runtime view into the status report.
func buildStatus(root string, v strategy.RuntimeView, only string) statusJSON {
	st := statusJSON{At: v.At, Root: root, TaskTypes: []taskTypeJSON{}}
	for _, tv := range v.TaskTypes {
		if only != "" && tv.BaseTaskType != only {
			continue
		}
		tj := taskTypeJSON{BaseTaskType: tv.BaseTaskType, Runtimes: []runtimeJSON{}}
		for _, rt := range tv.Runtimes {
			_, own, _ := schedule.SplitRuntimeName(rt.Name)
			rj := runtimeJSON{TaskType: rt.Name, OwnSign: own,
				Mark:    markJSON{Leader: rt.Items.Mark.Leader, BuiltAt: rt.Items.Mark.BuiltAt},
				Servers: []serverJSON{}, Items: []itemJSON{}}
			live := map[schedule.ServerID]int{}
			for i, s := range rt.Servers {
				live[s.UUID] = i
				age := 0.0
				if !s.HeartBeatTime.IsZero() {
					// Clamped: the writer's cluster clock may run a hair ahead of ours.
					age = max(0, v.At.Sub(s.HeartBeatTime.Time).Seconds())
				}
				rj.Servers = append(rj.Servers, serverJSON{Server: s, Leader: i == 0, HeartbeatAgeSec: age})
			}
			for _, it := range rt.Items.Items {
				ij := itemJSON{Item: it}
				idx, ok := live[it.CurServer]
				switch {
				case it.Sts == schedule.ItemRemoved:
					ij.Flag = "removed"
				case it.CurServer == "":
					ij.Flag = "unassigned"
					rj.Unassigned++
				case !ok:
					ij.Flag = "orphaned"
					rj.Orphaned++
				default:
					rj.Servers[idx].Items++
				}
				rj.Items = append(rj.Items, ij)
			}
			tj.Runtimes = append(tj.Runtimes, rj)
		}
		st.TaskTypes = append(st.TaskTypes, tj)
	}
	return st
}

// listView checks the arguments of a listing command (none, -o text or
// json) and reads the runtime.
func (c *cli) listView(ctx context.Context, cmd string, args []string, out string) (strategy.RuntimeView, error) {
	if err := needArgs(cmd, args, 0, 0, "no arguments"); err != nil {
		return strategy.RuntimeView{}, err
	}
	if err := checkOutput(cmd, out, "text", "json"); err != nil {
		return strategy.RuntimeView{}, err
	}
	admin, _, err := c.readAdmin(ctx)
	if err != nil {
		return strategy.RuntimeView{}, err
	}
	return admin.Runtime(ctx)
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func statusCmd() command {
	return command{
		name:    "status",
		args:    "[taskType]",
		summary: "servers and items of every task type and ownSign",
		help: `
For each task type and ownSign (runtime): the live servers, leader first
(host, session, heartbeat age, window state, statistics), and the items
(owner, requested owner, epoch, parameter). Items with no owner are flagged
UNASSIGNED, items owned by a server that is no longer live ORPHANED.`,
		example: `  tbsctl status
  tbsctl status orders
  tbsctl status orders -o json | jq '.taskTypes[].runtimes[].orphaned'`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			out := outputFlag(fs, "text", "text", "json")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("status", args, 0, 1, "at most one task type"); err != nil {
					return err
				}
				if err := checkOutput("status", *out, "text", "json"); err != nil {
					return err
				}
				admin, store, err := c.readAdmin(ctx)
				if err != nil {
					return err
				}
				only := ""
				if len(args) == 1 {
					only = args[0]
					if _, _, err := store.TaskType(ctx, only); err != nil {
						return fmt.Errorf("status: task type %q: %w", only, err)
					}
				}
				v, err := admin.Runtime(ctx)
				if err != nil {
					return err
				}
				st := buildStatus(c.g.root, v, only)
				if *out == "json" {
					return printJSON(c.io.Out, st)
				}
				printStatus(c.io.Out, st)
				return nil
			}
		},
	}
}

func printStatus(w io.Writer, st statusJSON) {
	fmt.Fprintf(w, "root %s at %s\n", st.Root, st.At.UTC().Format(time.RFC3339))
	if len(st.TaskTypes) == 0 {
		fmt.Fprintln(w, "no task types")
	}
	for _, tt := range st.TaskTypes {
		fmt.Fprintf(w, "\ntaskType %s\n", tt.BaseTaskType)
		if len(tt.Runtimes) == 0 {
			fmt.Fprintln(w, "  no runtime (no server has run it)")
		}
		for _, rt := range tt.Runtimes {
			fmt.Fprintf(w, "  runtime %s (ownSign %s): %d server(s), %d item(s)", rt.TaskType, rt.OwnSign, len(rt.Servers), len(rt.Items))
			if rt.Unassigned > 0 {
				fmt.Fprintf(w, ", %d UNASSIGNED", rt.Unassigned)
			}
			if rt.Orphaned > 0 {
				fmt.Fprintf(w, ", %d ORPHANED", rt.Orphaned)
			}
			fmt.Fprintf(w, "; items built by %s at %s\n", dash(string(rt.Mark.Leader)), fmtTime(rt.Mark.BuiltAt))
			if len(rt.Servers) > 0 {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "    \tSERVER\tHOST\tSESSION\tHEARTBEAT AGE\tITEMS\tWINDOW\tSTATISTICS")
				for _, s := range rt.Servers {
					mark := ""
					if s.Leader {
						mark = "*"
					}
					fmt.Fprintf(tw, "    %s\t%s\t%s/%s\t0x%x\t%.1fs\t%d\t%s\t%s\n", mark, s.UUID, s.HostName, s.IP, s.Session,
						s.HeartbeatAgeSec, s.Items, dash(s.WindowState), dash(s.DealInfoDesc))
				}
				tw.Flush()
			}
			if len(rt.Items) > 0 {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "    ITEM\tOWNER\tREQUESTED\tEPOCH\tPARAMETER\tFLAG")
				for _, it := range rt.Items {
					fmt.Fprintf(tw, "    %s\t%s\t%s\t%d\t%s\t%s\n", it.ID, dash(string(it.CurServer)), dash(string(it.ReqServer)),
						it.Epoch, dash(it.Parameter), strings.ToUpper(it.Flag))
				}
				tw.Flush()
			}
		}
	}
}

func fmtTime(t schedule.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// factoriesJSON is the output of "factories -o json".
type factoryJSON struct {
	strategy.FactoryView
	Registrations []schedule.StrategyRuntime `json:"registrations"`
}

func factoriesCmd() command {
	return command{
		name:    "factories",
		args:    "",
		summary: "live factories, their stop flags and their registrations",
		example: `  tbsctl factories
  tbsctl factories -o json`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			out := outputFlag(fs, "text", "text", "json")
			return func(ctx context.Context, c *cli, args []string) error {
				v, err := c.listView(ctx, "factories", args, *out)
				if err != nil {
					return err
				}
				fs := []factoryJSON{}
				for _, f := range v.Factories {
					fj := factoryJSON{FactoryView: f, Registrations: []schedule.StrategyRuntime{}}
					for _, s := range v.Strategies {
						for _, r := range s.Registrations {
							if r.UUID == f.UUID {
								fj.Registrations = append(fj.Registrations, r)
							}
						}
					}
					fs = append(fs, fj)
				}
				if *out == "json" {
					return printJSON(c.io.Out, fs)
				}
				if len(fs) == 0 {
					c.out("no live factories\n")
					return nil
				}
				tw := tabwriter.NewWriter(c.io.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "FACTORY\tHOST\tSESSION\tSTATE\tREGISTERED\tSTRATEGIES (request/current message)")
				for _, f := range fs {
					state := "running"
					if f.State.Stopped {
						state = fmt.Sprintf("STOPPED by %s at %s", dash(f.State.By), fmtTime(f.State.At))
						if f.State.Reason != "" {
							state += " (" + f.State.Reason + ")"
						}
					}
					var regs []string
					for _, r := range f.Registrations {
						s := fmt.Sprintf("%s %d/%d", r.StrategyName, r.RequestNum, r.CurrentNum)
						if r.Message != "" {
							s += " " + r.Message
						}
						regs = append(regs, s)
					}
					fmt.Fprintf(tw, "%s\t%s/%s\t0x%x\t%s\t%s\t%s\n", f.UUID, f.HostName, f.IP, f.Session, state, fmtTime(f.RegisterTime), dash(strings.Join(regs, "; ")))
				}
				return tw.Flush()
			}
		},
	}
}

func strategiesCmd() command {
	return command{
		name:    "strategies",
		args:    "",
		summary: "strategies with their registrations (requestNum/currentNum, messages)",
		example: `  tbsctl strategies
  tbsctl strategies -o json`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			out := outputFlag(fs, "text", "text", "json")
			return func(ctx context.Context, c *cli, args []string) error {
				v, err := c.listView(ctx, "strategies", args, *out)
				if err != nil {
					return err
				}
				if *out == "json" {
					list := []map[string]any{}
					for _, s := range v.Strategies {
						m, err := strategyJSON(s)
						if err != nil {
							return err
						}
						list = append(list, m)
					}
					return printJSON(c.io.Out, list)
				}
				if len(v.Strategies) == 0 {
					c.out("no strategies\n")
					return nil
				}
				tw := tabwriter.NewWriter(c.io.Out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "STRATEGY\tSTS\tKIND\tTASK\tASSIGN\tPER FACTORY\tIPLIST\tREQUEST/CURRENT\tLEADER")
				for _, s := range v.Strategies {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d/%d\t%s\n", s.StrategyName, s.Sts, s.Kind, s.TaskName, s.AssignNum,
						s.NumOfSingleServer, strings.Join(s.IPList, ","), s.RequestNum, s.CurrentNum, dash(string(s.Leader)))
					for _, r := range s.Registrations {
						fmt.Fprintf(tw, "  %s\t\t\t\t\t\t\t%d/%d\t%s\n", r.UUID, r.RequestNum, r.CurrentNum, r.Message)
					}
				}
				return tw.Flush()
			}
		},
	}
}

func pauseCmd() command  { return stsCmd("pause", true) }
func resumeCmd() command { return stsCmd("resume", false) }

func stsCmd(name string, pause bool) command {
	summary := "resume a paused strategy: factories register and run it again"
	if pause {
		summary = "pause a strategy: factories stop its thread groups (items handed over) and leave it"
	}
	return command{
		name:    name,
		args:    "STRATEGY",
		summary: summary,
		example: "  tbsctl " + name + " orders-base",
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs(name, args, 1, 1, "one strategy name"); err != nil {
					return err
				}
				admin, _, err := c.adminAPI(ctx)
				if err != nil {
					return err
				}
				var changed bool
				if pause {
					changed, err = admin.PauseStrategy(ctx, args[0])
				} else {
					changed, err = admin.ResumeStrategy(ctx, args[0])
				}
				if err != nil {
					return fmt.Errorf("%s strategy %q: %w", name, args[0], err)
				}
				state := map[bool]string{true: "paused", false: "resumed"}[pause]
				if !changed {
					c.out("strategy %s: already %s\n", args[0], state)
					return nil
				}
				c.out("strategy %s: %s\n", args[0], state)
				return nil
			}
		},
	}
}

// strategyJSON is a strategy's fields (TBSchedule's names) plus its
// registrations, leader and totals.
func strategyJSON(s strategy.StrategyView) (map[string]any, error) {
	b, err := json.Marshal(s.Strategy)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	regs := s.Registrations
	if regs == nil {
		regs = []schedule.StrategyRuntime{}
	}
	m["registrations"] = regs
	m["leader"] = s.Leader
	m["requestNum"] = s.RequestNum
	m["currentNum"] = s.CurrentNum
	return m, nil
}
