package ctl

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// runtimeFindings checks one runtime: stale servers, items of owners that
// are not live (held for a lock delay, or stuck), unassigned items, and
// a runtime left without servers.
func (c *cli) runtimeFindings(conn *zk.Conn, at time.Time, tt schedule.TaskType, rt strategy.RuntimeInfo) []finding {
	node := c.g.root + "/baseTaskType/" + tt.BaseTaskType + "/" + rt.Name
	var out []finding
	add := func(sev, check, node, fix, format string, args ...any) {
		out = append(out, finding{Severity: sev, Check: check, Node: node, Detail: fmt.Sprintf(format, args...), Fix: fix})
	}
	live := map[schedule.ServerID]bool{}
	for _, s := range rt.Servers {
		live[s.UUID] = true
		if age := at.Sub(s.HeartBeatTime.Time); !s.HeartBeatTime.IsZero() && age > tt.JudgeDeadInterval {
			add(sevProblem, "stale server", node+"/server/"+string(s.UUID), "look at the process on "+s.HostName+" (stuck or starved); restart it if needed",
				"last heartbeat %v ago, more than judgeDeadInterval %v, although its session is alive", age.Round(time.Millisecond), tt.JudgeDeadInterval)
		}
	}
	orphans := map[schedule.ServerID][]string{}
	var unowned []string
	for _, it := range rt.Items.Items {
		switch {
		case it.Sts == schedule.ItemRemoved:
		case it.CurServer == "":
			unowned = append(unowned, string(it.ID))
		case !live[it.CurServer]:
			orphans[it.CurServer] = append(orphans[it.CurServer], string(it.ID))
		}
	}
	if len(orphans) > 0 {
		var leader *schedule.Server
		wrote := false
		if len(rt.Servers) > 0 {
			leader = &rt.Servers[0]
			wrote = leaderWroteSince(conn, node+"/server", leader.UUID)
		}
		for _, o := range sortedOwners(orphans) {
			out = append(out, orphanFinding(node+"/taskItem", o, orphans[o], leader, wrote, at, tt.HeartBeatRate))
		}
	}
	if len(unowned) > 0 && len(rt.Servers) > 0 {
		add(sevProblem, "unassigned", node+"/taskItem", "the leader assigns them within a round; if this persists, look at the leader's log",
			"%d item(s) have no owner although %d server(s) are live: %s", len(unowned), len(rt.Servers), strings.Join(unowned, ", "))
	}
	built := rt.Items.Mark.BuiltAt
	if len(rt.Servers) == 0 && !built.IsZero() && at.Sub(built.Time) > tt.ExpireOwnSignInterval {
		add(sevProblem, "stale runtime", node, "delete it if the ownSign is gone (tbsctl delete taskType removes every runtime), or run a server for it",
			"no live server, items last built %v ago, more than expireOwnSignInterval %v", at.Sub(built.Time).Round(time.Second), tt.ExpireOwnSignInterval)
	}
	return out
}

func sortedOwners(m map[schedule.ServerID][]string) []schedule.ServerID {
	ids := make([]schedule.ServerID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// orphanFinding reports the items of one owner that is not live, after
// judgeOrphans: a hold under way (not a problem), or a problem.
func orphanFinding(node string, owner schedule.ServerID, items []string, leader *schedule.Server, wrote bool, at time.Time, slack time.Duration) finding {
	v := judgeOrphans(owner, leader, wrote, at, slack)
	name := shortName(owner, v.hold.HostName, 0)
	what := fmt.Sprintf("%d item(s) of server %s (%s), which is not live: %s", len(items), name, owner, strings.Join(items, ", "))
	f := finding{Severity: sevProblem, Check: "dead owner", Node: node}
	switch v.state {
	case orphanHeld:
		f.Severity, f.Check = sevHold, "held"
		f.Detail = fmt.Sprintf("%s; held for its lock delay until %s (%v from now), then the leader reassigns them",
			what, fmtTime(v.hold.Until), v.hold.Until.Sub(at).Round(time.Millisecond))
	case orphanPending:
		f.Severity, f.Check = sevHold, "held"
		f.Detail = what + "; it vanished moments ago and the leader has not yet written its record since: it holds them for the server's lock delay"
	case orphanOverdue:
		f.Detail = fmt.Sprintf("%s; the leader's lock-delay hold ended at %s (%v ago) but they were not reassigned",
			what, fmtTime(v.hold.Until), at.Sub(v.hold.Until.Time).Round(time.Millisecond))
		f.Fix = "look at the leader's log (" + shortName(leader.UUID, leader.HostName, 0) + "): its writes may fail"
	case orphanStuck:
		f.Detail = what
		f.Fix = "the leader has not taken them over and holds no lock delay for them: look at the leader's log (" + leaderText(leader) + ")"
		if leader == nil {
			f.Fix = "no server runs this runtime: start its service, or resume or apply a strategy for it"
		}
	}
	return f
}

func leaderText(l *schedule.Server) string {
	if l == nil {
		return "none"
	}
	return shortName(l.UUID, l.HostName, 0)
}

// leaderWroteSince reports whether the leader's record was written after
// the last change of the runtime's server list (its node's mzxid is past the
// directory's pzxid): if not, the leader may not have seen a server vanish
// yet. On a read error it says true, so nothing is excused.
func leaderWroteSince(conn *zk.Conn, dir string, leader schedule.ServerID) bool {
	_, ds, err := conn.Exists(dir)
	if err != nil || ds == nil {
		return true
	}
	_, ls, err := conn.Exists(dir + "/" + string(leader))
	if err != nil || ls == nil {
		return true
	}
	return ls.Mzxid > ds.Pzxid
}

// storedFieldFindings reports the fields of stored task types and
// strategies that this version does not know (the library ignores them): a
// mis-cased known field is a problem, another field a warning.
func storedFieldFindings(conn *zk.Conn, root string) []finding {
	var out []finding
	for _, dir := range []struct{ path, kind string }{{root + "/baseTaskType", "taskType"}, {root + "/strategy", "strategy"}} {
		names, _, err := conn.Children(dir.path)
		if err != nil {
			continue // a missing directory has nothing to check
		}
		sort.Strings(names)
		for _, n := range names {
			data, _, err := conn.Get(dir.path + "/" + n)
			if err != nil {
				continue
			}
			for _, u := range storedUnknownFields(dir.kind, data) {
				f := finding{Severity: sevWarning, Check: "unknown field", Node: dir.path + "/" + n,
					Detail: u.String() + ": tbschedule-go ignores it (written by another version or by hand?)",
					Fix:    "if it is not from a newer version, remove it: tbsctl get " + dir.kind + " " + n + " > f.json, then tbsctl apply -f f.json"}
				if u.miscased {
					f.Severity = sevProblem
					f.Detail = u.String() + ": tbschedule-go ignores it and uses the default of " + u.nearest
					f.Fix = "tbsctl get " + dir.kind + " " + n + " > f.json, set " + u.nearest + " in it, then tbsctl apply -f f.json"
				}
				out = append(out, f)
			}
		}
	}
	return out
}
