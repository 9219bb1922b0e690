package ctl

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// machine is what the stop flag keys on: a factory's ip and host name.
type machine struct{ ip, host string }

func (m machine) String() string { return m.ip + "$" + m.host }

// resolveMachine finds the machine an argument names: a factory id
// ("ip$host$uuid$seq"), "ip$host", or a host name or IP that the live
// factories match unambiguously. It also returns the live factories on it.
func resolveMachine(ctx context.Context, store *zkstore.Store, arg string) (machine, []schedule.Factory, error) {
	factories, err := store.Factories(ctx)
	if err != nil {
		return machine{}, nil, err
	}
	var m machine
	if strings.Contains(arg, "$") {
		parts := strings.Split(arg, "$")
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return machine{}, nil, usagef("factory %q: expected ip$host or a factory id ip$host$uuid$seq", arg)
		}
		m = machine{parts[0], parts[1]}
	} else {
		found := map[machine]bool{}
		for _, f := range factories {
			if strings.EqualFold(f.IP, arg) || strings.EqualFold(f.HostName, arg) {
				found[machine{f.IP, f.HostName}] = true
			}
		}
		switch len(found) {
		case 0:
			var live []string
			for _, f := range factories {
				live = append(live, f.IP+"$"+f.HostName)
			}
			return machine{}, nil, errNotFoundf("factory %q: no live factory has this host name or IP (live: %s; give ip$host to set the flag of a machine that is down)", arg, dash(strings.Join(live, ", ")))
		case 1:
			for k := range found {
				m = k
			}
		default:
			var names []string
			for k := range found {
				names = append(names, k.String())
			}
			sort.Strings(names)
			return machine{}, nil, fmt.Errorf("factory %q: matches several machines (%s): give ip$host", arg, strings.Join(names, ", "))
		}
	}
	var on []schedule.Factory
	for _, f := range factories {
		if f.IP == m.ip && f.HostName == m.host {
			on = append(on, f)
		}
	}
	return m, on, nil
}

// machineArg reads the one FACTORY argument of a command and resolves it.
func (c *cli) machineArg(ctx context.Context, cmd string, args []string) (*strategy.Admin, machine, []schedule.Factory, error) {
	if err := needArgs(cmd, args, 1, 1, "one factory"); err != nil {
		return nil, machine{}, nil, err
	}
	admin, store, err := c.adminAPI(ctx)
	if err != nil {
		return nil, machine{}, nil, err
	}
	m, on, err := resolveMachine(ctx, store, args[0])
	return admin, m, on, err
}

func stopCmd() command  { return flagCmd("stop", true) }
func startCmd() command { return flagCmd("start", false) }

// flagCmd sets (stop) or clears (start) the stop flag of a machine.
func flagCmd(name string, stop bool) command {
	cmd := command{
		name:    name,
		args:    "FACTORY",
		summary: "clear the stop flag of a factory's machine: it runs its strategies again",
		example: "  tbsctl start worker-3",
	}
	if stop {
		cmd.summary = "set the durable stop flag of a factory's machine: its thread groups stop and hand over their items"
		cmd.help = `
FACTORY is a factory id from "tbsctl factories", "ip$host", or a host name
or IP that names one machine. The flag survives restarts and session
expiries until "tbsctl start". It returns at once; "tbsctl drain" also
waits for the handover.`
		cmd.example = `  tbsctl stop worker-3 --reason "kernel upgrade"
  tbsctl stop '10.0.0.7$worker-7'`
	}
	cmd.setup = func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
		var reason *string
		if stop {
			reason = fs.String("reason", "", "why, recorded with the flag")
		}
		return func(ctx context.Context, c *cli, args []string) error {
			admin, m, on, err := c.machineArg(ctx, name, args)
			if err != nil {
				return err
			}
			if stop {
				err = admin.StopFactory(ctx, m.ip, m.host, *reason)
			} else {
				err = admin.StartFactory(ctx, m.ip, m.host)
			}
			if err != nil {
				return fmt.Errorf("%s factory %s: %w", name, m, err)
			}
			c.out("factory %s: %s (%d live factory process(es) on it)\n", m, map[bool]string{true: "stopped", false: "started"}[stop], len(on))
			return nil
		}
	}
	return cmd
}

