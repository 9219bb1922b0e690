package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

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

func fmtTime(t schedule.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// factoriesJSON is the output of "factories -o json".
type factoryJSON struct {
	strategy.FactoryView
	// Name is the factory's short name ("host#fseq"), as status shows it.
	Name string `json:"name"`
	// Session replaces the record's number with the form used everywhere.
	Session       string                     `json:"session"`
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
					fj := factoryJSON{FactoryView: f, Name: factoryName(string(f.UUID)), Session: sessionText(f.Session), Registrations: []schedule.StrategyRuntime{}}
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
					fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%s\n", f.UUID, f.HostName, f.IP, f.Session, state, fmtTime(f.RegisterTime), dash(strings.Join(regs, "; ")))
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
				admin, store, err := c.adminAPI(ctx)
				if err != nil {
					return err
				}
				var changed bool
				if pause {
					changed, err = admin.PauseStrategy(ctx, args[0])
				} else {
					changed, err = admin.ResumeStrategy(ctx, args[0])
				}
				if errors.Is(err, schedule.ErrNotFound) {
					return fmt.Errorf("%s: %w", name, c.missing(err, "strategy", args[0], strategyHint(ctx, store, args[0])))
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
