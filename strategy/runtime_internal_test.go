package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

func TestRuntimesScope(t *testing.T) {
	const me = schedule.FactoryID("10.0.0.1$h1$U1$0000000001")
	every := storekit.WatchScope{Kind: storekit.WatchStrategyRuntimes, Name: "s"}
	own := storekit.WatchScope{Kind: storekit.WatchStrategyRuntime, Name: "s", Factory: me}
	tests := []struct {
		name   string
		kind   schedule.StrategyKind
		leader bool
		want   storekit.WatchScope
	}{
		{"Schedule, not leading: its own registration and the ids", schedule.KindSchedule, false, own},
		{"Schedule, leading: every registration", schedule.KindSchedule, true, every},
		{"Bean, not leading: every registration (ghost copies)", schedule.KindBean, false, every},
		{"Bean, leading", schedule.KindBean, true, every},
		{"a kind not known: every registration", "Other", false, every},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, runtimesScope("s", tc.kind, tc.leader, me))
		})
	}
}

func TestLightRuntimes(t *testing.T) {
	f1, f2, f3 := planFactory(1), planFactory(2), planFactory(3)
	light := func(f schedule.Factory) schedule.StrategyRuntime {
		return schedule.StrategyRuntime{StrategyName: "s", UUID: f.UUID}
	}
	own := schedule.StrategyRuntime{StrategyName: "s", UUID: f2.UUID, RequestNum: 2, CurrentNum: 1, Message: "m", Version: 7}
	ids := []schedule.FactoryID{f1.UUID, f2.UUID, f3.UUID}
	tests := []struct {
		name string
		ids  []schedule.FactoryID
		own  *schedule.StrategyRuntime
		want []schedule.StrategyRuntime
	}{
		{"its own read, the others ids alone, in the listing's order", ids, &own, []schedule.StrategyRuntime{light(f1), own, light(f3)}},
		{"its own gone: left out", ids, nil, []schedule.StrategyRuntime{light(f1), light(f3)}},
		{"its own read but not listed: not added", []schedule.FactoryID{f1.UUID}, &own, []schedule.StrategyRuntime{light(f1)}},
		{"none", nil, nil, []schedule.StrategyRuntime{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, lightRuntimes("s", tc.ids, f2.UUID, tc.own))
		})
	}
}

func TestReuseListing(t *testing.T) {
	const me, other = schedule.FactoryID("f$me"), schedule.FactoryID("f$other")
	listed := []schedule.FactoryID{other, me}
	tests := []struct {
		name   string
		kind   schedule.StrategyKind
		listed []schedule.FactoryID
		leader schedule.FactoryID
		age    time.Duration
		want   bool
	}{
		{"another leads, recent listing", schedule.KindSchedule, listed, other, time.Second, true},
		{"no listing yet", schedule.KindSchedule, nil, other, time.Second, false},
		{"no leader found", schedule.KindSchedule, listed, "", time.Second, false},
		{"this factory leads", schedule.KindSchedule, listed, me, time.Second, false},
		{"as old as the refresh", schedule.KindSchedule, listed, other, 10 * time.Second, false},
		{"the clock went back", schedule.KindSchedule, listed, other, -time.Second, false},
		{"Bean: ghost copies need every registration", schedule.KindBean, listed, other, time.Second, false},
		{"a listing from before this registration (a new session)", schedule.KindSchedule,
			[]schedule.FactoryID{other, "f$me-before"}, other, time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, reuseListing(tc.kind, tc.listed, tc.leader, me, tc.age, 10*time.Second))
		})
	}
}