func drainCmd() command {
	return command{
		name:    "drain",
		args:    "FACTORY",
		summary: "stop a factory's machine and wait until its thread groups have handed every item over",
		help: `
Sets the stop flag (as "tbsctl stop"), then waits until no live server of
the machine's factories remains, none of them is registered under a
strategy, and every item of a runtime that other servers run has a live
owner again: the handover is complete. Runtimes no other server runs are
named in a note (their items wait for a server). Fails if that takes
longer than --wait. Undo with "tbsctl start".`,
		example: `  tbsctl drain worker-3 --wait 2m && systemctl stop orders-worker`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			reason := fs.String("reason", "drain", "why, recorded with the flag")
			wait := fs.Duration("wait", time.Minute, "how long to wait for the handover")
			return func(ctx context.Context, c *cli, args []string) error {
				admin, m, on, err := c.machineArg(ctx, "drain", args)
				if err != nil {
					return err
				}
				ids := map[string]bool{}
				for _, f := range on {
					ids[string(f.UUID)] = true
				}
				ran := map[string]bool{}
				if _, _, err := c.machineLoad(ctx, ids, ran); err != nil {
					return err
				}
				start := time.Now()
				if err := admin.StopFactory(ctx, m.ip, m.host, *reason); err != nil {
					return fmt.Errorf("drain factory %s: %w", m, err)
				}
				c.out("factory %s: stopped; waiting for %d factory process(es) to hand over\n", m, len(on))
				wctx, cancel := context.WithTimeout(ctx, *wait)
				defer cancel()
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					left, idle, err := c.machineLoad(wctx, ids, ran)
					if err != nil && wctx.Err() == nil {
						return err
					}
					if err == nil && left == "" {
						c.out("factory %s: drained in %v\n", m, time.Since(start).Round(time.Millisecond))
						if len(idle) > 0 {
							c.out("note: no live server runs %s: those items wait until one does\n", strings.Join(idle, ", "))
						}
						return nil
					}
					select {
					case <-wctx.Done():
						return fmt.Errorf("drain factory %s: still running after %v: %s", m, *wait, left)
					case <-tick.C:
					}
				}
			}
		},
	}
}

// machineLoad describes what still keeps the drain of the factories ids
// from being complete ("" if nothing): their registrations under
// strategies, the live servers they started, and items of runtimes that
// other servers run but that have no live owner yet (the handover is under
// way). Runtimes that no live server runs are listed in idle: their items
// wait for a server, which no drain can change.
//
// ran collects the runtimes in which the factories had servers; only
// those are checked for items.
func (c *cli) machineLoad(ctx context.Context, ids, ran map[string]bool) (left string, idle []string, err error) {
	admin, _, err := c.adminAPI(ctx)
	if err != nil {
		return "", nil, err
	}
	v, err := admin.Runtime(ctx)
	if err != nil {
		return "", nil, err
	}
	var parts []string
	for _, s := range v.Strategies {
		for _, r := range s.Registrations {
			if ids[string(r.UUID)] {
				parts = append(parts, fmt.Sprintf("registered under strategy %s (%d running)", s.StrategyName, r.CurrentNum))
			}
		}
	}
	st := buildStatus(c.g.root, v, "")
	for _, tt := range st.TaskTypes {
		for _, rt := range tt.Runtimes {
			for _, s := range rt.Servers {
				if ids[s.ManagerFactoryUUID] {
					parts = append(parts, "server "+string(s.UUID))
					ran[rt.TaskType] = true
				}
			}
			waiting := rt.Unassigned + rt.Orphaned
			switch {
			case waiting == 0, !ran[rt.TaskType]:
			case len(rt.Servers) == 0:
				idle = append(idle, fmt.Sprintf("%s (%d item(s))", rt.TaskType, waiting))
			default:
				parts = append(parts, fmt.Sprintf("runtime %s: %d item(s) not yet owned by a live server", rt.TaskType, waiting))
			}
		}
	}
	return strings.Join(parts, ", "), idle, nil
}
