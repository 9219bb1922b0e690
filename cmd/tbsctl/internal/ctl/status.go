package ctl

import (
	"context"
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
	BaseTaskType string `json:"baseTaskType"`
	// NextWindowStart is when the permit window next opens (absent when the
	// task type has no window: always open).
	NextWindowStart *time.Time `json:"nextWindowStart,omitempty"`
	// RunNowAt and RunNowBy are the last run-now request (tbsctl run-now),
	// absent when none was made.
	RunNowAt *time.Time    `json:"runNowAt,omitempty"`
	RunNowBy string        `json:"runNowBy,omitempty"`
	Runtimes []runtimeJSON `json:"runtimes"`
}

type runtimeJSON struct {
	TaskType string       `json:"taskType"`
	OwnSign  string       `json:"ownSign"`
	Mark     markJSON     `json:"mark"`
	Servers  []serverJSON `json:"servers"`
	Items    []itemJSON   `json:"items"`
	// Unassigned and Orphaned count active items with no owner and items
	// owned by a server that is not live; Held counts the orphaned items the
	// leader holds for their owner's lock delay (see Holds).
	Unassigned int                   `json:"unassigned"`
	Orphaned   int                   `json:"orphaned"`
	Held       int                   `json:"held"`
	Holds      []schedule.ServerHold `json:"holds,omitempty"`
	// ItemsStamp moves with every write of the items (see
	// schedule.ItemsStamp): a reader that compares two reads skips the
	// items when it did not move (the web console's recent events).
	ItemsStamp schedule.ItemsStamp `json:"itemsStamp,omitempty"`
}

type markJSON struct {
	Leader     schedule.ServerID `json:"leader"`
	LeaderName string            `json:"leaderName,omitempty"`
	BuiltAt    schedule.Time     `json:"builtAt"`
}

type serverJSON struct {
	schedule.Server
	// Name is the short name status shows ("host#seq"); Factory the short
	// name of its process's factory ("host#fseq").
	Name    string `json:"name"`
	Factory string `json:"factory,omitempty"`
	// Session replaces the record's number with the form used everywhere.
	Session         string  `json:"session"`
	Leader          bool    `json:"leader"`
	HeartbeatAgeSec float64 `json:"heartbeatAgeSec"`
	Items           int     `json:"items"`
}

type itemJSON struct {
	schedule.Item
	OwnerName     string `json:"ownerName,omitempty"`
	RequestedName string `json:"requestedName,omitempty"`
	// Flag is "", "unassigned", "orphaned" (owner not live), "held"
	// (orphaned, held for the owner's lock delay until HeldUntil) or
	// "removed".
	Flag      string         `json:"flag,omitempty"`
	HeldUntil *schedule.Time `json:"heldUntil,omitempty"`
}

// buildStatus turns the admin's runtime view into the status report.
func buildStatus(root string, v strategy.RuntimeView, only string) statusJSON {
	st := statusJSON{At: v.At, Root: root, TaskTypes: []taskTypeJSON{}}
	for _, tv := range v.TaskTypes {
		if only != "" && tv.BaseTaskType != only {
			continue
		}
		tj := taskTypeJSON{BaseTaskType: tv.BaseTaskType, Runtimes: []runtimeJSON{}}
		if next, ok := nextWindowStart(tv.TaskType, v.At); ok {
			tj.NextWindowStart = &next
		}
		if at := tv.RunNowAt; !at.IsZero() {
			tj.RunNowAt, tj.RunNowBy = &at, tv.RunNowBy
		}
		for _, rt := range tv.Runtimes {
			tj.Runtimes = append(tj.Runtimes, buildRuntime(v.At, rt))
		}
		st.TaskTypes = append(st.TaskTypes, tj)
	}
	return st
}

