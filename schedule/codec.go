package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// javaTaskKind is the taskKind written for TBSchedule's console: the only
// kind it runs.
const javaTaskKind = "static"

// taskTypeJSON is the stored form of a TaskType: TBSchedule's field names, in
// its order, durations in milliseconds, expireOwnSignInterval in days.
type taskTypeJSON struct {
	BaseTaskType                 string   `json:"baseTaskType"`
	HeartBeatRate                int64    `json:"heartBeatRate"`
	JudgeDeadInterval            int64    `json:"judgeDeadInterval"`
	SleepTimeNoData              int64    `json:"sleepTimeNoData"`
	SleepTimeInterval            int64    `json:"sleepTimeInterval"`
	FetchDataNumber              int      `json:"fetchDataNumber"`
	ExecuteNumber                int      `json:"executeNumber"`
	ThreadNumber                 int      `json:"threadNumber"`
	ProcessorType                string   `json:"processorType"`
	PermitRunStartTime           string   `json:"permitRunStartTime,omitempty"`
	PermitRunEndTime             string   `json:"permitRunEndTime,omitempty"`
	ExpireOwnSignInterval        float64  `json:"expireOwnSignInterval"`
	DealBeanName                 string   `json:"dealBeanName"`
	TaskParameter                string   `json:"taskParameter"`
	TaskKind                     string   `json:"taskKind"` // always "static": TBSchedule's, no Go field
	TaskItems                    []string `json:"taskItems"`
	MaxTaskItemsOfOneThreadGroup int      `json:"maxTaskItemsOfOneThreadGroup"`
	Version                      int64    `json:"version"` // always 0: TBSchedule's, no Go field
	Sts                          string   `json:"sts"`
	FetchDataCountEachSchedule   int      `json:"fetchDataCountEachSchedule"`
	TimeZone                     string   `json:"timeZone,omitempty"`
	RunNowAt                     *Time    `json:"runNowAt,omitempty"`
	RunNowBy                     string   `json:"runNowBy,omitempty"`
}

// MarshalJSON encodes the task type with TBSchedule's field names, so the
// Java console reads it: durations as whole milliseconds (sub-millisecond
// parts are dropped; Validate rejects them), expireOwnSignInterval as days, an
// empty permit window left out (TBSchedule's null), taskItems always an
// array, timeZone only when set, and TBSchedule's taskKind and version with
// the values its console expects ("static", 0).
func (t TaskType) MarshalJSON() ([]byte, error) {
	items := t.TaskItems
	if items == nil {
		items = []string{}
	}
	return json.Marshal(taskTypeJSON{
		BaseTaskType:                 t.BaseTaskType,
		HeartBeatRate:                t.HeartBeatRate.Milliseconds(),
		JudgeDeadInterval:            t.JudgeDeadInterval.Milliseconds(),
		SleepTimeNoData:              t.SleepTimeNoData.Milliseconds(),
		SleepTimeInterval:            t.SleepTimeInterval.Milliseconds(),
		FetchDataNumber:              t.FetchDataNumber,
		ExecuteNumber:                t.ExecuteNumber,
		ThreadNumber:                 t.ThreadNumber,
		ProcessorType:                string(t.ProcessorType),
		PermitRunStartTime:           t.PermitRunStartTime,
		PermitRunEndTime:             t.PermitRunEndTime,
		ExpireOwnSignInterval:        daysOf(t.ExpireOwnSignInterval),
		DealBeanName:                 t.DealBeanName,
		TaskParameter:                t.TaskParameter,
		TaskKind:                     javaTaskKind,
		TaskItems:                    items,
		MaxTaskItemsOfOneThreadGroup: t.MaxTaskItemsOfOneThreadGroup,
		Sts:                          t.Sts,
		FetchDataCountEachSchedule:   t.FetchDataCountEachSchedule,
		TimeZone:                     t.TimeZone,
		RunNowAt:                     runNowAt(t.RunNowAt),
		RunNowBy:                     t.RunNowBy,
	})
}

// runNowAt is the stored form of TaskType.RunNowAt: left out when zero.
func runNowAt(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t}
}

