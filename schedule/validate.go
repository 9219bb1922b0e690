package schedule

import (
	"errors"
	"fmt"
	"time"
)

// FieldError is one problem with one field of a task type or strategy, with
// a name, or with an item definition. It wraps ErrInvalid. Functions that
// find several problems return them all, joined with errors.Join; errors.As
// finds the first FieldError.
type FieldError struct {
	// Subject names the object at fault, such as `taskType "orders"` or
	// `strategy "orders-s"`; empty when the error is about a bare name or
	// item list.
	Subject string
	// Field is the field's JSON name, such as "judgeDeadInterval" or
	// "taskItems[3]", or the NameKind of a bare name.
	Field string
	// Problem says what is wrong and which relation is violated, such as
	// "(10s) must be at least 5*heartBeatRate (25s)".
	Problem string
}

// Error returns "schedule: <subject>: <field> <problem>".
func (e *FieldError) Error() string {
	if e.Subject == "" {
		return "schedule: " + e.Field + " " + e.Problem
	}
	return "schedule: " + e.Subject + ": " + e.Field + " " + e.Problem
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// joinProblems sets the subject of every problem and joins them; nil if none.
func joinProblems(subject string, list []*FieldError) error {
	if subject != "" {
		for _, p := range list {
			p.Subject = subject
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	errs := make([]error, len(list))
	for i, p := range list {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// fieldProblems collects FieldErrors of one object.
type fieldProblems []*FieldError

func (ps *fieldProblems) addf(field, format string, args ...any) {
	*ps = append(*ps, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// name checks a name field; the problem quotes the value.
func (ps *fieldProblems) name(field string, kind NameKind, value string) {
	if p := nameProblem(kind, value); p != "" {
		ps.addf(field, "%q: %s", value, p)
	}
}

// millis checks that a duration field is a whole number of milliseconds, the
// unit it is stored in.
func (ps *fieldProblems) millis(field string, d time.Duration) {
	if d%time.Millisecond != 0 {
		ps.addf(field, "(%s) must be a whole number of milliseconds", d)
	}
}

// Validate checks every field of the task type and reports every problem at
// once (joined with errors.Join); each problem wraps ErrInvalid and names the
// field by its JSON name and the violated relation, as in
// `schedule: taskType "orders": judgeDeadInterval (10s) must be at least 5*heartBeatRate (25s)`.
//
// Rules: baseTaskType and dealBeanName are valid names (no '$');
// heartBeatRate > 0; judgeDeadInterval >= 5*heartBeatRate; sleeps >= 0;
// durations whole milliseconds; fetchDataNumber, executeNumber and
// threadNumber >= 1; processorType SLEEP or NOTSLEEP; the window crons parse
// (an end needs a start); timeZone loads and is not "Local"; taskItems is not
// empty and parses (every item problem is included);
// maxTaskItemsOfOneThreadGroup >= 0; sts resume or pause;
// expireOwnSignInterval > 0; fetchDataCountEachSchedule -1 or >= 1.
func (t TaskType) Validate() error {
	var ps fieldProblems
	ps.name("baseTaskType", NameBaseTaskType, t.BaseTaskType)

	if t.HeartBeatRate <= 0 {
		ps.addf("heartBeatRate", "(%s) must be positive", t.HeartBeatRate)
	}
	switch {
	case t.HeartBeatRate > 0 && t.JudgeDeadInterval/5 < t.HeartBeatRate:
		// JudgeDeadInterval >= 5*HeartBeatRate, without overflow.
		ps.addf("judgeDeadInterval", "(%s) must be at least 5*heartBeatRate (%s)",
			t.JudgeDeadInterval, mul5(t.HeartBeatRate))
	case t.JudgeDeadInterval <= 0:
		ps.addf("judgeDeadInterval", "(%s) must be positive", t.JudgeDeadInterval)
	}
	if t.SleepTimeNoData < 0 {
		ps.addf("sleepTimeNoData", "(%s) must not be negative", t.SleepTimeNoData)
	}
	if t.SleepTimeInterval < 0 {
		ps.addf("sleepTimeInterval", "(%s) must not be negative", t.SleepTimeInterval)
	}
	ps.millis("heartBeatRate", t.HeartBeatRate)
	ps.millis("judgeDeadInterval", t.JudgeDeadInterval)
	ps.millis("sleepTimeNoData", t.SleepTimeNoData)
	ps.millis("sleepTimeInterval", t.SleepTimeInterval)

	if t.FetchDataNumber < 1 {
		ps.addf("fetchDataNumber", "(%d) must be at least 1", t.FetchDataNumber)
	}
	if t.ExecuteNumber < 1 {
		ps.addf("executeNumber", "(%d) must be at least 1", t.ExecuteNumber)
	}
	if t.ThreadNumber < 1 {
		ps.addf("threadNumber", "(%d) must be at least 1", t.ThreadNumber)
	}
	if t.ProcessorType != ProcessorSleep && t.ProcessorType != ProcessorNotSleep {
		ps.addf("processorType", "%q must be %s or %s", t.ProcessorType, ProcessorSleep, ProcessorNotSleep)
	}

	if _, _, err := parseWindowStart(t.PermitRunStartTime); err != nil {
		ps.addf("permitRunStartTime", "%q: %s", t.PermitRunStartTime, cronProblem(err))
	}
	if !isPauseWhenNoDataEnd(t.PermitRunEndTime) {
		if _, err := parseCron(t.PermitRunEndTime); err != nil {
			ps.addf("permitRunEndTime", "%q: %s", t.PermitRunEndTime, cronProblem(err))
		}
		if blankSpec(t.PermitRunStartTime) {
			ps.addf("permitRunEndTime", "%q needs a permitRunStartTime (without a start the window never closes)",
				t.PermitRunEndTime)
		}
	}
	if p := timeZoneProblem(t.TimeZone); p != "" {
		ps.addf("timeZone", "%q: %s", t.TimeZone, p)
	}

	if len(t.TaskItems) == 0 {
		ps.addf("taskItems", "must not be empty")
	} else {
		_, itemProblems := parseItemDefs(t.TaskItems)
		ps = append(ps, itemProblems...)
	}
	if t.MaxTaskItemsOfOneThreadGroup < 0 {
		ps.addf("maxTaskItemsOfOneThreadGroup", "(%d) must not be negative (0 = no cap)", t.MaxTaskItemsOfOneThreadGroup)
	}
	if t.Sts != StsResume && t.Sts != StsPause {
		ps.addf("sts", "%q must be %s or %s", t.Sts, StsResume, StsPause)
	}
	ps.name("dealBeanName", NameBean, t.DealBeanName)
	if t.ExpireOwnSignInterval <= 0 {
		ps.addf("expireOwnSignInterval", "(%s) must be positive", t.ExpireOwnSignInterval)
	}
	if t.FetchDataCountEachSchedule != -1 && t.FetchDataCountEachSchedule < 1 {
		ps.addf("fetchDataCountEachSchedule", "(%d) must be -1 (no limit) or at least 1", t.FetchDataCountEachSchedule)
	}
	return joinProblems(fmt.Sprintf("taskType %q", t.BaseTaskType), ps)
}

// mul5 returns 5*d, saturating instead of overflowing.
func mul5(d time.Duration) time.Duration {
	const maxD = time.Duration(1<<63 - 1)
	if d > maxD/5 {
		return maxD
	}
	return 5 * d
}

// cronProblem returns the message of a cron error without the package
// prefix, for embedding in a FieldError.
func cronProblem(err error) string {
	var ce *CronError
	if errors.As(err, &ce) {
		return ce.detail()
	}
	return err.Error()
}

// timeZoneProblem returns what is wrong with a timeZone value, or "".
func timeZoneProblem(tz string) string {
	switch tz {
	case "":
		return ""
	case "Local":
		return "the host's local zone differs between hosts; name an IANA zone such as \"Asia/Shanghai\""
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return "not a time zone this host knows (an IANA name such as \"Asia/Shanghai\")"
	}
	return ""
}

// Location returns the time zone the task type's window crons are evaluated
// in: UTC when TimeZone is empty. The error wraps ErrInvalid.
func (t TaskType) Location() (*time.Location, error) {
	if p := timeZoneProblem(t.TimeZone); p != "" {
		return nil, &FieldError{Subject: fmt.Sprintf("taskType %q", t.BaseTaskType), Field: "timeZone",
			Problem: fmt.Sprintf("%q: %s", t.TimeZone, p)}
	}
	if t.TimeZone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(t.TimeZone)
}

// Validate checks every field of the strategy and reports every problem at
// once (joined with errors.Join); each wraps ErrInvalid and names the field by
// its JSON name, as in `schedule: strategy "s1": assignNum (-1) must not be negative`.
//
// Rules: strategyName is a valid name; kind is Schedule or Bean; taskName is
// "base" or "base$ownSign" with valid parts for Schedule, a valid bean name
// for Bean; assignNum >= 0 (0: no thread group anywhere, as in
// TBSchedule); numOfSingleServer >= 0 (0 = no cap); every IPList entry is a
// valid host, and IPList is not empty unless the strategy is paused (an
// empty IPList admits no factory: the strategy runs nowhere, TBSchedule's
// meaning of a null or empty list); sts is resume or pause.
func (s Strategy) Validate() error {
	var ps fieldProblems
	ps.name("strategyName", NameStrategy, s.StrategyName)
	switch s.Kind {
	case KindSchedule:
		ps.name("taskName", NameTaskType, s.TaskName)
	case KindBean:
		ps.name("taskName", NameBean, s.TaskName)
	case "Java":
		ps.addf("kind", "%q is not supported: register a Go task and use %s", s.Kind, KindBean)
	default:
		ps.addf("kind", "%q must be %s or %s", s.Kind, KindSchedule, KindBean)
	}
	if s.AssignNum < 0 {
		ps.addf("assignNum", "(%d) must not be negative (0 runs no thread group)", s.AssignNum)
	}
	if s.NumOfSingleServer < 0 {
		ps.addf("numOfSingleServer", "(%d) must not be negative (0 = no cap)", s.NumOfSingleServer)
	}
	if len(s.IPList) == 0 && s.Sts != StsPause {
		ps.addf("IPList", "must not be empty unless sts is %s (127.0.0.1 or localhost admits every host)", StsPause)
	}
	for i, ip := range s.IPList {
		ps.name(fmt.Sprintf("IPList[%d]", i), NameHost, ip)
	}
	if s.Sts != StsResume && s.Sts != StsPause {
		ps.addf("sts", "%q must be %s or %s", s.Sts, StsResume, StsPause)
	}
	return joinProblems(fmt.Sprintf("strategy %q", s.StrategyName), ps)
}
