package ctl

import (
	"fmt"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/quartz"
	"github.com/tbschedule/tbschedule-go/schedule"
)

// idParts splits a server id "<runtime>$<ip>$<uuid32>$<seq>" (the runtime
// may hold a '$' itself) or a factory id "<ip>$<host>$<uuid32>$<seq>" into
// the part before the uuid's, the uuid and the sequence without its leading
// zeros. ok is false for an id of another shape.
func idParts(id string) (before, uuid, seq string, ok bool) {
	parts := strings.Split(id, schedule.RuntimeSeparator)
	if len(parts) < 3 {
		return "", "", "", false
	}
	n := len(parts)
	seq = strings.TrimLeft(parts[n-1], "0")
	if seq == "" {
		seq = "0"
	}
	return strings.Join(parts[:n-2], schedule.RuntimeSeparator), parts[n-2], seq, true
}

// shortNames gives each server id a short name people can tell apart:
// "host#seq", the host name the server published (its IP when unknown) and
// the sequence number of its node, which is unique within its runtime. If
// two names still collide (a runtime re-created), the first characters of
// the id's uuid are added until they differ. It is pure.
func shortNames(ids []schedule.ServerID, hosts map[schedule.ServerID]string) map[schedule.ServerID]string {
	names := make(map[schedule.ServerID]string, len(ids))
	for extra := 0; extra <= 32; extra += 4 {
		seen := map[string]int{}
		for _, id := range ids {
			names[id] = shortName(id, hosts[id], extra)
			seen[names[id]]++
		}
		collide := false
		for _, n := range seen {
			collide = collide || n > 1
		}
		if !collide {
			break
		}
	}
	return names
}

func shortName(id schedule.ServerID, host string, uuidChars int) string {
	before, uuid, seq, ok := idParts(string(id))
	if !ok {
		return string(id)
	}
	if host == "" {
		ip := before
		if i := strings.LastIndex(before, schedule.RuntimeSeparator); i >= 0 {
			ip = before[i+1:]
		}
		host = ip
	}
	name := host + "#" + seq
	if uuidChars > 0 {
		name += "-" + uuid[:min(uuidChars, len(uuid))]
	}
	return name
}

// factoryName is a factory's (process's) short name: "host#fseq", the f
// telling it from a server's name. "" for no id.
func factoryName(id string) string {
	before, _, seq, ok := idParts(id)
	if !ok {
		return id
	}
	_, host, _ := strings.Cut(before, schedule.RuntimeSeparator)
	return host + "#f" + seq
}

// sessionText is how tbsctl shows a session id everywhere: hex with 0x,
// as the library logs it.
func sessionText(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprintf("%#x", id)
}

// nextWindowStart returns when the task type's permit window next opens
// after now, and false when it is always open (or its spec is invalid, which
// validation reports elsewhere). It is pure.
func nextWindowStart(tt schedule.TaskType, now time.Time) (time.Time, bool) {
	c, _, err := quartz.ParseStart(tt.PermitRunStartTime)
	if err != nil || c == nil {
		return time.Time{}, false
	}
	loc, err := tt.Location()
	if err != nil {
		return time.Time{}, false
	}
	next := c.Next(now, loc)
	return next, !next.IsZero()
}

// Orphan states: what the items of an owner that is not live are waiting for.
const (
	orphanHeld    = "held"    // the leader holds them for the owner's lock delay
	orphanPending = "pending" // the owner just vanished; the leader has not looked yet
	orphanOverdue = "overdue" // the hold ended but the items did not move
	orphanStuck   = "stuck"   // no hold, no leader reaction: a fault
)

// orphanVerdict is what the items of one owner that is not live wait for.
type orphanVerdict struct {
	state string
	hold  schedule.ServerHold // held or overdue: the leader's published hold
}

// judgeOrphans decides, for an owner that is not live, whether its items
// wait for a lock-delay hold or are stuck. leader is the runtime's leader
// record (nil when no server is live). leaderWroteSince says whether the
// leader has written its record since the runtime's servers last changed:
// if not, it may not have seen the owner vanish yet. A hold is overdue
// once slack has passed after its end. It is pure.
func judgeOrphans(owner schedule.ServerID, leader *schedule.Server, leaderWroteSince bool, now time.Time, slack time.Duration) orphanVerdict {
	if leader == nil {
		return orphanVerdict{state: orphanStuck}
	}
	for _, h := range leader.Holds {
		if h.Server != owner {
			continue
		}
		if now.Before(h.Until.Add(slack)) {
			return orphanVerdict{state: orphanHeld, hold: h}
		}
		return orphanVerdict{state: orphanOverdue, hold: h}
	}
	if !leaderWroteSince {
		return orphanVerdict{state: orphanPending}
	}
	return orphanVerdict{state: orphanStuck}
}
