package schedule

import "time"

// TBSchedule's defaults for a task type, as in ScheduleTaskType.java.
const (
	// DefaultHeartBeatRate is the default TaskType.HeartBeatRate.
	DefaultHeartBeatRate = 5 * time.Second
	// DefaultJudgeDeadInterval is the default TaskType.JudgeDeadInterval.
	DefaultJudgeDeadInterval = 60 * time.Second
	// DefaultSleepTimeNoData is the default TaskType.SleepTimeNoData.
	DefaultSleepTimeNoData = 500 * time.Millisecond
	// DefaultSleepTimeInterval is the default TaskType.SleepTimeInterval.
	DefaultSleepTimeInterval = time.Duration(0)
	// DefaultFetchDataNumber is the default TaskType.FetchDataNumber.
	DefaultFetchDataNumber = 500
	// DefaultExecuteNumber is the default TaskType.ExecuteNumber.
	DefaultExecuteNumber = 1
	// DefaultThreadNumber is the default TaskType.ThreadNumber.
	DefaultThreadNumber = 5
	// DefaultProcessorType is the default TaskType.ProcessorType.
	DefaultProcessorType = ProcessorSleep
	// DefaultExpireOwnSignInterval is the default
	// TaskType.ExpireOwnSignInterval (1 day).
	DefaultExpireOwnSignInterval = 24 * time.Hour
	// DefaultSts is the default Sts of task types and strategies.
	DefaultSts = StsResume
	// DefaultFetchDataCountEachSchedule is the default
	// TaskType.FetchDataCountEachSchedule (no limit).
	DefaultFetchDataCountEachSchedule = -1
)

// Defaults of a strategy. TBSchedule's Java field defaults are 0 and its
// console proposes assignNum 2; ours is 1 (one thread group, the smallest
// valid value), and IPList admits every host.
const (
	// DefaultAssignNum is the default Strategy.AssignNum.
	DefaultAssignNum = 1
	// DefaultNumOfSingleServer is the default Strategy.NumOfSingleServer (no cap).
	DefaultNumOfSingleServer = 0
	// DefaultStrategyKind is the default Strategy.Kind.
	DefaultStrategyKind = KindSchedule
	// AnyHost in a strategy's IPList admits every factory ("localhost" too);
	// it is the default IPList.
	AnyHost = "127.0.0.1"
)

// DefaultTaskType returns a task type named base with TBSchedule's defaults:
// heartBeatRate 5s, judgeDeadInterval 60s, sleepTimeNoData 500ms,
// sleepTimeInterval 0, fetchDataNumber 500, executeNumber 1, threadNumber 5,
// processorType SLEEP, no permit window, expireOwnSignInterval 1 day,
// maxTaskItemsOfOneThreadGroup 0 (no cap), sts resume, fetchDataCountEachSchedule -1 (no limit), timeZone "" (UTC).
// DealBeanName and TaskItems are left empty: they are required, so the
// result does not validate until they are set.
//
// Decoding JSON starts from these defaults, so a field missing from a
// document gets its default.
func DefaultTaskType(base string) TaskType {
	return TaskType{
		BaseTaskType:               base,
		HeartBeatRate:              DefaultHeartBeatRate,
		JudgeDeadInterval:          DefaultJudgeDeadInterval,
		SleepTimeNoData:            DefaultSleepTimeNoData,
		SleepTimeInterval:          DefaultSleepTimeInterval,
		FetchDataNumber:            DefaultFetchDataNumber,
		ExecuteNumber:              DefaultExecuteNumber,
		ThreadNumber:               DefaultThreadNumber,
		ProcessorType:              DefaultProcessorType,
		ExpireOwnSignInterval:      DefaultExpireOwnSignInterval,
		Sts:                        DefaultSts,
		FetchDataCountEachSchedule: DefaultFetchDataCountEachSchedule,
	}
}

// DefaultStrategy returns a strategy named name with our defaults: kind
// Schedule, assignNum 1, numOfSingleServer 0 (no cap), IPList
// ["127.0.0.1"] (every host), sts resume. TaskName is left empty: it is
// required, so the result does not validate until it is set.
//
// Decoding JSON starts from these defaults, so a field missing from a
// document gets its default.
func DefaultStrategy(name string) Strategy {
	return Strategy{
		StrategyName:      name,
		IPList:            []string{AnyHost},
		NumOfSingleServer: DefaultNumOfSingleServer,
		AssignNum:         DefaultAssignNum,
		Kind:              DefaultStrategyKind,
		Sts:               DefaultSts,
	}
}
