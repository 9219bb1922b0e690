package quartz

import (
	"errors"
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the host has

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cronTestLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func cronTestTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v
}

// TestCronNext: Quartz examples and the dialect's corners, in UTC.
// 2026-01-01 is a Thursday.
func TestCronNext(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		after string
		want  []string // successive fire times; "" = none
	}{
		{"noon every day", "0 0 12 * * ?", "2026-01-01T00:00:00Z", []string{"2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z"}},
		{"10:15 with ? in day-of-month", "0 15 10 ? * *", "2026-01-01T00:00:00Z", []string{"2026-01-01T10:15:00Z", "2026-01-02T10:15:00Z"}},
		{"every minute of 14h", "0 * 14 * * ?", "2026-01-01T14:58:30Z", []string{"2026-01-01T14:59:00Z", "2026-01-02T14:00:00Z"}},
		{"every 5 minutes at 14h and 18h", "0 0/5 14,18 * * ?", "2026-01-01T14:54:00Z", []string{"2026-01-01T14:55:00Z", "2026-01-01T18:00:00Z", "2026-01-01T18:05:00Z"}},
		{"minute range", "0 0-2 14 * * ?", "2026-01-01T14:00:00Z", []string{"2026-01-01T14:01:00Z", "2026-01-01T14:02:00Z", "2026-01-02T14:00:00Z"}},
		{"Wednesdays of March", "0 10,44 14 ? 3 WED", "2026-01-01T00:00:00Z", []string{"2026-03-04T14:10:00Z", "2026-03-04T14:44:00Z", "2026-03-11T14:10:00Z"}},
		{"weekdays", "0 15 10 ? * MON-FRI", "2026-01-02T10:15:00Z", []string{"2026-01-05T10:15:00Z", "2026-01-06T10:15:00Z"}},
		{"15th of the month", "0 15 10 15 * ?", "2026-01-15T10:15:00Z", []string{"2026-02-15T10:15:00Z"}},
		{"every 5 days from the 1st", "0 0 12 1/5 * ?", "2026-01-26T12:00:00Z", []string{"2026-01-31T12:00:00Z", "2026-02-01T12:00:00Z", "2026-02-06T12:00:00Z"}},
		{"Nov 11 11:11", "0 11 11 11 11 ?", "2026-01-01T00:00:00Z", []string{"2026-11-11T11:11:00Z", "2027-11-11T11:11:00Z"}},
		{"every 15 seconds", "*/15 * * * * ?", "2026-01-01T00:00:07Z", []string{"2026-01-01T00:00:15Z", "2026-01-01T00:00:30Z"}},
		{"strictly after", "0 0 0 * * ?", "2026-01-01T00:00:00Z", []string{"2026-01-02T00:00:00Z"}},
		{"fraction of a second", "* * * * * ?", "2026-01-01T00:00:00.5Z", []string{"2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"}},
		{"just before midnight", "0 0 0 * * ?", "2025-12-31T23:59:59.999Z", []string{"2026-01-01T00:00:00Z"}},
		{"hours wrap 22-2", "0 0 22-2 * * ?", "2026-01-01T03:00:00Z", []string{"2026-01-01T22:00:00Z", "2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z", "2026-01-02T01:00:00Z", "2026-01-02T02:00:00Z", "2026-01-02T22:00:00Z"}},
		{"hours wrap with step", "0 0 22-3/2 * * ?", "2026-01-01T03:00:00Z", []string{"2026-01-01T22:00:00Z", "2026-01-02T00:00:00Z", "2026-01-02T02:00:00Z", "2026-01-02T22:00:00Z"}},
		{"months wrap NOV-FEB", "0 0 0 1 NOV-FEB ?", "2026-01-15T00:00:00Z", []string{"2026-02-01T00:00:00Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"names are case-insensitive", "0 0 2 ? jan mon-fri", "2026-01-01T00:00:00Z", []string{"2026-01-01T02:00:00Z", "2026-01-02T02:00:00Z", "2026-01-05T02:00:00Z"}},
		{"JUL is a name, not L", "0 0 0 4 JUL ?", "2026-01-01T00:00:00Z", []string{"2026-07-04T00:00:00Z"}},
		{"31st skips short months", "0 0 0 31 * ?", "2026-01-31T00:00:00Z", []string{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"}},
		{"Feb 29", "0 0 0 29 2 ?", "2026-01-01T00:00:00Z", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"Feb 29 across the 8-year gap", "0 0 0 29 2 ?", "2096-03-01T00:00:00Z", []string{"2104-02-29T00:00:00Z"}},
		{"extra white space", "  0  0   2 ?\t* 2 ", "2026-01-01T00:00:00Z", []string{"2026-01-05T02:00:00Z"}},

		// Day of week: Quartz numbers SUN=1 ... SAT=7.
		{"dow 2 is Monday", "0 0 2 ? * 2", "2026-01-01T00:00:00Z", []string{"2026-01-05T02:00:00Z", "2026-01-12T02:00:00Z"}},
		{"dow 1 is Sunday", "0 0 2 ? * 1", "2026-01-01T00:00:00Z", []string{"2026-01-04T02:00:00Z"}},
		{"dow 7 is Saturday", "0 0 2 ? * 7", "2026-01-01T00:00:00Z", []string{"2026-01-03T02:00:00Z"}},
		{"dow 5 is Thursday", "0 0 2 ? * 5", "2026-01-01T00:00:00Z", []string{"2026-01-01T02:00:00Z", "2026-01-08T02:00:00Z"}},
		{"dow range 2-3 is MON-TUE", "0 0 2 ? * 2-3", "2026-01-01T00:00:00Z", []string{"2026-01-05T02:00:00Z", "2026-01-06T02:00:00Z", "2026-01-12T02:00:00Z"}},
		{"dow list 1,7 is the weekend", "0 0 2 ? * 1,7", "2026-01-01T00:00:00Z", []string{"2026-01-03T02:00:00Z", "2026-01-04T02:00:00Z", "2026-01-10T02:00:00Z"}},
		{"dow step 1/3 is SUN,WED,SAT", "0 0 2 ? * 1/3", "2026-01-01T00:00:00Z", []string{"2026-01-03T02:00:00Z", "2026-01-04T02:00:00Z", "2026-01-07T02:00:00Z"}},
		{"dow step 2/2 is MON,WED,FRI", "0 0 2 ? * 2/2", "2026-01-01T00:00:00Z", []string{"2026-01-02T02:00:00Z", "2026-01-05T02:00:00Z", "2026-01-07T02:00:00Z"}},
		{"dow */3 is SUN,WED,SAT", "0 0 2 ? * */3", "2026-01-01T00:00:00Z", []string{"2026-01-03T02:00:00Z", "2026-01-04T02:00:00Z", "2026-01-07T02:00:00Z"}},
		{"dow wrap 6-2 is FRI-MON", "0 0 2 ? * 6-2", "2026-01-01T00:00:00Z", []string{"2026-01-02T02:00:00Z", "2026-01-03T02:00:00Z", "2026-01-04T02:00:00Z", "2026-01-05T02:00:00Z", "2026-01-09T02:00:00Z"}},
		{"dow name wrap FRI-MON", "0 0 2 ? * FRI-MON", "2026-01-05T03:00:00Z", []string{"2026-01-09T02:00:00Z"}},
		{"dow mixed name and number", "0 0 2 ? * MON,7", "2026-01-01T00:00:00Z", []string{"2026-01-03T02:00:00Z", "2026-01-05T02:00:00Z"}},
		{"star day-of-month with a day-of-week", "0 0 2 * * 2", "2026-01-01T00:00:00Z", []string{"2026-01-05T02:00:00Z"}},
		{"star day-of-week with a day-of-month", "0 0 2 15 * *", "2026-01-01T00:00:00Z", []string{"2026-01-15T02:00:00Z", "2026-02-15T02:00:00Z"}},
		{"star in both is every day", "0 0 2 * * *", "2026-01-01T00:00:00Z", []string{"2026-01-01T02:00:00Z", "2026-01-02T02:00:00Z"}},

		// Year filter.
		{"single year", "0 15 10 * * ? 2027", "2026-06-01T00:00:00Z", []string{"2027-01-01T10:15:00Z", "2027-01-02T10:15:00Z"}},
		{"single year ends", "0 0 0 31 12 ? 2027", "2026-06-01T00:00:00Z", []string{"2027-12-31T00:00:00Z", ""}},
		{"year in the past", "0 0 0 1 1 ? 2025", "2026-01-01T00:00:00Z", []string{""}},
		{"year range with step", "0 0 0 1 1 ? 2028-2032/2", "2026-01-01T00:00:00Z", []string{"2028-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2032-01-01T00:00:00Z", ""}},
		{"year list with day of week", "0 0 0 ? * MON 2026,2028", "2026-12-29T00:00:00Z", []string{"2028-01-03T00:00:00Z", "2028-01-10T00:00:00Z"}},
		{"year star", "0 0 0 1 1 ? *", "2026-01-01T00:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"year question mark", "0 0 0 1 1 ? ?", "2026-01-01T00:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"year step from start", "0 0 0 1 1 ? 2030/10", "2026-01-01T00:00:00Z", []string{"2030-01-01T00:00:00Z", "2040-01-01T00:00:00Z"}},
		{"year filter and Feb 29", "0 0 0 29 2 ? 2027-2029", "2026-01-01T00:00:00Z", []string{"2028-02-29T00:00:00Z", ""}},
		{"no leap year in the filter", "0 0 0 29 2 ? 2029-2031", "2026-01-01T00:00:00Z", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.spec)
			require.NoError(t, err)
			assert.Equal(t, tt.spec, c.String())
			at := cronTestTime(t, tt.after)
			for i, w := range tt.want {
				got := c.Next(at, time.UTC)
				if w == "" {
					assert.True(t, got.IsZero(), "step %d: got %s, want none", i, got)
					return
				}
				want := cronTestTime(t, w)
				require.True(t, want.Equal(got), "step %d: got %s, want %s", i, got, want)
				at = got
			}
		})
	}
}

// TestCronNextTimeZones: evaluation on the wall clock of a zone, across
// daylight-saving changes (no fire lost: gaps shift, repeats fire twice).
func TestCronNextTimeZones(t *testing.T) {
	tests := []struct {
		name  string
		zone  string
		spec  string
		after string
		want  []string
	}{
		{"Shanghai wall clock", "Asia/Shanghai", "0 0 2 * * ?", "2026-01-01T00:00:00Z", []string{"2026-01-02T02:00:00+08:00", "2026-01-03T02:00:00+08:00"}},
		{"Shanghai weekdays", "Asia/Shanghai", "0 30 9 ? * MON-FRI", "2026-01-02T02:00:00Z", []string{"2026-01-05T09:30:00+08:00"}},
		{"Shanghai 1988 DST gap shifts 02:30 to 03:30", "Asia/Shanghai", "0 30 2 * * ?", "1988-04-16T12:00:00+08:00",
			[]string{"1988-04-17T03:30:00+09:00", "1988-04-18T02:30:00+09:00"}},
		{"Shanghai 1988 DST end fires twice", "Asia/Shanghai", "0 30 1 * * ?", "1988-09-10T12:00:00+09:00",
			[]string{"1988-09-11T01:30:00+09:00", "1988-09-11T01:30:00+08:00", "1988-09-12T01:30:00+08:00"}},
		{"New York wall clock", "America/New_York", "0 0 2 ? * 2", "2026-01-01T00:00:00Z", []string{"2026-01-05T02:00:00-05:00"}},
		{"New York spring gap 02:30 fires at 03:30", "America/New_York", "0 30 2 * * ?", "2026-03-07T03:00:00-05:00",
			[]string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"New York spring gap 02:00 fires at 03:00", "America/New_York", "0 0 2 * * ?", "2026-03-07T03:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{"New York spring gap after the jump", "America/New_York", "0 30 2 * * ?", "2026-03-08T03:10:00-04:00",
			[]string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"New York spring gap and a real time coincide once", "America/New_York", "0 30 2,3 * * ?", "2026-03-08T01:00:00-05:00",
			[]string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"New York hourly through the spring gap", "America/New_York", "0 0 * * * ?", "2026-03-08T00:30:00-05:00",
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{"New York fall back fires twice", "America/New_York", "0 30 1 * * ?", "2026-10-31T23:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"}},
		{"New York hourly through fall back", "America/New_York", "0 0 * * * ?", "2026-11-01T00:30:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"New York day of week across DST", "America/New_York", "0 0 2 ? * SUN", "2026-03-01T03:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-15T02:00:00-04:00"}},
		{"Berlin spring gap", "Europe/Berlin", "0 30 2 * * ?", "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"Lord Howe half-hour gap", "Australia/Lord_Howe", "0 15 2 * * ?", "2026-10-03T12:00:00+10:30",
			[]string{"2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"Sao Paulo midnight gap", "America/Sao_Paulo", "0 0 0 * * ?", "2018-11-03T12:00:00-03:00",
			[]string{"2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"}},
		{"Sao Paulo midnight repeated", "America/Sao_Paulo", "0 30 23 * * ?", "2018-02-17T12:00:00-02:00",
			[]string{"2018-02-17T23:30:00-02:00", "2018-02-17T23:30:00-03:00", "2018-02-18T23:30:00-03:00"}},
		{"Apia skipped day", "Pacific/Apia", "0 0 12 * * ?", "2011-12-29T13:00:00-10:00",
			[]string{"2011-12-31T12:00:00+14:00", "2012-01-01T12:00:00+14:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := cronTestLoc(t, tt.zone)
			c, err := Parse(tt.spec)
			require.NoError(t, err)
			at := cronTestTime(t, tt.after)
			for i, w := range tt.want {
				got := c.Next(at, loc)
				want := cronTestTime(t, w)
				require.True(t, want.Equal(got), "step %d: got %s, want %s", i, got, want)
				assert.Equal(t, loc, got.Location())
				at = got
			}
		})
	}
}

func TestCronNextNilLocationIsUTC(t *testing.T) {
	c, err := Parse("0 0 2 * * ?")
	require.NoError(t, err)
	got := c.Next(cronTestTime(t, "2026-01-01T05:00:00+08:00"), nil)
	assert.Equal(t, cronTestTime(t, "2026-01-01T02:00:00Z"), got)
	assert.Equal(t, time.UTC, got.Location())

	var none *Cron
	assert.True(t, none.Next(time.Now(), nil).IsZero())
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		wantField string
		wantErr   string
	}{
		{"empty", "", "", "empty specification"},
		{"five fields", "0 0 * * *", "", `5 fields: a seconds field is required`},
		{"four fields", "0 0 * *", "", `4 fields, want 6 or 7`},
		{"eight fields", "0 0 0 * * ? 2026 x", "", `8 fields, want 6 or 7`},
		{"second out of range", "60 * * * * ?", "second", `"60": value 60 out of range 0-59`},
		{"minute not a number", "0 x * * * ?", "minute", `"X" is not a number`},
		{"hour out of range", "0 0 24 * * ?", "hour", `value 24 out of range 0-23`},
		{"day-of-month zero", "0 0 0 0 * ?", "day-of-month", `value 0 out of range 1-31`},
		{"month out of range", "0 0 0 1 13 ?", "month", `value 13 out of range 1-12`},
		{"month unknown name", "0 0 0 1 JUX ?", "month", `unknown name "JUX" (want JAN-DEC)`},
		{"day-of-week zero (Unix numbering)", "0 0 0 ? * 0", "day-of-week", `value 0 out of range 1-7 (Quartz numbers days SUN=1 ... SAT=7)`},
		{"day-of-week eight", "0 0 0 ? * 8", "day-of-week", `value 8 out of range 1-7`},
		{"day-of-week unknown name", "0 0 0 ? * FOO", "day-of-week", `unknown name "FOO" (want SUN-SAT)`},
		{"day-of-week full name", "0 0 0 ? * MONDAY", "day-of-week", `unknown name "MONDAY"`},
		{"L in day-of-month", "0 0 0 L * ?", "day-of-month", `'L' (last) is not supported`},
		{"L offset in day-of-month", "0 0 0 L-3 * ?", "day-of-month", `'L' (last) is not supported`},
		{"LW", "0 0 0 LW * ?", "day-of-month", `'LW' (last weekday of the month) is not supported`},
		{"W", "0 0 0 15W * ?", "day-of-month", `'W' (nearest weekday) is not supported`},
		{"L in day-of-week", "0 15 10 ? * 6L", "day-of-week", `'L' (last) is not supported`},
		{"hash in day-of-week", "0 15 10 ? * 6#3", "day-of-week", `'#' (nth day of week of the month) is not supported`},
		{"C", "0 0 0 5C * ?", "day-of-month", `'C' (calendar) is not supported`},
		{"both question marks", "0 0 0 ? * ?", "", `day-of-month and day-of-week are both '?'`},
		{"both days set", "0 0 0 1 * MON", "", `day-of-month (1) and day-of-week (MON) are both set; put '?' in one of them`},
		{"question mark in seconds", "? 0 0 * * ?", "second", `'?' is allowed only in day-of-month, day-of-week and year`},
		{"question mark in a list", "0 0 0 1,? * *", "day-of-month", `'?' must stand alone`},
		{"step zero", "0 0/0 * * * ?", "minute", `step 0 out of range 1-60`},
		{"step too big", "0 0/61 * * * ?", "minute", `step 61 out of range 1-60`},
		{"step not a number", "0 0/x * * * ?", "minute", `step "X" is not a number`},
		{"step negative", "0 0/-1 * * * ?", "minute", `step "-1" is not a number`},
		{"double range", "0 1-2-3 * * * ?", "minute", `"2-3" is not a number`},
		{"empty list element", "0 ,1 * * * ?", "minute", `empty list element`},
		{"missing range start", "0 -1 * * * ?", "minute", `missing value`},
		{"missing step base", "0 /5 * * * ?", "minute", `missing value`},
		{"year before 1970", "0 0 0 * * ? 1969", "year", `value 1969 out of range 1970-2199`},
		{"year after 2199", "0 0 0 * * ? 2200", "year", `out of range 1970-2199`},
		{"year range backwards", "0 0 0 * * ? 2030-2025", "year", `range 2030-2025 goes backwards`},
		{"year step zero", "0 0 0 * * ? 2026/0", "year", `step 0 out of range 1-230`},
		{"impossible date", "0 0 0 31 2 ?", "", `day-of-month (31) never falls in month (2)`},
		{"impossible dates", "0 0 0 31 4,6,9,11 ?", "", `never falls in month`},
		{"plus sign", "0 +1 * * * ?", "minute", `"+1" is not a number`},
		{"huge number", "0 99999999999999999999 * * * ?", "minute", `out of range 0-59`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.spec)
			require.Error(t, err)
			assert.Nil(t, c)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tt.spec, ce.Spec)
			assert.Equal(t, tt.wantField, ce.Field)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), fmt.Sprintf("cron %q: ", tt.spec))
		})
	}
}

