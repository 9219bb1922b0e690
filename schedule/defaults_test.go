package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestDefaultTaskType pins every documented default of a task type.
func TestDefaultTaskType(t *testing.T) {
	d := DefaultTaskType("orders")
	tests := []struct {
		field string
		got   any
		want  any
	}{
		{"baseTaskType", d.BaseTaskType, "orders"},
		{"heartBeatRate", d.HeartBeatRate, 5 * time.Second},
		{"judgeDeadInterval", d.JudgeDeadInterval, 60 * time.Second},
		{"sleepTimeNoData", d.SleepTimeNoData, 500 * time.Millisecond},
		{"sleepTimeInterval", d.SleepTimeInterval, time.Duration(0)},
		{"fetchDataNumber", d.FetchDataNumber, 500},
		{"executeNumber", d.ExecuteNumber, 1},
		{"threadNumber", d.ThreadNumber, 5},
		{"processorType", d.ProcessorType, ProcessorSleep},
		{"permitRunStartTime", d.PermitRunStartTime, ""},
		{"permitRunEndTime", d.PermitRunEndTime, ""},
		{"expireOwnSignInterval", d.ExpireOwnSignInterval, 24 * time.Hour},
		{"dealBeanName", d.DealBeanName, ""},
		{"taskParameter", d.TaskParameter, ""},
		{"taskItems", d.TaskItems, []string(nil)},
		{"maxTaskItemsOfOneThreadGroup", d.MaxTaskItemsOfOneThreadGroup, 0},
		{"sts", d.Sts, "resume"},
		{"fetchDataCountEachSchedule", d.FetchDataCountEachSchedule, -1},
		{"timeZone", d.TimeZone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

// TestDefaultStrategy pins every documented default of a strategy.
func TestDefaultStrategy(t *testing.T) {
	d := DefaultStrategy("s1")
	tests := []struct {
		field string
		got   any
		want  any
	}{
		{"strategyName", d.StrategyName, "s1"},
		{"IPList", d.IPList, []string{"127.0.0.1"}},
		{"numOfSingleServer", d.NumOfSingleServer, 0},
		{"assignNum", d.AssignNum, 1},
		{"kind", d.Kind, KindSchedule},
		{"taskName", d.TaskName, ""},
		{"taskParameter", d.TaskParameter, ""},
		{"sts", d.Sts, "resume"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

// TestDefaultsNeedOnlyRequiredFields: the defaults validate once the
// required fields are set, and each default slice is a fresh copy.
func TestDefaultsNeedOnlyRequiredFields(t *testing.T) {
	tt := DefaultTaskType("orders")
	assert.Error(t, tt.Validate())
	tt.DealBeanName = "orderDeal"
	tt.TaskItems = []string{"0"}
	assert.NoError(t, tt.Validate())

	s := DefaultStrategy("s1")
	assert.Error(t, s.Validate())
	s.TaskName = "orders"
	assert.NoError(t, s.Validate())

	s.IPList[0] = "10.0.0.1"
	assert.Equal(t, []string{"127.0.0.1"}, DefaultStrategy("s2").IPList)
}
