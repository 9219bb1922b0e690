package manager

import (
	"cmp"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// withDefaults returns c with every zero field set to its default, as
// schedule.DefaultManagerConfig spells them (the one place they are
// written). Negative "none" values are kept, so it is idempotent.
// FenceAfter and LockDelay keep their zero, whose default depends on the
// session; ResyncInterval keeps its zero, whose default is the task type's
// (resyncInterval).
func withDefaults(c schedule.ManagerConfig) schedule.ManagerConfig {
	d := schedule.DefaultManagerConfig()
	c.IP = cmp.Or(c.IP, d.IP)
	c.HostName = cmp.Or(c.HostName, d.HostName)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, d.ShutdownTimeout)
	c.CancelGrace = cmp.Or(c.CancelGrace, d.CancelGrace)
	c.StopTimeout = cmp.Or(c.StopTimeout, d.StopTimeout)
	c.WriteParallelism = cmp.Or(c.WriteParallelism, d.WriteParallelism)
	return c
}

// resyncInterval is the ResyncInterval of a manager of tt under c.
func resyncInterval(c schedule.ManagerConfig, tt schedule.TaskType) time.Duration {
	if c.ResyncInterval == 0 {
		return tt.JudgeDeadInterval
	}
	return c.ResyncInterval
}
