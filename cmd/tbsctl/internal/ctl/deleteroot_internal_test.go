package ctl

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

func TestLiveParts(t *testing.T) {
	fac := []strategy.FactoryView{{}, {}}
	strats := []strategy.StrategyView{{Registrations: []schedule.StrategyRuntime{{}, {}}}, {}}
	tts := []strategy.TaskTypeView{{Runtimes: []strategy.RuntimeInfo{{Servers: []schedule.Server{{}}}, {}}}}
	for _, tc := range []struct {
		name          string
		v             strategy.RuntimeView
		withFactories bool
		want          []string
	}{
		{"nothing", strategy.RuntimeView{}, true, nil},
		{"factories only", strategy.RuntimeView{Factories: fac}, true, []string{"2 factory(ies)"}},
		{"factories ignored", strategy.RuntimeView{Factories: fac}, false, nil},
		{"everything", strategy.RuntimeView{Factories: fac, Strategies: strats, TaskTypes: tts}, true,
			[]string{"2 factory(ies)", "2 strategy registration(s)", "1 server(s)"}},
		{"registrations and servers", strategy.RuntimeView{Factories: fac, Strategies: strats, TaskTypes: tts}, false,
			[]string{"2 strategy registration(s)", "1 server(s)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, liveParts(tc.v, tc.withFactories))
		})
	}
}
