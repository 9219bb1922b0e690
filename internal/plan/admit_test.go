package plan_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/internal/plan"
	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestAdmits(t *testing.T) {
	for _, tc := range []struct {
		list []string
		want bool
	}{
		{[]string{"127.0.0.1"}, true},
		{[]string{schedule.AnyHost}, true},
		{[]string{"localhost"}, true},
		{[]string{"LocalHost"}, true},
		{[]string{"10.0.0.9", "10.0.0.5"}, true},
		{[]string{"WORKER-1"}, true},
		{[]string{" worker-1 "}, true},
		{[]string{"10.0.0.6", "worker-2"}, false},
		{[]string{"10.0.0.55", "worker-10"}, false},
		{nil, false},
	} {
		t.Run(fmt.Sprint(tc.list), func(t *testing.T) {
			assert.Equal(t, tc.want, plan.Admits(tc.list, "10.0.0.5", "worker-1"))
		})
	}
}