// runtimeNames names every server a runtime's report mentions.
func runtimeNames(rt strategy.RuntimeInfo) map[schedule.ServerID]string {
	hosts := map[schedule.ServerID]string{}
	var ids []schedule.ServerID
	note := func(id schedule.ServerID) {
		if _, ok := hosts[id]; !ok && id != "" && id != schedule.NoServer {
			hosts[id] = ""
			ids = append(ids, id)
		}
	}
	for _, s := range rt.Servers {
		note(s.UUID)
		hosts[s.UUID] = s.HostName
		for _, h := range s.Holds {
			note(h.Server)
			hosts[h.Server] = h.HostName
		}
	}
	for _, it := range rt.Items.Items {
		note(it.CurServer)
		note(it.ReqServer)
	}
	note(rt.Items.Mark.Leader)
	return shortNames(ids, hosts)
}

func buildRuntime(at time.Time, rt strategy.RuntimeInfo) runtimeJSON {
	names := runtimeNames(rt)
	_, own, _ := schedule.SplitRuntimeName(rt.Name)
	rj := runtimeJSON{TaskType: rt.Name, OwnSign: own,
		Mark:    markJSON{Leader: rt.Items.Mark.Leader, LeaderName: names[rt.Items.Mark.Leader], BuiltAt: rt.Items.Mark.BuiltAt},
		Servers: []serverJSON{}, Items: []itemJSON{}, ItemsStamp: rt.Items.Stamp}
	live := map[schedule.ServerID]int{}
	holds := map[schedule.ServerID]schedule.ServerHold{}
	for i, s := range rt.Servers {
		live[s.UUID] = i
		age := 0.0
		if !s.HeartBeatTime.IsZero() {
			// Clamped: the writer's cluster clock may run a hair ahead of ours.
			age = max(0, at.Sub(s.HeartBeatTime.Time).Seconds())
		}
		if i == 0 {
			rj.Holds = s.Holds
			for _, h := range s.Holds {
				holds[h.Server] = h
			}
		}
		rj.Servers = append(rj.Servers, serverJSON{Server: s, Name: names[s.UUID], Factory: factoryName(s.ManagerFactoryUUID),
			Session: sessionText(s.Session), Leader: i == 0, HeartbeatAgeSec: age})
	}
	for _, it := range rt.Items.Items {
		ij := itemJSON{Item: it, OwnerName: names[it.CurServer], RequestedName: names[it.ReqServer]}
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
			if h, held := holds[it.CurServer]; held {
				ij.Flag, ij.HeldUntil = "held", &h.Until
				rj.Held++
			}
		default:
			rj.Servers[idx].Items++
		}
		rj.Items = append(rj.Items, ij)
	}
	return rj
}

func statusCmd() command {
	return command{
		name:    "status",
		args:    "[taskType]",
		summary: "servers and items of every task type and ownSign",
		help: `
For each task type: when its permit window next opens; for each of its
runtimes (ownSign): the live servers, leader first (name, process, host,
session, heartbeat age, window state, statistics), and the items (owner,
requested owner, epoch, parameter). Servers are named host#seq: the host
name the server published (its IP when unknown) and the sequence number of
its node, unique within the runtime; PROCESS is its factory, host#f<seq>. Items with no owner are flagged UNASSIGNED, items owned by a server
that is no longer live ORPHANED, or HELD with the time the runtime's leader
grants them elsewhere (the vanished server's lock delay). -o wide adds the
full server ids; -o json has everything, full ids included. Session ids are
shown as 0x... everywhere.`,
		example: `  tbsctl status
  tbsctl status orders -o wide
  tbsctl status orders -o json | jq '.taskTypes[].runtimes[].orphaned'`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			out := outputFlag(fs, "text", "text", "wide", "json")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("status", args, 0, 1, "at most one task type"); err != nil {
					return err
				}
				if err := checkOutput("status", *out, "text", "wide", "json"); err != nil {
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
						return fmt.Errorf("status: %w", c.missing(err, "taskType", only, `"tbsctl status" lists every task type`))
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
				printStatus(c.io.Out, st, *out == "wide")
				return nil
			}
		},
	}
}

