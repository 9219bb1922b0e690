package ctl

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestJavaStrategySemantics(t *testing.T) {
	tests := []struct {
		name      string
		in        schedule.Strategy
		noIPList  bool
		wantIPs   []string
		wantSts   string
		wantKind  schedule.StrategyKind
		wantNotes []string
	}{
		{"null IPList", schedule.Strategy{Sts: "resume", Kind: "Schedule", AssignNum: 1}, true, nil, "pause", "Schedule",
			[]string{"IPList is null, empty or blank: TBSchedule ran it nowhere; imported paused (was resume) with no host; set IPList and resume it to run it"}},
		{"empty IPList", schedule.Strategy{Sts: "resume", Kind: "Schedule", AssignNum: 1, IPList: nil}, false, nil, "pause", "Schedule",
			[]string{"IPList is null, empty or blank: TBSchedule ran it nowhere; imported paused (was resume) with no host; set IPList and resume it to run it"}},
		{"blank entries", schedule.Strategy{Sts: "resume", Kind: "Schedule", AssignNum: 1, IPList: []string{"", " "}}, false, nil, "pause", "Schedule",
			[]string{"IPList is null, empty or blank: TBSchedule ran it nowhere; imported paused (was resume) with no host; set IPList and resume it to run it"}},
		{"typed with a space", schedule.Strategy{Sts: "resume", Kind: "Schedule", AssignNum: 1, IPList: []string{"a", " b"}}, false, []string{"a", "b"}, "resume", "Schedule",
			[]string{`IPList entry " b" is trimmed to "b" (TBSchedule compared it with its spaces and never matched it; it now admits b)`}},
		{"kind Java", schedule.Strategy{Sts: "pause", Kind: "Java", AssignNum: 1, TaskName: "com.x.Job", IPList: []string{"127.0.0.1"}}, false, []string{"127.0.0.1"}, "pause", "Bean",
			[]string{`kind Java (class com.x.Job) is imported as kind Bean named "com.x.Job": register a Go task under that name (Factory.RegisterTask) on the hosts of IPList, or nothing runs`}},
		{"assignNum 0", schedule.Strategy{Sts: "resume", Kind: "Bean", AssignNum: 0, IPList: []string{"h"}}, false, []string{"h"}, "resume", "Bean",
			[]string{"assignNum 0: no thread group runs anywhere (as in TBSchedule)"}},
		{"nothing to map", schedule.Strategy{Sts: "resume", Kind: "Schedule", AssignNum: 3, IPList: []string{"h"}}, false, []string{"h"}, "resume", "Schedule", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.in
			e := entry{st: &s, java: true, noIPList: tt.noIPList}
			notes := javaSemantics(&e, "Asia/Shanghai")
			assert.Equal(t, tt.wantIPs, s.IPList)
			assert.Equal(t, tt.wantSts, s.Sts)
			assert.Equal(t, tt.wantKind, s.Kind)
			assert.Equal(t, tt.wantNotes, notes)
			assert.Equal(t, tt.in.AssignNum, s.AssignNum, "assignNum is kept")
		})
	}
}

func TestJavaTaskTypeSemantics(t *testing.T) {
	withCron := schedule.TaskType{PermitRunStartTime: "0 0 9 * * ?", TaskItems: []string{" 2 : { b = 3 } ", "1:{x}"}}
	e := entry{tt: &withCron, java: true}
	notes := javaSemantics(&e, "Asia/Shanghai")
	assert.Equal(t, "Asia/Shanghai", withCron.TimeZone)
	assert.Equal(t, []string{
		"timeZone Asia/Shanghai: the permit window crons run in Asia/Shanghai, as in the JVM they ran in",
		`taskItems[0] " 2 : { b = 3 } ": parameter " b = 3 " is read as "b = 3" (trimmed, as TBSchedule does)`,
	}, notes)

	short := schedule.TaskType{HeartBeatRate: 5 * time.Second, JudgeDeadInterval: 10 * time.Second}
	e = entry{tt: &short, java: true, hasTimeZone: true, unread: unreadJavaFields([]byte(`{"taskKind":"dynamic","version":3}`))}
	assert.Equal(t, []string{
		"judgeDeadInterval 10s is raised to 25s (5*heartBeatRate, our minimum): here it only marks a server stale in status and doctor; a dead server is found by its session",
		`taskKind "dynamic" is not kept: TBSchedule never read it, and the task type runs as it did`,
		"version 3 is not kept: TBSchedule never read it, and the task type runs as it did",
	}, javaSemantics(&e, "UTC"))
	assert.Empty(t, unreadJavaFields([]byte(`{"taskKind":"STATIC","version":0}`)), "TBSchedule's defaults say nothing")
	assert.Empty(t, unreadJavaFields([]byte(`{"taskKind":null,"version":null}`)))
	assert.Equal(t, 25*time.Second, short.JudgeDeadInterval)
	require.NoError(t, func() error {
		v := schedule.DefaultTaskType("t")
		v.DealBeanName = "d"
		v.TaskItems = []string{"0"}
		v.HeartBeatRate, v.JudgeDeadInterval = short.HeartBeatRate, short.JudgeDeadInterval
		return v.Validate()
	}())

	noCron := schedule.TaskType{}
	e = entry{tt: &noCron, java: true}
	assert.Empty(t, javaSemantics(&e, "Asia/Shanghai"), "a zone without crons needs no note")
	assert.Equal(t, "Asia/Shanghai", noCron.TimeZone, "set anyway, for crons added later")

	ours := schedule.TaskType{PermitRunStartTime: "0 0 9 * * ?"}
	e = entry{tt: &ours, java: true, hasTimeZone: true}
	assert.Empty(t, javaSemantics(&e, "Asia/Shanghai"))
	assert.Empty(t, ours.TimeZone, `an explicit "" (UTC, from our export) is kept`)
}