func TestParseCronAccepts(t *testing.T) {
	for _, spec := range []string{
		"0 0 0 31 4,5 ?",      // May has a 31st
		"0 0 0 29 2 ?",        // leap years
		"0 0 0 ? JUL-DEC SAT", // names with an L
		"0 0 0 1-31 * ?",
		"59 59 23 31 12 ? 2199",
		"0 0 0 1 1 ? 1970",
		"0/1 0/1 0/1 1/1 1/1 ? 1970/1",
	} {
		t.Run(spec, func(t *testing.T) {
			_, err := Parse(spec)
			assert.NoError(t, err)
		})
	}
}

func TestParseWindowStart(t *testing.T) {
	tests := []struct {
		name       string
		spec       string
		wantCron   string // c.String(); "" = nil
		wantRunNow bool
		wantErr    string
	}{
		{"empty: always permitted", "", "", true, ""},
		{"blank: always permitted", "  ", "", true, ""},
		{"cron", "0 0 1 * * ?", "0 0 1 * * ?", false, ""},
		{"cron with spaces", " 0 0 1 * * ? ", "0 0 1 * * ?", false, ""},
		{"startrun", "startrun:0 0 1 * * ?", "0 0 1 * * ?", true, ""},
		{"STARTRUN upper case", "STARTRUN: 0 0 1 * * ?", "0 0 1 * * ?", true, ""},
		{"StartRun mixed case", "StartRun:0 0 1 ? * MON", "0 0 1 ? * MON", true, ""},
		{"startrun alone", "startrun:", "", false, `a cron must follow "startrun:"`},
		{"startrun with a bad cron", "startrun:0 0 1 L * ?", "", false, `'L' (last) is not supported`},
		{"bad cron", "every day", "", false, `2 fields, want 6 or 7`},
		{"startrun not a prefix", "0 0 1 * * ? startrun:", "", false, `year: "STARTRUN:"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, runNow, err := ParseStart(tt.spec)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.IsType(t, (*Error)(nil), err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, c)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantRunNow, runNow)
			if tt.wantCron == "" {
				assert.Nil(t, c)
				return
			}
			require.NotNil(t, c)
			assert.Equal(t, tt.wantCron, c.String())
		})
	}
}

func TestWindowEnd(t *testing.T) {
	tests := []struct {
		name       string
		spec       string
		wantNoData bool
		wantErr    string
	}{
		{"empty", "", true, ""},
		{"blank", " \t", true, ""},
		{"minus one", "-1", true, ""},
		{"minus one padded", " -1 ", true, ""},
		{"minus two", "-2", false, "1 fields, want 6 or 7"},
		{"cron", "0 30 5 * * ?", false, ""},
		{"bad cron", "0 30 5 L * ?", false, "'L' (last)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantNoData, NoDataEnd(tt.spec))
			c, err := ParseEnd(tt.spec)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.IsType(t, (*Error)(nil), err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantNoData, c == nil)
		})
	}
}

// cronRefFires reports whether instant u is a fire time of c in loc by the
// definition: its wall clock matches, or it lies within a forward
// daylight-saving jump and its wall clock minus the jump matches.
func cronRefFires(c *Cron, u time.Time, loc *time.Location) bool {
	l := u.In(loc)
	wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	if c.matchesWall(wall) {
		return true
	}
	start, _ := l.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, before := start.Add(-time.Nanosecond).In(loc).Zone()
	_, after := start.In(loc).Zone()
	gap := time.Duration(after-before) * time.Second
	return gap > 0 && u.Before(start.Add(gap)) && c.matchesWall(wall.Add(-gap))
}

// TestCronNextMatchesBruteForce compares Next with a scan of every minute
// (every second for specs with seconds) around real daylight-saving changes,
// midnight ones, half-hour ones and a skipped day included.
func TestCronNextMatchesBruteForce(t *testing.T) {
	zones := []struct {
		name string
		year int
	}{
		{"America/New_York", 2026}, {"Europe/Berlin", 2026}, {"Australia/Lord_Howe", 2026},
		{"America/Sao_Paulo", 2018}, {"Asia/Shanghai", 1988}, {"Pacific/Apia", 2011}, {"America/Havana", 2026},
	}
	minuteSpecs := []string{
		"0 0 0 * * ?", "0 30 0 * * ?", "0 0 1 * * ?", "0 30 1 * * ?", "0 0 2 * * ?", "0 30 2 * * ?",
		"0 15 2 * * ?", "0 0 3 * * ?", "0 59 1 * * ?", "0 0 * * * ?", "0 */20 * * * ?", "0 0 23 * * ?",
		"0 45 23 ? * *", "0 0/7 0-3 * * ?", "0 0 12 * * ?", "0 0 2 ? * SUN", "0 0 0 ? * 2-7", "0 30 0-4/2 ? * 1",
	}
	secondSpecs := []string{"*/20 * 0-3 * * ?", "30 59 0-2 * * ?", "0,59 * 1,2 * * ?"}
	for _, z := range zones {
		loc := cronTestLoc(t, z.name)
		var transitions []time.Time
		for at := time.Date(z.year, 1, 1, 0, 0, 0, 0, loc); ; {
			_, end := at.ZoneBounds()
			if end.IsZero() || end.Year() > z.year {
				break
			}
			transitions = append(transitions, end)
			at = end
		}
		require.NotEmpty(t, transitions, z.name)
		for _, tr := range transitions {
			for _, spec := range append(minuteSpecs, secondSpecs...) {
				step, span := time.Minute, 26*time.Hour
				if spec[0] != '0' || spec[1] != ' ' {
					step, span = time.Second, 90*time.Minute
				}
				t.Run(fmt.Sprintf("%s/%s/%s", z.name, tr.UTC().Format(time.DateTime), spec), func(t *testing.T) {
					t.Parallel()
					c, err := Parse(spec)
					require.NoError(t, err)
					from, to := tr.Add(-span).Truncate(step), tr.Add(span)
					var want []time.Time
					for u := from.Add(step); !u.After(to); u = u.Add(step) {
						if cronRefFires(c, u, loc) {
							want = append(want, u)
						}
					}
					var got []time.Time
					for u := c.Next(from, loc); !u.IsZero() && !u.After(to); u = c.Next(u, loc) {
						got = append(got, u)
					}
					require.Equal(t, len(want), len(got), "want %v\ngot  %v", want, got)
					for i := range want {
						require.True(t, want[i].Equal(got[i]), "fire %d: want %s, got %s", i, want[i].In(loc), got[i].In(loc))
					}
				})
			}
		}
	}
}

// FuzzParseCron: parsing never panics; errors are *Error; for an accepted spec, successive Next results in several zones
// (from any instant between 1900 and 2100) are whole seconds, strictly
// increasing, and fire times by definition.
func FuzzParseCron(f *testing.F) {
	for _, s := range []string{
		"0 0 2 ? * 2", "0 0/5 14,18 * * ?", "0 15 10 ? * 6L", "0 0 0 29 2 ? 2027-2029", "* * * * * ?",
		"0 0 22-2 ? * FRI-MON", "0 0 0 1 JUL ?", "0 0 0 ? * ?", "startrun:0 0 1 * * ?", "0 0 0 1 1 ? 2199",
		"0 0 0 31 2 ?", "0 0 0 L * ?", "1-60/0 * * * * ?", "0 0 0 ? * 0", "\x00 \xff * * * ?",
	} {
		f.Add(s, int64(1772884800)) // 2026-03-07T12:00:00Z
	}
	f.Add("0 0 12 * * ?", int64(1325152800))  // Apia, the day before the skipped day
	f.Add("0 30 2 * * ?", int64(-2177452800)) // 1901, Shanghai's local mean time
	zones := []*time.Location{time.UTC, cronTestLoc(f, "America/New_York"), cronTestLoc(f, "Australia/Lord_Howe"),
		cronTestLoc(f, "Pacific/Apia"), cronTestLoc(f, "Asia/Shanghai"), cronTestLoc(f, "America/Sao_Paulo")}
	lo, hi := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	f.Fuzz(func(t *testing.T, spec string, afterUnix int64) {
		c, err := Parse(spec)
		if err != nil {
			var ce *Error
			require.True(t, errors.As(err, &ce))
			require.Nil(t, c)
			return
		}
		if afterUnix < lo || afterUnix > hi {
			afterUnix = lo + (afterUnix%(hi-lo)+(hi-lo))%(hi-lo)
		}
		for _, loc := range zones {
			at := time.Unix(afterUnix, 0)
			for range 3 {
				next := c.Next(at, loc)
				if next.IsZero() {
					break
				}
				require.True(t, next.After(at), "%s: Next(%s) = %s", spec, at, next)
				require.Zero(t, next.Nanosecond())
				require.True(t, cronRefFires(c, next, loc), "%s: %s is not a fire time in %s", spec, next, loc)
				at = next
			}
		}
	})
}
