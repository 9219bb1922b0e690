// Package quartz is the Quartz-style cron dialect of TBSchedule's permit
// windows (a task type's permitRunStartTime and permitRunEndTime): the
// parser, the evaluation on a zone's wall clock, and the two window specs
// built on it. Package schedule validates task types and runs their windows
// with it; tbsctl shows when a window next opens. Its errors are *Error;
// schedule reports them as its own *CronError.
package quartz

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Cron is a parsed Quartz-style cron specification, the dialect of
// TBSchedule's permitRunStartTime and permitRunEndTime:
//
//	second minute hour day-of-month month day-of-week [year]
//
// Each field is "*", a value, a range "a-b", a step "a/n", "*/n" or "a-b/n",
// or a comma-separated list of those. Ranges may wrap ("22-2", "FRI-MON"),
// as in Quartz. Months are 1-12 or JAN-DEC; days of week are Quartz's 1-7 =
// SUN-SAT (not Unix's 0-6) or SUN-SAT; names are case-insensitive. The year
// (1970-2199) is optional; when given it filters the other fields.
//
// "?" ("no specific value") is allowed in day-of-month, day-of-week and year.
// As in Quartz, one of day-of-month and day-of-week must be "?" when the
// other is set; unlike Quartz, "*" is accepted in place of that "?" (so
// "0 0 2 * * MON" means Mondays), and "* *" means every day. Setting both is
// an error, and so is "?" in both.
//
// Not supported, and rejected with an error naming the feature and the
// field: L (last), W (nearest weekday), # (nth weekday), C (calendar), and
// anything else outside the syntax above.
//
// Evaluation (Next) is on the wall clock of a time zone, on top of
// robfig/cron's schedule, which Next runs on one fixed UTC offset per zone
// period (robfig alone skips wall times in a daylight-saving gap, and loops
// forever in a zone that skips a whole day, such as Pacific/Apia in 2011).
// Across daylight-saving changes no fire is lost: a wall time that does not
// exist (spring forward) fires when the clock jumps, shifted by the gap
// (02:30 fires at 03:30); a wall time that happens twice (fall back) fires
// twice. Both are harmless for permit windows, where a repeated resume or
// pause is a no-op and a lost one is a lost day. A Cron is immutable and safe
// for concurrent use.
type Cron struct {
	spec  string
	sched cron.SpecSchedule // without Location; Next sets it on a copy

	// Bit sets in robfig's numbering (day of week 0-6 = SUN-SAT), for
	// matching wall times in daylight-saving gaps.
	second, minute, hour, dom, month, dow uint64
	domAny, dowAny                        bool
	// years is the year filter: bit y-cronMinYear; anyYear when not restricted.
	years   [(cronMaxYear - cronMinYear + 64) / 64]uint64
	anyYear bool
	// lastYear is the last allowed year (cronMaxYear when not restricted).
	lastYear int
}

// Limits of the cron's year field and of Next's search.
const (
	cronMinYear = 1970
	cronMaxYear = 2199
	// cronSearchYears bounds Next: it looks this many years past its argument.
	cronSearchYears = 100
)