func printStatus(w io.Writer, st statusJSON, wide bool) {
	fmt.Fprintf(w, "root %s at %s\n", st.Root, st.At.UTC().Format(time.RFC3339))
	if len(st.TaskTypes) == 0 {
		fmt.Fprintln(w, "no task types")
	}
	for _, tt := range st.TaskTypes {
		window := "always open (no permit window)"
		if tt.NextWindowStart != nil {
			window = "next window start " + fmtTime(schedule.Time{Time: *tt.NextWindowStart})
		}
		if tt.RunNowAt != nil {
			window += "; last run-now by " + tt.RunNowBy + " at " + fmtTime(schedule.Time{Time: *tt.RunNowAt})
		}
		fmt.Fprintf(w, "\ntaskType %s: %s\n", tt.BaseTaskType, window)
		if len(tt.Runtimes) == 0 {
			fmt.Fprintln(w, "  no runtime (no server has run it)")
		}
		for _, rt := range tt.Runtimes {
			printRuntime(w, rt, wide)
		}
	}
}

func printRuntime(w io.Writer, rt runtimeJSON, wide bool) {
	fmt.Fprintf(w, "  runtime %s (ownSign %s): %d server(s), %d item(s)", rt.TaskType, rt.OwnSign, len(rt.Servers), len(rt.Items))
	if rt.Unassigned > 0 {
		fmt.Fprintf(w, ", %d UNASSIGNED", rt.Unassigned)
	}
	if n := rt.Orphaned - rt.Held; n > 0 {
		fmt.Fprintf(w, ", %d ORPHANED", n)
	}
	if rt.Held > 0 {
		fmt.Fprintf(w, ", %d HELD for a lock delay", rt.Held)
	}
	leader := rt.Mark.LeaderName
	if wide || leader == "" {
		leader = string(rt.Mark.Leader)
	}
	fmt.Fprintf(w, "; items built by %s at %s\n", dash(leader), fmtTime(rt.Mark.BuiltAt))
	for _, h := range rt.Holds {
		fmt.Fprintf(w, "    hold: %d item(s) of vanished %s until %s\n", h.Items, pick(wide, string(h.Server), shortName(h.Server, h.HostName, 0)), fmtTime(h.Until))
	}
	if len(rt.Servers) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := "    \tSERVER\tPROCESS\tHOST\tSESSION\tHEARTBEAT AGE\tITEMS\tWINDOW\tSTATISTICS"
		if wide {
			head += "\tID"
		}
		fmt.Fprintln(tw, head)
		for _, s := range rt.Servers {
			mark := ""
			if s.Leader {
				mark = "*"
			}
			line := fmt.Sprintf("    %s\t%s\t%s\t%s/%s\t%s\t%.1fs\t%d\t%s\t%s", mark, s.Name, dash(s.Factory), s.HostName, s.IP, s.Session,
				s.HeartbeatAgeSec, s.Items, dash(s.WindowState), dash(s.DealInfoDesc))
			if wide {
				line += "\t" + string(s.UUID)
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
	if len(rt.Items) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    ITEM\tOWNER\tREQUESTED\tEPOCH\tPARAMETER\tFLAG")
		for _, it := range rt.Items {
			flag := strings.ToUpper(it.Flag)
			if it.HeldUntil != nil {
				flag = "HELD until " + fmtTime(*it.HeldUntil)
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%d\t%s\t%s\n", it.ID, dash(pick(wide, string(it.CurServer), it.OwnerName)),
				dash(pick(wide, string(it.ReqServer), it.RequestedName)), it.Epoch, dash(it.Parameter), flag)
		}
		tw.Flush()
	}
}

// pick returns full when wide (or when short is empty), else short.
func pick(wide bool, full, short string) string {
	if wide || short == "" {
		return full
	}
	return short
}
