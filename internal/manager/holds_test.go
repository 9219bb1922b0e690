package manager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
)

func TestClusterHolds(t *testing.T) {
	local := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	cluster := local.Add(-3 * time.Second) // this host runs 3s ahead
	holds := []schedule.ServerHold{
		{Server: "b$1", Items: 2, Until: schedule.Time{Time: local.Add(5 * time.Second)}},
		{Server: "a$1", HostName: "h", Items: 1, Until: schedule.Time{Time: local.Add(time.Second)}},
	}
	got := clusterHolds(holds, local, cluster)
	assert.Equal(t, []schedule.ServerHold{
		{Server: "a$1", HostName: "h", Items: 1, Until: schedule.Time{Time: cluster.Add(time.Second)}},
		{Server: "b$1", Items: 2, Until: schedule.Time{Time: cluster.Add(5 * time.Second)}},
	}, got)
	assert.Equal(t, local.Add(5*time.Second), holds[0].Until.Time, "the input is not changed")
	assert.Nil(t, clusterHolds(nil, local, cluster))
}

func TestSameHolds(t *testing.T) {
	at := schedule.Time{Time: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	later := schedule.Time{Time: at.Add(time.Second)}
	for _, tc := range []struct {
		name     string
		pub, cur []schedule.ServerHold
		want     bool
	}{
		{"both empty", nil, nil, true},
		{"ends differ only", []schedule.ServerHold{{Server: "a", Items: 1, Until: at}}, []schedule.ServerHold{{Server: "a", Items: 1, Until: later}}, true},
		{"a hold began", nil, []schedule.ServerHold{{Server: "a", Items: 1}}, false},
		{"a hold ended", []schedule.ServerHold{{Server: "a", Items: 1}}, nil, false},
		{"other server", []schedule.ServerHold{{Server: "a", Items: 1}}, []schedule.ServerHold{{Server: "b", Items: 1}}, false},
		{"items changed", []schedule.ServerHold{{Server: "a", Items: 2}}, []schedule.ServerHold{{Server: "a", Items: 1}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, sameHolds(tc.pub, tc.cur)) })
	}
}
