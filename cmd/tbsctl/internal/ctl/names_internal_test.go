package ctl

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestShortNames(t *testing.T) {
	a := schedule.ServerID("orders$TEST$10.0.0.1$AAAA1111BBBB$0000000007")
	b := schedule.ServerID("orders$TEST$10.0.0.1$CCCC2222DDDD$0000000012")
	c := schedule.ServerID("orders$10.0.0.2$EEEE3333FFFF$0000000000")
	got := shortNames([]schedule.ServerID{a, b, c}, map[schedule.ServerID]string{a: "web-1", b: "web-1"})
	assert.Equal(t, map[schedule.ServerID]string{a: "web-1#7", b: "web-1#12", c: "10.0.0.2#0"}, got)

	// The same sequence twice (a runtime re-created): the uuid tells them apart.
	d := schedule.ServerID("orders$10.0.0.1$AAAA1111BBBB$0000000003")
	e := schedule.ServerID("orders$10.0.0.1$AAAA9999BBBB$0000000003")
	got = shortNames([]schedule.ServerID{d, e}, map[schedule.ServerID]string{d: "h", e: "h"})
	assert.Equal(t, map[schedule.ServerID]string{d: "h#3-AAAA1111", e: "h#3-AAAA9999"}, got)

	assert.Equal(t, "odd", shortName("odd", "h", 0), "an id of another shape is shown whole")
	assert.Equal(t, "worker-1#f5", factoryName("10.0.0.1$worker-1$ABCD$0000000005"))
}

func TestJudgeOrphans(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	owner := schedule.ServerID("t$10.0.0.1$AB$0000000001")
	hold := func(until time.Time) *schedule.Server {
		return &schedule.Server{Holds: []schedule.ServerHold{{Server: "other", Until: schedule.Time{Time: now}}, {Server: owner, Items: 2, Until: schedule.Time{Time: until}}}}
	}
	slack := time.Second
	for _, tc := range []struct {
		name   string
		leader *schedule.Server
		wrote  bool
		want   string
	}{
		{"no live server", nil, true, orphanStuck},
		{"hold under way", hold(now.Add(time.Minute)), true, orphanHeld},
		{"hold just ended, within the slack", hold(now.Add(-slack / 2)), true, orphanHeld},
		{"hold ended a slack ago", hold(now.Add(-slack)), true, orphanOverdue},
		{"no hold, leader not written since the change", &schedule.Server{}, false, orphanPending},
		{"no hold, leader wrote since", &schedule.Server{}, true, orphanStuck},
		{"a hold for another server only", &schedule.Server{Holds: []schedule.ServerHold{{Server: "other"}}}, true, orphanStuck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeOrphans(owner, tc.leader, tc.wrote, now, slack)
			assert.Equal(t, tc.want, v.state)
			if v.state == orphanHeld || v.state == orphanOverdue {
				assert.Equal(t, owner, v.hold.Server)
			}
		})
	}
}

func TestNextWindowStart(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC)
	tt := schedule.DefaultTaskType("t")
	_, ok := nextWindowStart(tt, now)
	assert.False(t, ok, "no window: always open")
	tt.PermitRunStartTime = "0 0 2 * * ?"
	next, ok := nextWindowStart(tt, now)
	assert.True(t, ok)
	assert.Equal(t, time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC), next)
	tt.TimeZone = "Asia/Shanghai" // 02:00 in UTC+8 is 18:00 UTC
	next, _ = nextWindowStart(tt, now)
	assert.Equal(t, time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC), next.UTC())
	tt.PermitRunStartTime = "startrun:0 0 2 * * ?"
	next, ok = nextWindowStart(tt, now)
	assert.True(t, ok)
	assert.Equal(t, time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC), next.UTC())
}

func TestUnknownFieldSuggestions(t *testing.T) {
	known := knownFields["taskType"]
	for _, tc := range []struct{ key, near string }{
		{"heartbeatRate", "heartBeatRate"}, {"threadNum", "threadNumber"}, {"taskitems", "taskItems"},
		{"dealBean", "dealBeanName"}, {"colour", ""},
	} {
		near, _ := nearestName(tc.key, known)
		assert.Equal(t, tc.near, near, tc.key)
	}
	near, miscased := nearestName("ipList", knownFields["strategy"])
	assert.Equal(t, "IPList", near)
	assert.True(t, miscased)
	assert.Equal(t, []string{"IPList", "assignNum", "kind", "numOfSingleServer", "strategyName", "sts", "taskName", "taskParameter"}, knownFields["strategy"])
	assert.Contains(t, knownFields["taskType"], "timeZone", "optional fields are known too")
	assert.Contains(t, knownFields["taskType"], "permitRunEndTime")
}
