package plan

import (
	"log/slog"
	"slices"
	"strings"
	"time"
)

// leadHolds is a LeadPlan with the set of held servers.
type leadHolds[I, S ~string] struct {
	LeadPlan[I, S]
	hold map[S]bool
}

// holds decides which vanished servers' items the leader must not grant
// yet (Lead's lock-delay holds).
//
// A server whose node vanished may still be running deals: a session that
// the coordination service ends early (closed by another client or an
// operator, not expired by silence) can end while its client is cut off and
// has heard nothing, and the client fences only when its own timers say so.
// So the items of a server that vanished while owning them are granted
// elsewhere only after that server's lock delay (as it published it; the
// leader's own for a server that published none) has passed since this
// leader first saw it gone. A graceful stop releases its items itself just
// after its node goes, so its items are held only until those writes
// arrive; a server killed outright is delayed once more by the lock delay
// after its session expired. A new leader starts counting when it first
// sees the vanished server, which only delays more.
func holds[I, S ~string](in LeadInput[I, S], live map[S]bool) leadHolds[I, S] {
	var p leadHolds[I, S]
	counts := map[S]int{}
	for _, it := range in.Items {
		if it.Cur != "" && !live[it.Cur] {
			counts[it.Cur]++
		}
	}
	p.Gone = make(map[S]time.Time, len(counts))
	for id, since := range in.Gone {
		if counts[id] == 0 {
			p.event(slog.LevelDebug, "a vanished server's items were released (a graceful stop) or granted",
				"vanished", id, "after", in.Now.Sub(since))
			continue
		}
		p.Gone[id] = since
	}
	for id := range in.Delays {
		if !live[id] && counts[id] == 0 {
			p.ForgetDelays = append(p.ForgetDelays, id)
		}
	}
	for id, n := range counts {
		delay, known := in.Delays[id]
		if !known {
			delay = in.OwnDelay
		}
		since, seen := p.Gone[id]
		if !seen {
			// A graceful stop deletes its node first and releases its items
			// right after: most holds end within milliseconds, so this is
			// not news yet.
			since = in.Now
			p.Gone[id] = since
			p.event(slog.LevelDebug, "server vanished while owning items; they wait for its releases, at most its lock delay",
				"vanished", id, "items", n, "delay", delay)
		}
		until := since.Add(delay)
		if !in.Now.Before(until) {
			switch {
			case seen:
				p.event(slog.LevelInfo, "server vanished without releasing its items; granting them after its lock delay",
					"vanished", id, "items", n, "delay", delay)
			case delay <= 0:
				p.event(slog.LevelInfo, "server vanished while owning items; granting them at once (its lock delay is off)",
					"vanished", id, "items", n)
			}
			continue
		}
		if p.hold == nil {
			p.hold = map[S]bool{}
		}
		p.hold[id] = true
		p.Holds = append(p.Holds, Hold[S]{Server: id, Items: n, Until: until})
		if p.HeldUntil.IsZero() || until.Before(p.HeldUntil) {
			p.HeldUntil = until
		}
	}
	slices.SortFunc(p.Holds, func(a, b Hold[S]) int { return strings.Compare(string(a.Server), string(b.Server)) })
	return p
}

func (p *LeadPlan[I, S]) event(level slog.Level, msg string, args ...any) {
	p.Events = append(p.Events, Event{Level: level, Msg: msg, Args: args})
}