// UnmarshalJSON decodes a task type written by TBSchedule's console or by
// MarshalJSON. It starts from DefaultTaskType, so missing fields (and null
// numbers) keep TBSchedule's defaults and the previous value of *t is
// discarded. Numbers may be written as integers or as floats with no
// fraction (5000.0); null strings read as ""; a blank window cron reads as
// ""; processorType and sts are case-insensitive and normalized, and read
// as their default when empty. Unknown fields are ignored, and so are
// TBSchedule's taskKind and version, which no field holds; keys are
// case-sensitive. A field of the wrong JSON type, a fractional or out of
// range number is an error naming the field (every such field is reported,
// joined; each wraps ErrInvalid). The JSON null document leaves *t unchanged.
// Decoding does not validate: call Validate.
func (t *TaskType) UnmarshalJSON(b []byte) error {
	d, err := newFieldDecoder("taskType", b)
	if d == nil {
		return err
	}
	v := DefaultTaskType("")
	d.str("baseTaskType", &v.BaseTaskType)
	d.subject = fmt.Sprintf("taskType %q", v.BaseTaskType)
	d.millis("heartBeatRate", &v.HeartBeatRate)
	d.millis("judgeDeadInterval", &v.JudgeDeadInterval)
	d.millis("sleepTimeNoData", &v.SleepTimeNoData)
	d.millis("sleepTimeInterval", &v.SleepTimeInterval)
	d.int("fetchDataNumber", &v.FetchDataNumber)
	d.int("executeNumber", &v.ExecuteNumber)
	d.int("threadNumber", &v.ThreadNumber)
	var pt string
	if d.str("processorType", &pt) {
		v.ProcessorType = ProcessorType(normEnum(pt, string(DefaultProcessorType), string(ProcessorSleep), string(ProcessorNotSleep)))
	}
	d.str("permitRunStartTime", &v.PermitRunStartTime)
	d.str("permitRunEndTime", &v.PermitRunEndTime)
	if blankSpec(v.PermitRunStartTime) {
		v.PermitRunStartTime = ""
	}
	if blankSpec(v.PermitRunEndTime) {
		v.PermitRunEndTime = ""
	}
	d.days("expireOwnSignInterval", &v.ExpireOwnSignInterval)
	d.str("dealBeanName", &v.DealBeanName)
	d.str("taskParameter", &v.TaskParameter)
	d.strs("taskItems", &v.TaskItems)
	d.int("maxTaskItemsOfOneThreadGroup", &v.MaxTaskItemsOfOneThreadGroup)
	if d.str("sts", &v.Sts) {
		v.Sts = normEnum(v.Sts, DefaultSts, StsResume, StsPause)
	}
	d.int("fetchDataCountEachSchedule", &v.FetchDataCountEachSchedule)
	d.str("timeZone", &v.TimeZone)
	d.time("runNowAt", &v.RunNowAt)
	d.str("runNowBy", &v.RunNowBy)
	if err := joinProblems(d.subject, d.ps); err != nil {
		return err
	}
	*t = v
	return nil
}

// strategyJSON is the stored form of a Strategy, TBSchedule's field names.
type strategyJSON struct {
	StrategyName      string   `json:"strategyName"`
	IPList            []string `json:"IPList"`
	NumOfSingleServer int      `json:"numOfSingleServer"`
	AssignNum         int      `json:"assignNum"`
	Kind              string   `json:"kind"`
	TaskName          string   `json:"taskName"`
	TaskParameter     string   `json:"taskParameter"`
	Sts               string   `json:"sts"`
}

// MarshalJSON encodes the strategy with TBSchedule's field names ("IPList"
// exactly), IPList always an array.
func (s Strategy) MarshalJSON() ([]byte, error) {
	ips := s.IPList
	if ips == nil {
		ips = []string{}
	}
	return json.Marshal(strategyJSON{
		StrategyName:      s.StrategyName,
		IPList:            ips,
		NumOfSingleServer: s.NumOfSingleServer,
		AssignNum:         s.AssignNum,
		Kind:              string(s.Kind),
		TaskName:          s.TaskName,
		TaskParameter:     s.TaskParameter,
		Sts:               s.Sts,
	})
}