func TestImportZone(t *testing.T) {
	env := func(tz string) func(string) string {
		return func(k string) string {
			if k == "TZ" {
				return tz
			}
			return ""
		}
	}
	link := func(target string, err error) func(string) (string, error) {
		return func(string) (string, error) { return target, err }
	}
	tests := []struct {
		name, flag, tz, link string
		linkErr              error
		want, from, err      string
	}{
		{name: "flag wins", flag: "Asia/Shanghai", tz: "Europe/Paris", want: "Asia/Shanghai", from: "--time-zone"},
		{name: "TZ", tz: "Europe/Paris", link: "/usr/share/zoneinfo/UTC", want: "Europe/Paris", from: "TZ"},
		{name: "TZ with colon", tz: ":Europe/Paris", want: "Europe/Paris", from: "TZ"},
		{name: "localtime link", link: "/usr/share/zoneinfo/Asia/Tokyo", want: "Asia/Tokyo", from: "/etc/localtime"},
		{name: "no link", linkErr: errors.New("not a link"), err: "give --time-zone"},
		{name: "link elsewhere", link: "/etc/mytime", err: "give --time-zone"},
		{name: "unknown zone", flag: "Mars/Olympus", err: `time zone "Mars/Olympus" (from --time-zone)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zone, from, err := importZone(tt.flag, env(tt.tz), link(tt.link, tt.linkErr))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, zone)
			assert.Equal(t, tt.from, from)
		})
	}
}

func TestDecodeText(t *testing.T) {
	gbkBytes, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("a=杭州\r\nb=中国"))
	require.NoError(t, err)
	tests := []struct {
		name, enc string
		in        []byte
		want      string
		wantEnc   string
		err       string
	}{
		{"utf-8", "auto", []byte("a=杭州\n"), "a=杭州\n", "utf-8", ""},
		{"utf-8 with BOM", "auto", []byte("\xEF\xBB\xBFa=杭州"), "a=杭州", "utf-8", ""},
		{"gbk", "auto", gbkBytes, "a=杭州\r\nb=中国", "gbk", ""},
		{"gbk forced", "gbk", gbkBytes, "a=杭州\r\nb=中国", "gbk", ""},
		{"gbk read as utf-8", "utf-8", gbkBytes, "", "", "f: line 1: not valid UTF-8"},
		{"neither", "auto", []byte("ok\n\xff\xfe\n"), "", "", "f: line 2: neither UTF-8 nor GBK"},
		{"truncated gbk", "auto", gbkBytes[:len(gbkBytes)-1], "", "", "f: line 2: neither UTF-8 nor GBK"},
		{"bad flag", "latin1", nil, "", "", `--encoding "latin1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, enc, err := decodeText("f", tt.in, tt.enc)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			assert.Equal(t, tt.wantEnc, enc)
			assert.False(t, strings.ContainsRune(string(got), '\uFFFD'))
		})
	}
}

func TestTextDamage(t *testing.T) {
	tests := []struct {
		in      string
		damage  string
		pos     int
		problem bool
	}{
		{"AREA=杭州", "", 0, false},
		{"", "", 0, false},
		{"café, naïve, Zürich", "", 0, false},
		{"AREA=\uFFFD", "U+FFFD (the replacement character)", 5, true},
		{"AREA=\x1a", "U+001A (the substitute character)", 5, true},
		{"AREA=\u00e6\u009d\u00ad", "UTF-8 read as Latin-1", 5, false},
		{"Ã©t\u00e9", "UTF-8 read as Latin-1", 0, false},
	}
	for _, tt := range tests {
		damage, pos, problem := textDamage(tt.in)
		assert.Equal(t, tt.damage, damage, "%q", tt.in)
		assert.Equal(t, tt.pos, pos, "%q", tt.in)
		assert.Equal(t, tt.problem, problem, "%q", tt.in)
	}
}
