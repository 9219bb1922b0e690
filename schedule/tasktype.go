package schedule

import "time"

// ProcessorType selects how a thread group fetches and executes records.
type ProcessorType string

// Processor types, with TBSchedule's spelling.
const (
	// ProcessorSleep: one shared queue; the last goroutine to go idle fetches
	// while the others wait.
	ProcessorSleep ProcessorType = "SLEEP"
	// ProcessorNotSleep: any idle goroutine fetches at once; records still in
	// flight are not handed out twice (deduplicated by a key).
	ProcessorNotSleep ProcessorType = "NOTSLEEP"
)

// TaskType is the configuration of one data-processing job, TBSchedule's
// ScheduleTaskType. It is stored as JSON with TBSchedule's field names
// (durations in milliseconds, expireOwnSignInterval in days) so that a
// document written by the Java console decodes unchanged. Every field does
// something here; TBSchedule's taskKind and version, which nothing ever read
// (TBSchedule ran only "static" task types), have no field: a document
// carrying them is read as usual (they are ignored) and the encoding writes
// TBSchedule's values for them ("static", 0) so that its console reads ours.
type TaskType struct {
	// BaseTaskType is the name of the task type and its node name. Required.
	BaseTaskType string
	// HeartBeatRate is how often a server rewrites its record. Default 5s.
	HeartBeatRate time.Duration
	// JudgeDeadInterval: a server whose record was not rewritten for this long
	// is reported as stale. Must be at least 5*HeartBeatRate. Default 60s.
	// (Liveness itself is the ephemeral node; see docs/DESIGN.md.)
	JudgeDeadInterval time.Duration
	// SleepTimeNoData is the pause after a fetch returned nothing. Default 500ms.
	SleepTimeNoData time.Duration
	// SleepTimeInterval is the pause before every fetch. Default 0.
	SleepTimeInterval time.Duration
	// FetchDataNumber is the number of records asked of SelectTasks. Default 500.
	FetchDataNumber int
	// ExecuteNumber is the batch size handed to a multi deal. Default 1.
	ExecuteNumber int
	// ThreadNumber is the number of worker goroutines per thread group. Default 5.
	ThreadNumber int
	// ProcessorType is SLEEP (default) or NOTSLEEP.
	ProcessorType ProcessorType
	// PermitRunStartTime is a Quartz-style cron with seconds (6 or 7 fields)
	// for the start of the permit window, optionally prefixed "startrun:".
	// Empty: always permitted.
	PermitRunStartTime string
	// PermitRunEndTime is the cron for the end of the window. Empty or "-1":
	// pause when SelectTasks returns nothing, resume at the next start.
	PermitRunEndTime string
	// ExpireOwnSignInterval: runtimes of an ownSign with no live server for
	// this long are removed. Stored in days (float). Default 1 day.
	ExpireOwnSignInterval time.Duration
	// DealBeanName names the registered deal that processes this task type. Required.
	DealBeanName string
	// TaskParameter is passed to every SelectTasks call.
	TaskParameter string
	// TaskItems are the item definitions, "0" or "0:{TYPE=A,KIND=1}".
	TaskItems []string
	// MaxTaskItemsOfOneThreadGroup caps the items one thread group owns; 0 = no cap.
	MaxTaskItemsOfOneThreadGroup int
	// Sts is "resume" (default) or "pause". A paused task type's managers
	// keep running and keep their items (no rebalancing, no takeover delay
	// at resume) but fetch nothing: records already fetched finish, and
	// status and the server records show the window as "paused". Running
	// managers pick a change up from the configuration watch; nothing is
	// restarted.
	Sts string
	// FetchDataCountEachSchedule: SelectTasks calls allowed per window; -1 = no limit.
	FetchDataCountEachSchedule int
	// TimeZone is the IANA zone the window crons are evaluated in. Empty = UTC.
	// (Ours: TBSchedule used the JVM's default zone.)
	TimeZone string
	// RunNowAt and RunNowBy are the operator's last run-now request (cluster
	// time, and who asked), written by strategy.Admin.RunNow: each manager
	// whose window is closed opens it once, as "startrun:" does at start,
	// unless the window's regular start came since. Zero: none. Managers
	// pick a request up from the configuration watch; nothing is restarted.
	// (Ours: TBSchedule has no run-now; its console ignores the fields.)
	RunNowAt time.Time
	RunNowBy string
}

// Strategy says where and how many thread groups of a task (or copies of a
// Bean task) run: TBSchedule's ScheduleStrategy, stored with its field names.
type Strategy struct {
	// StrategyName is the strategy's name and node name. Required.
	StrategyName string
	// IPList lists the hosts (IP or hostname) allowed to run it; "127.0.0.1" or
	// "localhost" admits every factory. Empty admits none: the strategy runs
	// nowhere (allowed only while paused, see Validate).
	IPList []string
	// NumOfSingleServer caps the thread groups one factory runs; 0 = no cap.
	NumOfSingleServer int
	// AssignNum is the number of thread groups (or Bean copies) in the
	// cluster; 0 runs none (every factory's requestNum is 0).
	AssignNum int
	// Kind is "Schedule" (run a task type) or "Bean" (run a registered Go task).
	Kind StrategyKind
	// TaskName is "base" or "base$ownSign" for Schedule, the task name for Bean.
	TaskName string
	// TaskParameter is passed to a Bean task's Start.
	TaskParameter string
	// Sts is "resume" (default) or "pause".
	Sts string
}

// StrategyKind is the kind of a strategy.
type StrategyKind string

// Strategy kinds.
const (
	KindSchedule StrategyKind = "Schedule"
	KindBean     StrategyKind = "Bean"
)

// Strategy and task-type states.
const (
	StsResume = "resume"
	StsPause  = "pause"
)
