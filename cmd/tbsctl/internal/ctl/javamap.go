package ctl

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// javaSemantics maps what a record written by TBSchedule meant to what
// our library does with it, so an imported configuration behaves as it
// did, and returns a note for each thing it mapped or that behaves
// differently. tz is the zone TBSchedule's JVM ran the crons in. It is
// pure: the same entry and zone give the same result.
//
//   - A strategy with a null, empty or blank IPList ran nowhere: it is
//     paused with no host (our empty IPList admits no factory either).
//   - IPList entries are trimmed (TBSchedule compared them with their
//     spaces, so such an entry never matched), blank ones dropped.
//   - kind Java (a class instantiated by name) becomes kind Bean under the
//     same name: a Go task of that name must be registered.
//   - assignNum 0 stays 0: no thread group runs anywhere, as before.
//   - A task type gets timeZone tz unless the record set one (our own
//     export does), since our crons otherwise run in UTC.
//   - judgeDeadInterval below 5*heartBeatRate (TBSchedule asked for 2x) is
//     raised to it: here it only marks servers stale (liveness is the
//     session), so the schedule is the same.
//   - Item parameters with white space at their ends are trimmed when the
//     items are parsed, as TBSchedule does; a note says which.
//   - taskKind and version, which TBSchedule never read, are not kept (no
//     field holds them; the task type runs as it did); a note names a
//     value other than TBSchedule's defaults ("static", 0).
func javaSemantics(e *entry, tz string) []string {
	if e.tt != nil {
		return javaTaskType(e.tt, e.hasTimeZone, tz, e.unread)
	}
	return javaStrategy(e.st, e.noIPList)
}

func javaTaskType(t *schedule.TaskType, hasTimeZone bool, tz string, unread []string) []string {
	var notes []string
	if !hasTimeZone && t.TimeZone == "" {
		t.TimeZone = tz
		if t.PermitRunStartTime != "" || t.PermitRunEndTime != "" {
			notes = append(notes, fmt.Sprintf("timeZone %s: the permit window crons run in %s, as in the JVM they ran in", tz, tz))
		}
	}
	if floor := 5 * t.HeartBeatRate; t.HeartBeatRate > 0 && t.JudgeDeadInterval < floor {
		notes = append(notes, fmt.Sprintf("judgeDeadInterval %v is raised to %v (5*heartBeatRate, our minimum): here it only marks a server stale in status and doctor; a dead server is found by its session", t.JudgeDeadInterval, floor))
		t.JudgeDeadInterval = floor
	}
	for _, u := range unread {
		notes = append(notes, u+" is not kept: TBSchedule never read it, and the task type runs as it did")
	}
	for i, it := range t.TaskItems {
		open := strings.IndexByte(it, '{')
		end := strings.LastIndexByte(it, '}')
		if open < 0 || end < open {
			continue
		}
		if p := it[open+1 : end]; p != strings.TrimSpace(p) {
			notes = append(notes, fmt.Sprintf("taskItems[%d] %q: parameter %q is read as %q (trimmed, as TBSchedule does)", i, it, p, strings.TrimSpace(p)))
		}
	}
	return notes
}

func javaStrategy(s *schedule.Strategy, noIPList bool) []string {
	var notes []string
	var hosts []string
	for _, ip := range s.IPList {
		if t := strings.TrimSpace(ip); t != "" {
			if t != ip {
				notes = append(notes, fmt.Sprintf("IPList entry %q is trimmed to %q (TBSchedule compared it with its spaces and never matched it; it now admits %s)", ip, t, t))
			}
			hosts = append(hosts, t)
		}
	}
	s.IPList = hosts
	if noIPList || len(hosts) == 0 {
		s.IPList = nil
		was := s.Sts
		s.Sts = schedule.StsPause
		notes = append(notes, fmt.Sprintf("IPList is null, empty or blank: TBSchedule ran it nowhere; imported paused (was %s) with no host; set IPList and resume it to run it", was))
	}
	if s.Kind == "Java" {
		s.Kind = schedule.KindBean
		notes = append(notes, fmt.Sprintf("kind Java (class %s) is imported as kind Bean named %q: register a Go task under that name (Factory.RegisterTask) on the hosts of IPList, or nothing runs", s.TaskName, s.TaskName))
	}
	if s.AssignNum == 0 {
		notes = append(notes, "assignNum 0: no thread group runs anywhere (as in TBSchedule)")
	}
	return notes
}

// importZone returns the zone the crons of imported Java task types run
// in, and where it came from: flag (--time-zone) when given, else the zone
// of this machine (TZ, then /etc/localtime), which must have a name. The
// zone is checked with the library's rules.
func importZone(flag string, getenv func(string) string, readlink func(string) (string, error)) (string, string, error) {
	zone, from := flag, "--time-zone"
	if zone == "" {
		zone, from = localZoneName(getenv, readlink)
	}
	if zone == "" {
		return "", "", usagef("import: the zone the Java crons ran in is unknown (no TZ, no /etc/localtime link): give --time-zone, e.g. --time-zone Asia/Shanghai")
	}
	t := schedule.TaskType{TimeZone: zone}
	if _, err := t.Location(); err != nil {
		return "", "", usagef("import: time zone %q (from %s): %v", zone, from, err)
	}
	return zone, from, nil
}

// localZoneName names this machine's zone: TZ (without a leading ':'),
// else the zoneinfo path /etc/localtime links to; "" when neither says.
func localZoneName(getenv func(string) string, readlink func(string) (string, error)) (string, string) {
	if tz := strings.TrimPrefix(getenv("TZ"), ":"); tz != "" {
		return tz, "TZ"
	}
	if readlink == nil {
		return "", ""
	}
	target, err := readlink("/etc/localtime")
	if err != nil {
		return "", ""
	}
	if _, name, ok := strings.Cut(target, "zoneinfo/"); ok && name != "" {
		return name, "/etc/localtime"
	}
	return "", ""
}

// osReadlink is os.Readlink; a variable so nothing else reads the machine.
var osReadlink = os.Readlink

// zoneOffsetNow describes a zone's current offset for the import message.
func zoneOffsetNow(zone string, now time.Time) string {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return zone
	}
	return fmt.Sprintf("%s (UTC%s now)", zone, now.In(loc).Format("-07:00"))
}
