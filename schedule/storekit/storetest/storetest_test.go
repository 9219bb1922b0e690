package storetest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSamplesAreValid(t *testing.T) {
	require.NoError(t, storetest.SampleTaskType("orders").Validate())
	require.NoError(t, storetest.SampleStrategy("orders-s", "orders$TEST").Validate())

	rec := storetest.SampleServer("orders$TEST", "10.0.0.1")
	assert.Equal(t, "orders$TEST", rec.TaskType)
	assert.Equal(t, "orders", rec.BaseTaskType)
	assert.Equal(t, "TEST", rec.OwnSign)
	assert.Equal(t, schedule.DefaultOwnSign, storetest.SampleServer("orders", "10.0.0.1").OwnSign)
	assert.NoError(t, schedule.ValidateName(schedule.NameHost, rec.HostName))
	assert.Zero(t, rec.RegisterTime.Nanosecond()%1e6, "sample times are whole milliseconds")

	f := storetest.SampleFactory("10.0.0.1", "host-1")
	assert.Equal(t, "10.0.0.1", f.IP)
	assert.Equal(t, "host-1", f.HostName)
	assert.Empty(t, f.ProcessUUID)
}
