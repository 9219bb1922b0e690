package strategy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// Pausing or resuming a task type, or editing its items, must not restart
// its managers: a running manager picks those up itself. Any other edit
// restarts them.
func TestTaskTypeKeyIgnoresStsAndItems(t *testing.T) {
	tt := schedule.DefaultTaskType("t")
	tt.DealBeanName, tt.TaskItems = "d", []string{"0", "1"}
	paused := tt
	paused.Sts = schedule.StsPause
	assert.Equal(t, taskTypeKey(tt), taskTypeKey(paused), "sts")
	more := tt
	more.TaskItems = []string{"0", "1", "2"}
	assert.Equal(t, taskTypeKey(tt), taskTypeKey(more), "items")
	threads := tt
	threads.ThreadNumber++
	assert.NotEqual(t, taskTypeKey(tt), taskTypeKey(threads), "threads")
}
