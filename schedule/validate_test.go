package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validTaskTypeForTest returns a task type that passes Validate.
func validTaskTypeForTest() TaskType {
	t := DefaultTaskType("orders")
	t.DealBeanName = "orderDeal"
	t.TaskItems = []string{"0", "1:{A=1,B=2}"}
	return t
}

// validStrategyForTest returns a strategy that passes Validate.
func validStrategyForTest() Strategy {
	s := DefaultStrategy("orders-s")
	s.TaskName = "orders$TEST"
	return s
}

func TestTaskTypeValidate(t *testing.T) {
	require.NoError(t, validTaskTypeForTest().Validate())
	tests := []struct {
		name    string
		mutate  func(*TaskType)
		wantErr string // "" = valid; else a substring of the whole message
	}{
		{"baseTaskType empty", func(t *TaskType) { t.BaseTaskType = "" }, `taskType "": baseTaskType "": must not be empty`},
		{"baseTaskType slash", func(t *TaskType) { t.BaseTaskType = "a/b" }, `baseTaskType "a/b": '/' at position 1 is not allowed`},
		{"baseTaskType dollar", func(t *TaskType) { t.BaseTaskType = "a$TEST" }, `baseTaskType "a$TEST": '$' at position 1`},
		{"heartBeatRate zero", func(t *TaskType) { t.HeartBeatRate = 0 }, `heartBeatRate (0s) must be positive`},
		{"heartBeatRate negative", func(t *TaskType) { t.HeartBeatRate = -time.Second }, `heartBeatRate (-1s) must be positive`},
		{"heartBeatRate sub-millisecond", func(t *TaskType) { t.HeartBeatRate = 1500 * time.Microsecond; t.JudgeDeadInterval = time.Second },
			`heartBeatRate (1.5ms) must be a whole number of milliseconds`},
		{"judgeDeadInterval below 5x", func(t *TaskType) { t.HeartBeatRate = 5 * time.Second; t.JudgeDeadInterval = 10 * time.Second },
			`taskType "orders": judgeDeadInterval (10s) must be at least 5*heartBeatRate (25s)`},
		{"judgeDeadInterval exactly 5x", func(t *TaskType) { t.HeartBeatRate = 2 * time.Second; t.JudgeDeadInterval = 10 * time.Second }, ""},
		{"judgeDeadInterval just below 5x", func(t *TaskType) {
			t.HeartBeatRate = 2 * time.Second
			t.JudgeDeadInterval = 10*time.Second - time.Millisecond
		},
			`judgeDeadInterval (9.999s) must be at least 5*heartBeatRate (10s)`},
		{"judgeDeadInterval with huge heartBeatRate", func(t *TaskType) { t.HeartBeatRate = time.Duration(1<<62) / time.Millisecond * time.Millisecond },
			`must be at least 5*heartBeatRate (2562047h47m16.854775807s)`},
		{"judgeDeadInterval zero, heartBeatRate zero", func(t *TaskType) { t.HeartBeatRate = 0; t.JudgeDeadInterval = 0 }, `judgeDeadInterval (0s) must be positive`},
		{"judgeDeadInterval sub-millisecond", func(t *TaskType) { t.JudgeDeadInterval += time.Nanosecond }, `judgeDeadInterval (1m0.000000001s) must be a whole number of milliseconds`},
		{"sleepTimeNoData negative", func(t *TaskType) { t.SleepTimeNoData = -time.Millisecond }, `sleepTimeNoData (-1ms) must not be negative`},
		{"sleepTimeNoData zero ok", func(t *TaskType) { t.SleepTimeNoData = 0 }, ""},
		{"sleepTimeNoData sub-millisecond", func(t *TaskType) { t.SleepTimeNoData = time.Microsecond }, `sleepTimeNoData (1µs) must be a whole number of milliseconds`},
		{"sleepTimeInterval negative", func(t *TaskType) { t.SleepTimeInterval = -time.Second }, `sleepTimeInterval (-1s) must not be negative`},
		{"sleepTimeInterval sub-millisecond", func(t *TaskType) { t.SleepTimeInterval = time.Nanosecond }, `sleepTimeInterval (1ns) must be a whole number`},
		{"fetchDataNumber zero", func(t *TaskType) { t.FetchDataNumber = 0 }, `fetchDataNumber (0) must be at least 1`},
		{"executeNumber zero", func(t *TaskType) { t.ExecuteNumber = 0 }, `executeNumber (0) must be at least 1`},
		{"threadNumber negative", func(t *TaskType) { t.ThreadNumber = -2 }, `threadNumber (-2) must be at least 1`},
		{"processorType NOTSLEEP ok", func(t *TaskType) { t.ProcessorType = ProcessorNotSleep }, ""},
		{"processorType lower case", func(t *TaskType) { t.ProcessorType = "sleep" }, `processorType "sleep" must be SLEEP or NOTSLEEP`},
		{"processorType empty", func(t *TaskType) { t.ProcessorType = "" }, `processorType "" must be SLEEP or NOTSLEEP`},
		{"window ok", func(t *TaskType) { t.PermitRunStartTime = "0 0 1 * * ?"; t.PermitRunEndTime = "0 0 5 * * ?" }, ""},
		{"window startrun ok", func(t *TaskType) { t.PermitRunStartTime = "StartRun: 0 0 1 * * ?"; t.PermitRunEndTime = "-1" }, ""},
		{"start cron bad", func(t *TaskType) { t.PermitRunStartTime = "0 0 1 L * ?" },
			`permitRunStartTime "0 0 1 L * ?": day-of-month: "L": 'L' (last) is not supported`},
		{"start cron 5 fields", func(t *TaskType) { t.PermitRunStartTime = "0 1 * * *" }, `permitRunStartTime "0 1 * * *": 5 fields: a seconds field is required`},
		{"startrun without cron", func(t *TaskType) { t.PermitRunStartTime = "startrun:" }, `permitRunStartTime "startrun:": a cron must follow "startrun:"`},
		{"end cron bad", func(t *TaskType) { t.PermitRunStartTime = "0 0 1 * * ?"; t.PermitRunEndTime = "0 0 25 * * ?" },
			`permitRunEndTime "0 0 25 * * ?": hour: "25": value 25 out of range 0-23`},
		{"end without start", func(t *TaskType) { t.PermitRunEndTime = "0 0 5 * * ?" },
			`permitRunEndTime "0 0 5 * * ?" needs a permitRunStartTime`},
		{"timeZone ok", func(t *TaskType) { t.TimeZone = "Asia/Shanghai" }, ""},
		{"timeZone unknown", func(t *TaskType) { t.TimeZone = "Mars/Olympus" }, `schedule: taskType "orders": timeZone "Mars/Olympus": not a time zone this host knows (an IANA name such as "Asia/Shanghai")`},
		{"timeZone Local", func(t *TaskType) { t.TimeZone = "Local" }, `timeZone "Local": the host's local zone differs between hosts`},
		{"taskItems empty", func(t *TaskType) { t.TaskItems = nil }, `taskItems must not be empty`},
		{"taskItems bad", func(t *TaskType) { t.TaskItems = []string{"0", "1:{"} }, `taskType "orders": taskItems[1] "1:{": missing '}'`},
		{"maxTaskItemsOfOneThreadGroup negative", func(t *TaskType) { t.MaxTaskItemsOfOneThreadGroup = -1 },
			`maxTaskItemsOfOneThreadGroup (-1) must not be negative (0 = no cap)`},
		{"maxTaskItemsOfOneThreadGroup positive ok", func(t *TaskType) { t.MaxTaskItemsOfOneThreadGroup = 3 }, ""},
		{"sts pause ok", func(t *TaskType) { t.Sts = StsPause }, ""},
		{"sts bad", func(t *TaskType) { t.Sts = "stopped" }, `sts "stopped" must be resume or pause`},
		{"dealBeanName empty", func(t *TaskType) { t.DealBeanName = "" }, `dealBeanName "": must not be empty`},
		{"dealBeanName bad", func(t *TaskType) { t.DealBeanName = "deal bean" }, `dealBeanName "deal bean": white space ' ' at position 4`},
		{"expireOwnSignInterval zero", func(t *TaskType) { t.ExpireOwnSignInterval = 0 }, `expireOwnSignInterval (0s) must be positive`},
		{"fetchDataCountEachSchedule -1 ok", func(t *TaskType) { t.FetchDataCountEachSchedule = -1 }, ""},
		{"fetchDataCountEachSchedule 1 ok", func(t *TaskType) { t.FetchDataCountEachSchedule = 1 }, ""},
		{"fetchDataCountEachSchedule zero", func(t *TaskType) { t.FetchDataCountEachSchedule = 0 },
			`fetchDataCountEachSchedule (0) must be -1 (no limit) or at least 1`},
		{"fetchDataCountEachSchedule -2", func(t *TaskType) { t.FetchDataCountEachSchedule = -2 }, `fetchDataCountEachSchedule (-2)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validTaskTypeForTest()
			tt.mutate(&v)
			err := v.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, `taskType "`+v.BaseTaskType+`"`, fe.Subject)
		})
	}
}

func TestStrategyValidate(t *testing.T) {
	require.NoError(t, validStrategyForTest().Validate())
	tests := []struct {
		name    string
		mutate  func(*Strategy)
		wantErr string
	}{
		{"strategyName empty", func(s *Strategy) { s.StrategyName = "" }, `strategy "": strategyName "": must not be empty`},
		{"strategyName slash", func(s *Strategy) { s.StrategyName = "a/b" }, `strategyName "a/b": '/' at position 1`},
		{"kind Bean ok", func(s *Strategy) { s.Kind = KindBean; s.TaskName = "reportBean" }, ""},
		{"kind Java", func(s *Strategy) { s.Kind = "Java" }, `kind "Java" is not supported: register a Go task and use Bean`},
		{"kind bad", func(s *Strategy) { s.Kind = "Cron" }, `kind "Cron" must be Schedule or Bean`},
		{"kind empty", func(s *Strategy) { s.Kind = "" }, `kind "" must be Schedule or Bean`},
		{"taskName bare ok", func(s *Strategy) { s.TaskName = "orders" }, ""},
		{"taskName explicit BASE ok", func(s *Strategy) { s.TaskName = "orders$BASE" }, ""},
		{"taskName empty", func(s *Strategy) { s.TaskName = "" }, `taskName "": must not be empty`},
		{"taskName empty ownSign", func(s *Strategy) { s.TaskName = "orders$" }, `taskName "orders$": ownSign: must not be empty`},
		{"taskName two ownSigns", func(s *Strategy) { s.TaskName = "a$B$C" }, `taskName "a$B$C": ownSign: '$' at position 3`},
		{"Bean taskName with dollar", func(s *Strategy) { s.Kind = KindBean; s.TaskName = "a$b" }, `taskName "a$b": '$' at position 1`},
		{"assignNum negative", func(s *Strategy) { s.AssignNum = -1 }, `assignNum (-1) must not be negative (0 runs no thread group)`},
		{"assignNum 0 ok (runs nowhere)", func(s *Strategy) { s.AssignNum = 0 }, ""},
		{"assignNum many ok", func(s *Strategy) { s.AssignNum = 100 }, ""},
		{"numOfSingleServer negative", func(s *Strategy) { s.NumOfSingleServer = -1 }, `numOfSingleServer (-1) must not be negative (0 = no cap)`},
		{"numOfSingleServer positive ok", func(s *Strategy) { s.NumOfSingleServer = 2 }, ""},
		{"IPList empty", func(s *Strategy) { s.IPList = nil }, `IPList must not be empty unless sts is pause`},
		{"IPList empty ok while paused (runs nowhere)", func(s *Strategy) { s.IPList, s.Sts = nil, StsPause }, ""},
		{"IPList entries ok", func(s *Strategy) { s.IPList = []string{"10.0.0.1", "localhost", "fe80::1", "host-a"} }, ""},
		{"IPList bad entry", func(s *Strategy) { s.IPList = []string{"10.0.0.1", "bad host"} }, `IPList[1] "bad host": white space ' ' at position 3`},
		{"IPList empty entry", func(s *Strategy) { s.IPList = []string{""} }, `IPList[0] "": must not be empty`},
		{"sts bad", func(s *Strategy) { s.Sts = "Resume" }, `sts "Resume" must be resume or pause`},
		{"taskParameter anything ok", func(s *Strategy) { s.TaskParameter = "中国 / $ {x}" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validStrategyForTest()
			tt.mutate(&v)
			err := v.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), `schedule: strategy "`+v.StrategyName+`": `), err.Error())
		})
	}
}

// TestValidateReportsEveryProblem: one error carries every problem, each a
// *FieldError wrapping ErrInvalid.
func TestValidateReportsEveryProblem(t *testing.T) {
	tt := validTaskTypeForTest()
	tt.HeartBeatRate = 5 * time.Second
	tt.JudgeDeadInterval = 10 * time.Second
	tt.ThreadNumber = 0
	tt.ProcessorType = "FAST"
	tt.PermitRunStartTime = "0 0 1 ? * 6#3"
	tt.TaskItems = []string{"0", "0", "1:{x"}
	tt.DealBeanName = ""

	err := tt.Validate()
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalid)
	want := []string{
		`schedule: taskType "orders": judgeDeadInterval (10s) must be at least 5*heartBeatRate (25s)`,
		`schedule: taskType "orders": threadNumber (0) must be at least 1`,
		`schedule: taskType "orders": processorType "FAST" must be SLEEP or NOTSLEEP`,
		`schedule: taskType "orders": permitRunStartTime "0 0 1 ? * 6#3": day-of-week: "6#3": '#' (nth day of week of the month) is not supported`,
		`schedule: taskType "orders": taskItems[1] "0": duplicate item id "0" (first at taskItems[0])`,
		`schedule: taskType "orders": taskItems[2] "1:{x": missing '}' after the parameter`,
		`schedule: taskType "orders": dealBeanName "": must not be empty`,
	}
	assert.Equal(t, strings.Join(want, "\n"), err.Error())

	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	fields := []string{}
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		require.True(t, errors.As(e, &fe))
		assert.ErrorIs(t, e, ErrInvalid)
		fields = append(fields, fe.Field)
	}
	assert.Equal(t, []string{"judgeDeadInterval", "threadNumber", "processorType", "permitRunStartTime",
		"taskItems[1]", "taskItems[2]", "dealBeanName"}, fields)

	s := Strategy{StrategyName: "s$1", Kind: "Java", AssignNum: -1, NumOfSingleServer: -1, Sts: ""}
	err = s.Validate()
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`schedule: strategy "s$1": strategyName "s$1": '$' at position 1 is not allowed`,
		`schedule: strategy "s$1": kind "Java" is not supported: register a Go task and use Bean`,
		`schedule: strategy "s$1": assignNum (-1) must not be negative (0 runs no thread group)`,
		`schedule: strategy "s$1": numOfSingleServer (-1) must not be negative (0 = no cap)`,
		`schedule: strategy "s$1": IPList must not be empty unless sts is pause (127.0.0.1 or localhost admits every host)`,
		`schedule: strategy "s$1": sts "" must be resume or pause`,
	}, "\n"), err.Error())
}

func TestTaskTypeLocation(t *testing.T) {
	tests := []struct {
		name    string
		tz      string
		want    string
		wantErr string
	}{
		{"empty is UTC", "", "UTC", ""},
		{"zone", "America/New_York", "America/New_York", ""},
		{"Local refused", "Local", "", "timeZone \"Local\""},
		{"unknown", "No/Where", "", `timeZone "No/Where": not a time zone this host knows`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := validTaskTypeForTest()
			v.TimeZone = tt.tz
			loc, err := v.Location()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, loc.String())
		})
	}
}

func TestTaskTypeItemDefs(t *testing.T) {
	defs, err := validTaskTypeForTest().ItemDefs()
	require.NoError(t, err)
	assert.Equal(t, []ItemDef{{ID: "0"}, {ID: "1", Parameter: "A=1,B=2"}}, defs)
}