// UnmarshalJSON decodes a strategy written by TBSchedule's console or by
// MarshalJSON, with the rules of TaskType.UnmarshalJSON: it starts from
// DefaultStrategy (a missing field keeps its default), kind and sts are
// case-insensitive and normalized (empty reads as the default), an empty
// IPList array reads as nil, and a field of the wrong type is an error
// naming it.
func (s *Strategy) UnmarshalJSON(b []byte) error {
	d, err := newFieldDecoder("strategy", b)
	if d == nil {
		return err
	}
	v := DefaultStrategy("")
	d.str("strategyName", &v.StrategyName)
	d.subject = fmt.Sprintf("strategy %q", v.StrategyName)
	d.strs("IPList", &v.IPList)
	d.int("numOfSingleServer", &v.NumOfSingleServer)
	d.int("assignNum", &v.AssignNum)
	var kind string
	if d.str("kind", &kind) {
		v.Kind = StrategyKind(normEnum(kind, string(DefaultStrategyKind), string(KindSchedule), string(KindBean)))
	}
	d.str("taskName", &v.TaskName)
	d.str("taskParameter", &v.TaskParameter)
	if d.str("sts", &v.Sts) {
		v.Sts = normEnum(v.Sts, DefaultSts, StsResume, StsPause)
	}
	if err := joinProblems(d.subject, d.ps); err != nil {
		return err
	}
	*s = v
	return nil
}

// normEnum returns def for "", the allowed spelling of v if it matches one
// case-insensitively, else v unchanged (Validate reports it).
func normEnum(v, def string, allowed ...string) string {
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	return v
}

// fieldDecoder reads the fields of one JSON object by exact key, collecting
// a problem for every field of the wrong type.
type fieldDecoder struct {
	subject string
	fields  map[string]json.RawMessage
	ps      fieldProblems
}

// newFieldDecoder splits b into fields. It returns nil and a nil error for
// the null document, nil and an error if b is not a JSON object.
func newFieldDecoder(kind string, b []byte) (*fieldDecoder, error) {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	if k := jsonValueKind(b); k != "object" {
		return nil, &FieldError{Subject: kind, Field: "document", Problem: "must be a JSON object, got " + k}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, &FieldError{Subject: kind, Field: "document", Problem: "is not valid JSON: " + err.Error()}
	}
	return &fieldDecoder{subject: kind, fields: fields}, nil
}

// jsonValueKind names the JSON type of a (trimmed) value.
func jsonValueKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// raw returns the trimmed value of key and whether it is present and not null.
func (d *fieldDecoder) raw(key string) ([]byte, bool) {
	b, ok := d.fields[key]
	if !ok {
		return nil, false
	}
	b = bytes.TrimSpace(b)
	return b, jsonValueKind(b) != "null"
}

// wrongType records a field of the wrong JSON type.
func (d *fieldDecoder) wrongType(key, want string, b []byte) {
	d.ps.addf(key, "must be %s, got %s", want, jsonValueKind(b))
}

// str reads a string field; null reads as "". It reports whether the key
// was present (null included) and well typed.
func (d *fieldDecoder) str(key string, dst *string) bool {
	if _, present := d.fields[key]; !present {
		return false
	}
	b, ok := d.raw(key)
	if !ok {
		*dst = ""
		return true
	}
	if jsonValueKind(b) != "string" {
		d.wrongType(key, "a string", b)
		return false
	}
	if err := json.Unmarshal(b, dst); err != nil {
		d.ps.addf(key, "is not a valid string: %v", err)
		return false
	}
	return true
}

// strs reads an array of strings; null and [] read as nil, a null element as "".
func (d *fieldDecoder) strs(key string, dst *[]string) {
	if _, present := d.fields[key]; !present {
		return
	}
	b, ok := d.raw(key)
	if !ok {
		*dst = nil
		return
	}
	if jsonValueKind(b) != "array" {
		d.wrongType(key, "an array of strings", b)
		return
	}
	// The common case in one pass (a task type's thousands of items are
	// read by every process); anything else is taken apart below, for an
	// error that names the element.
	var all []string
	if json.Unmarshal(b, &all) == nil { // (a null element is "", as below)
		if len(all) == 0 {
			all = nil
		}
		*dst = all
		return
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		d.ps.addf(key, "is not a valid array: %v", err)
		return
	}
	var out []string
	bad := false
	for i, e := range elems {
		e = bytes.TrimSpace(e)
		var s string
		switch jsonValueKind(e) {
		case "null":
		case "string":
			if err := json.Unmarshal(e, &s); err != nil {
				d.ps.addf(fmt.Sprintf("%s[%d]", key, i), "is not a valid string: %v", err)
				bad = true
			}
		default:
			d.wrongType(fmt.Sprintf("%s[%d]", key, i), "a string", e)
			bad = true
		}
		out = append(out, s)
	}
	if !bad {
		*dst = out
	}
}

