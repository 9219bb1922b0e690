package strategy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

func TestAdmits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ipList []string
		want   bool
	}{
		{"any host", []string{"127.0.0.1"}, true},
		{"localhost any case", []string{"LocalHost"}, true},
		{"ip", []string{"10.0.0.1", "10.0.0.9"}, true},
		{"host name, case-insensitive", []string{" Worker-1 "}, true},
		{"other hosts", []string{"10.0.0.2", "worker-2"}, false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := schedule.DefaultStrategy("s")
			s.IPList = tc.ipList
			assert.Equal(t, tc.want, strategy.Admits(s, "10.0.0.9", "worker-1"))
		})
	}
}