// Error is a cron specification that does not parse.
type Error struct {
	// Spec is the specification as given.
	Spec string
	// Field is the cron field at fault ("second", ..., "day-of-week",
	// "year"), or empty when the problem is the whole specification.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error returns `cron "<spec>": <field>: <problem>`.
func (e *Error) Error() string {
	return fmt.Sprintf("cron %q: %s", e.Spec, e.Detail())
}

// Detail is the error without the spec.
func (e *Error) Detail() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// cronField describes one field of a Quartz cron.
type cronField struct {
	name     string
	min, max int
	// names lists the field's names in value order from min, 3 letters each.
	names string
}

// The seven fields, in order.
func cronFields() [7]cronField {
	return [7]cronField{
		{name: "second", min: 0, max: 59},
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day-of-month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC"},
		{name: "day-of-week", min: 1, max: 7, names: "SUNMONTUEWEDTHUFRISAT"},
		{name: "year", min: cronMinYear, max: cronMaxYear},
	}
}

const (
	cronSec = iota
	cronMin
	cronHour
	cronDom
	cronMonth
	cronDow
	cronYear
)

// cronSet is the parsed value of one field.
type cronSet struct {
	values   []bool // index value-min
	question bool   // "?"
	star     bool   // exactly "*"
}

// Parse parses a Quartz-style cron specification with seconds (6 fields,
// or 7 with a year); see Cron for the dialect. Surrounding white space is
// ignored; fields are separated by white space. The error is an *Error that
// names the field at fault.
func Parse(spec string) (*Cron, error) {
	fail := func(field, format string, args ...any) (*Cron, error) {
		return nil, &Error{Spec: spec, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	parts := strings.Fields(strings.ToUpper(spec))
	switch {
	case len(parts) == 0:
		return fail("", "empty specification")
	case len(parts) == 5:
		return fail("", "5 fields: a seconds field is required (second minute hour day-of-month month day-of-week [year]), as in \"0 %s\"", strings.Join(parts, " "))
	case len(parts) < 6 || len(parts) > 7:
		return fail("", "%d fields, want 6 or 7 (second minute hour day-of-month month day-of-week [year])", len(parts))
	}
	fields := cronFields()
	var sets [7]cronSet
	for i, text := range parts {
		set, problem := parseCronField(fields[i], text, i)
		if problem != "" {
			return fail(fields[i].name, "%q: %s", text, problem)
		}
		sets[i] = set
	}
	if len(parts) == 6 {
		sets[cronYear] = cronSet{star: true}
	}
	dom, dow := sets[cronDom], sets[cronDow]
	switch {
	case dom.question && dow.question:
		return fail("", "day-of-month and day-of-week are both '?'; use '*' in one of them")
	case !dom.question && !dom.star && !dow.question && !dow.star:
		return fail("", "day-of-month (%s) and day-of-week (%s) are both set; put '?' in one of them", parts[cronDom], parts[cronDow])
	}
	c := &Cron{
		spec:   spec,
		domAny: dom.question || dom.star,
		dowAny: dow.question || dow.star,
	}
	c.second = cronBits(sets[cronSec], fields[cronSec], 0)
	c.minute = cronBits(sets[cronMin], fields[cronMin], 0)
	c.hour = cronBits(sets[cronHour], fields[cronHour], 0)
	c.dom = cronBits(sets[cronDom], fields[cronDom], 0)
	c.month = cronBits(sets[cronMonth], fields[cronMonth], 0)
	c.dow = cronBits(sets[cronDow], fields[cronDow], -1) // Quartz 1-7 -> robfig 0-6
	if !c.domAny && c.dowAny && !c.domFitsMonths() {
		return fail("", "day-of-month (%s) never falls in month (%s)", parts[cronDom], parts[cronMonth])
	}
	ys := sets[cronYear]
	c.anyYear = ys.star || ys.question
	c.lastYear = cronMaxYear
	if !c.anyYear {
		c.lastYear = 0
		for i, ok := range ys.values {
			if ok {
				c.years[i/64] |= 1 << (i % 64)
				c.lastYear = cronMinYear + i
			}
		}
	}

	// robfig evaluates the six fields; "*" keeps its meaning for the
	// day-of-month/day-of-week rule.
	robfigSpec := strings.Join([]string{
		robfigField(c.second, sets[cronSec].star, 0, 59),
		robfigField(c.minute, sets[cronMin].star, 0, 59),
		robfigField(c.hour, sets[cronHour].star, 0, 23),
		robfigField(c.dom, c.domAny, 1, 31),
		robfigField(c.month, sets[cronMonth].star, 1, 12),
		robfigField(c.dow, c.dowAny, 0, 6),
	}, " ")
	parser := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	sched, err := parser.Parse(robfigSpec)
	if err != nil {
		return fail("", "internal: robfig/cron rejects %q: %v", robfigSpec, err)
	}
	spec6, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return fail("", "internal: robfig/cron returned %T", sched)
	}
	c.sched = *spec6
	c.sched.Location = nil
	return c, nil
}

// parseCronField parses one field's text; it returns a problem on failure.
func parseCronField(f cronField, text string, index int) (cronSet, string) {
	set := cronSet{values: make([]bool, f.max-f.min+1)}
	if text == "?" {
		if index != cronDom && index != cronDow && index != cronYear {
			return set, "'?' is allowed only in day-of-month, day-of-week and year"
		}
		set.question = true
		return set, ""
	}
	if text == "*" {
		set.star = true
		for i := range set.values {
			set.values[i] = true
		}
		return set, ""
	}
	if p := unsupportedCron(text, index); p != "" {
		return set, p
	}
	for term := range strings.SplitSeq(text, ",") {
		if p := addCronTerm(f, term, set.values); p != "" {
			return set, p
		}
	}
	return set, ""
}

// unsupportedCron names a Quartz feature the text uses that is not supported.
func unsupportedCron(text string, index int) string {
	if strings.Contains(text, "#") {
		return "'#' (nth day of week of the month) is not supported"
	}
	if strings.Contains(text, "?") {
		return "'?' must stand alone"
	}
	// L, W and C appear only after names have been ruled out: "JUL" holds an L.
	for tok := range strings.FieldsFuncSeq(text, func(r rune) bool { return r == ',' || r == '-' || r == '/' }) {
		if index == cronMonth && len(tok) == 3 && monthOrDay(cronFields()[cronMonth], tok) > 0 {
			continue
		}
		if index == cronDow && len(tok) == 3 && monthOrDay(cronFields()[cronDow], tok) > 0 {
			continue
		}
		last := tok[len(tok)-1]
		head := tok[:len(tok)-1]
		switch {
		case tok == "LW":
			return "'LW' (last weekday of the month) is not supported"
		case last == 'L' && (head == "" || asciiDigits(head)):
			return "'L' (last) is not supported"
		case last == 'W' && (head == "" || asciiDigits(head)):
			return "'W' (nearest weekday) is not supported"
		case last == 'C' && (head == "" || asciiDigits(head)):
			return "'C' (calendar) is not supported"
		}
	}
	return ""
}

// addCronTerm adds one comma-separated term ("*/n", "a", "a-b", "a/n",
// "a-b/n") to values.
func addCronTerm(f cronField, term string, values []bool) string {
	if term == "" {
		return "empty list element"
	}
	rng, stepText, hasStep := strings.Cut(term, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || !asciiDigits(stepText) {
			return fmt.Sprintf("step %q is not a number", stepText)
		}
		if n < 1 || n > f.max-f.min+1 {
			return fmt.Sprintf("step %d out of range 1-%d", n, f.max-f.min+1)
		}
		step = n
	}
	var lo, hi int
	switch {
	case rng == "*":
		lo, hi = f.min, f.max
	default:
		a, b, isRange := strings.Cut(rng, "-")
		var p string
		if lo, p = cronValue(f, a); p != "" {
			return p
		}
		hi = lo
		if isRange {
			if hi, p = cronValue(f, b); p != "" {
				return p
			}
		} else if hasStep {
			hi = f.max // "a/n": from a to the end of the range
		}
	}
	if hi < lo {
		if f.name == "year" {
			return fmt.Sprintf("range %d-%d goes backwards", lo, hi)
		}
		// Quartz wraps: 22-2 in hours is 22,23,0,1,2; FRI-MON is FRI,SAT,SUN,MON.
		hi += f.max - f.min + 1
	}
	span := f.max - f.min + 1
	for v := lo; v <= hi; v += step {
		values[(v-f.min)%span] = true
	}
	return ""
}

// cronValue parses one value: digits or (for month and day of week) a name.
func cronValue(f cronField, s string) (int, string) {
	if s == "" {
		return 0, "missing value"
	}
	if asciiDigits(s) {
		n, err := strconv.Atoi(s)
		if err != nil || n < f.min || n > f.max {
			return 0, valueRange(f, s)
		}
		return n, ""
	}
	if f.names != "" {
		if n := monthOrDay(f, s); n > 0 {
			return n, ""
		}
		return 0, fmt.Sprintf("unknown name %q (want %s)", s, nameList(f))
	}
	return 0, fmt.Sprintf("%q is not a number", s)
}

// valueRange explains a value out of range.
func valueRange(f cronField, s string) string {
	msg := fmt.Sprintf("value %s out of range %d-%d", s, f.min, f.max)
	if f.name == "day-of-week" {
		msg += " (Quartz numbers days SUN=1 ... SAT=7)"
	}
	return msg
}

// monthOrDay returns the value of a 3-letter name of f, or 0.
func monthOrDay(f cronField, s string) int {
	if len(s) != 3 {
		return 0
	}
	for i := 0; i+3 <= len(f.names); i += 3 {
		if f.names[i:i+3] == s {
			return f.min + i/3
		}
	}
	return 0
}

// nameList renders f's names, "JAN-DEC".
func nameList(f cronField) string {
	return f.names[:3] + "-" + f.names[len(f.names)-3:]
}

// bits turns a field set into a bit set, shifting values by shift.
func cronBits(set cronSet, f cronField, shift int) uint64 {
	var b uint64
	for i, ok := range set.values {
		if ok {
			b |= 1 << uint(f.min+i+shift)
		}
	}
	return b
}

// robfigField renders a bit set for robfig's parser: "*" when any, else a list.
func robfigField(b uint64, any bool, lo, hi int) string {
	if any {
		return "*"
	}
	vals := make([]string, 0, hi-lo+1)
	for v := lo; v <= hi; v++ {
		if b&(1<<uint(v)) != 0 {
			vals = append(vals, strconv.Itoa(v))
		}
	}
	return strings.Join(vals, ",")
}

// domFitsMonths reports whether some selected day of month exists in some
// selected month (February counted with 29 days).
func (c *Cron) domFitsMonths() bool {
	days := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		if c.month&(1<<uint(m)) == 0 {
			continue
		}
		for d := 1; d <= days[m]; d++ {
			if c.dom&(1<<uint(d)) != 0 {
				return true
			}
		}
	}
	return false
}

// String returns the specification as given to Parse.
func (c *Cron) String() string { return c.spec }

// Next returns the first fire time strictly after after, on the wall clock
// of loc (UTC if nil), in loc. Fire times are whole seconds. It returns the
// zero time if there is none within the years allowed by the year field and
// within 100 years after after. See Cron for the daylight-saving rules.
func (c *Cron) Next(after time.Time, loc *time.Location) time.Time {
	if c == nil {
		return time.Time{}
	}
	if loc == nil {
		loc = time.UTC
	}
	sched := c.sched // a copy: c stays immutable
	t := after.In(loc)
	limit := min(t.Year()+cronSearchYears, c.lastYear)
	for range 100 * cronSearchYears {
		// The first candidate is the second after t (robfig's rule).
		first := t.Add(time.Second - time.Duration(t.Nanosecond()))
		if first.Year() > limit {
			return time.Time{}
		}
		if !c.yearAllowed(first.Year()) {
			y := c.nextYear(first.Year())
			if y == 0 || y > limit {
				return time.Time{}
			}
			t = time.Date(y, time.January, 1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
			continue
		}

		// Search the zone period (constant UTC offset) that holds first.
		// robfig evaluates it on a fixed zone, where wall-clock arithmetic
		// has no daylight-saving anomaly; wall times a forward jump skipped
		// at the start of the period fire shifted by the jump.
		start, end := first.ZoneBounds()
		name, offset := first.Zone()
		sched.Location = time.FixedZone(name, offset)
		n := sched.Next(t)
		if !n.IsZero() && !end.IsZero() && !n.Before(end) {
			n = time.Time{} // belongs to a later period: evaluated there
		}
		if !start.IsZero() {
			if g := c.gapFire(start, t, loc); !g.IsZero() && (n.IsZero() || g.Before(n)) {
				return g.In(loc) // matchesWall checked its year
			}
		}
		if !n.IsZero() {
			if !n.After(t) { // never expected; guarantees progress
				n = t.Add(time.Second)
			}
			if c.yearAllowed(n.In(loc).Year()) {
				return n.In(loc)
			}
			t = n.In(loc)
			continue
		}
		// Nothing in this period (robfig looks five years ahead).
		next := time.Date(t.Year()+5, time.January, 1, 0, 0, 0, 0, loc)
		if !end.IsZero() && end.Before(next) {
			next = end
		}
		t = next.Add(-time.Nanosecond).In(loc)
	}
	return time.Time{}
}

// yearAllowed reports whether the year field admits y.
func (c *Cron) yearAllowed(y int) bool {
	if c.anyYear {
		return true
	}
	if y < cronMinYear || y > cronMaxYear {
		return false
	}
	i := y - cronMinYear
	return c.years[i/64]&(1<<(i%64)) != 0
}

// nextYear returns the first allowed year after y, or 0.
func (c *Cron) nextYear(y int) int {
	for n := max(y+1, cronMinYear); n <= c.lastYear; n++ {
		if c.yearAllowed(n) {
			return n
		}
	}
	return 0
}

// gapFire checks the zone transition at instant tr: if the clock jumped
// forward there, skipping wall times, it returns the first skipped wall time
// that matches, shifted by the jump (the instant tr + (wall - first skipped
// wall)), if that instant is strictly after from; else zero.
func (c *Cron) gapFire(tr, from time.Time, loc *time.Location) time.Time {
	_, before := tr.Add(-time.Nanosecond).In(loc).Zone()
	_, after := tr.In(loc).Zone()
	gap := after - before
	if gap <= 0 || !tr.Add(time.Duration(gap)*time.Second).After(from) {
		return time.Time{}
	}
	wall := tr.Add(time.Duration(before) * time.Second).UTC() // first skipped wall time
	for k := range gap {
		s := tr.Add(time.Duration(k) * time.Second)
		if s.After(from) && c.matchesWall(wall.Add(time.Duration(k)*time.Second)) {
			return s
		}
	}
	return time.Time{}
}

// matchesWall reports whether the wall time w (read in UTC) matches every field.
func (c *Cron) matchesWall(w time.Time) bool {
	if !c.yearAllowed(w.Year()) ||
		c.month&(1<<uint(w.Month())) == 0 ||
		c.hour&(1<<uint(w.Hour())) == 0 ||
		c.minute&(1<<uint(w.Minute())) == 0 ||
		c.second&(1<<uint(w.Second())) == 0 {
		return false
	}
	domOK := c.domAny || c.dom&(1<<uint(w.Day())) != 0
	dowOK := c.dowAny || c.dow&(1<<uint(w.Weekday())) != 0
	return domOK && dowOK
}

// StartRunPrefix is the case-insensitive prefix of a permitRunStartTime that
// also opens the window at once ("startrun:0 0 2 * * ?").
const StartRunPrefix = "startrun:"

// ParseStart parses a permitRunStartTime. A blank spec means "always
// permitted": it returns a nil cron and runNow true. A spec prefixed with
// "startrun:" (any case, white space allowed after it) returns runNow true
// and the cron after the prefix, which then opens later windows. Otherwise it
// returns the cron and runNow false.
func ParseStart(spec string) (c *Cron, runNow bool, err error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, true, nil
	}
	if len(s) >= len(StartRunPrefix) && strings.EqualFold(s[:len(StartRunPrefix)], StartRunPrefix) {
		rest := strings.TrimSpace(s[len(StartRunPrefix):])
		if rest == "" {
			return nil, false, &Error{Spec: spec, Problem: "a cron must follow \"" + StartRunPrefix + "\""}
		}
		c, err := Parse(rest)
		if err != nil {
			return nil, false, err
		}
		return c, true, nil
	}
	c, err = Parse(s)
	if err != nil {
		return nil, false, err
	}
	return c, false, nil
}

// NoDataEnd reports whether a permitRunEndTime means "pause when
// SelectTasks returns nothing, resume at the next start": blank or "-1".
func NoDataEnd(spec string) bool {
	s := strings.TrimSpace(spec)
	return s == "" || s == "-1"
}

// ParseEnd parses a permitRunEndTime: nil (and no error) when it means
// "pause when no data" (see NoDataEnd), else the cron.
func ParseEnd(spec string) (*Cron, error) {
	if NoDataEnd(spec) {
		return nil, nil
	}
	return Parse(spec)
}

// asciiDigits reports whether s is a non-empty string of ASCII digits.
func asciiDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