// number reads an integral number field; ok is false if the key is absent
// or null, or the value is not an integral number in range (reported).
func (d *fieldDecoder) number(key string, lo, hi int64) (n int64, ok bool) {
	b, present := d.raw(key)
	if !present {
		return 0, false
	}
	if jsonValueKind(b) != "number" {
		d.wrongType(key, "a number", b)
		return 0, false
	}
	n, problem := parseIntegral(string(b), lo, hi)
	if problem != "" {
		d.ps.addf(key, "(%s) %s", b, problem)
		return 0, false
	}
	return n, true
}

// parseIntegral parses a JSON number that must be integral and in [lo, hi].
func parseIntegral(s string, lo, hi int64) (int64, string) {
	outOfRange := fmt.Sprintf("is out of range [%d, %d]", lo, hi)
	if !strings.ContainsAny(s, ".eE") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < lo || n > hi {
			return 0, outOfRange
		}
		return n, ""
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsInf(f, 0) || math.IsNaN(f):
		return 0, outOfRange
	case f != math.Trunc(f):
		return 0, "must be a whole number"
	case f < float64(lo) || f >= float64(hi)+1 || f >= 0x1p63:
		return 0, outOfRange
	}
	return int64(f), ""
}

func (d *fieldDecoder) int(key string, dst *int) {
	if n, ok := d.number(key, math.MinInt, math.MaxInt); ok {
		*dst = int(n)
	}
}

// millis reads a duration stored as whole milliseconds.
func (d *fieldDecoder) millis(key string, dst *time.Duration) {
	const lim = math.MaxInt64 / int64(time.Millisecond)
	if n, ok := d.number(key, -lim, lim); ok {
		*dst = time.Duration(n) * time.Millisecond
	}
}

// days reads a duration stored as (fractional) days.
func (d *fieldDecoder) days(key string, dst *time.Duration) {
	b, present := d.raw(key)
	if !present {
		return
	}
	if jsonValueKind(b) != "number" {
		d.wrongType(key, "a number of days", b)
		return
	}
	f, err := strconv.ParseFloat(string(b), 64)
	dur, ok := durationOfDays(f)
	if err != nil || !ok {
		d.ps.addf(key, "(%s) is out of range (at most about 106751 days)", b)
		return
	}
	*dst = dur
}

// nsPerDay is the number of nanoseconds in a day, as a float.
const nsPerDay = float64(24 * time.Hour)

// durationOfDays converts days to a duration, rounded to the nanosecond.
func durationOfDays(f float64) (time.Duration, bool) {
	x := math.Round(f * nsPerDay)
	if math.IsNaN(x) || x >= 0x1p63 || x < -0x1p63 {
		return 0, false
	}
	return time.Duration(x), true
}

// daysOf converts a duration to days, choosing among the floats nearest to
// the quotient one that converts back to the same duration, when there is one.
func daysOf(d time.Duration) float64 {
	f := float64(d) / nsPerDay
	up, down := f, f
	for range 16 {
		if back, ok := durationOfDays(up); ok && back == d {
			return up
		}
		if back, ok := durationOfDays(down); ok && back == d {
			return down
		}
		up, down = math.Nextafter(up, math.Inf(1)), math.Nextafter(down, math.Inf(-1))
	}
	return f
}

// time reads a time field written as Time (RFC 3339 or TBSchedule's
// layout); null or "" reads as the zero time.
func (d *fieldDecoder) time(key string, dst *time.Time) {
	b, ok := d.raw(key)
	if !ok {
		return
	}
	var t Time
	if err := t.UnmarshalJSON(b); err != nil {
		d.ps.addf(key, "%v", err)
		return
	}
	*dst = t.Time
}
