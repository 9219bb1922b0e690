package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestClusterHolds(t *testing.T) {
	local := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	cluster := local.Add(-3 * time.Second) // this host runs 3s ahead
	holds := []ServerHold{
		{Server: "b$1", Items: 2, Until: Time{local.Add(5 * time.Second)}},
		{Server: "a$1", HostName: "h", Items: 1, Until: Time{local.Add(time.Second)}},
	}
	got := clusterHolds(holds, local, cluster)
	assert.Equal(t, []ServerHold{
		{Server: "a$1", HostName: "h", Items: 1, Until: Time{cluster.Add(time.Second)}},
		{Server: "b$1", Items: 2, Until: Time{cluster.Add(5 * time.Second)}},
	}, got)
	assert.Equal(t, local.Add(5*time.Second), holds[0].Until.Time, "the input is not changed")
	assert.Nil(t, clusterHolds(nil, local, cluster))
}

func TestSameHolds(t *testing.T) {
	at := Time{time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	later := Time{at.Add(time.Second)}
	for _, tc := range []struct {
		name     string
		pub, cur []ServerHold
		want     bool
	}{
		{"both empty", nil, nil, true},
		{"ends differ only", []ServerHold{{Server: "a", Items: 1, Until: at}}, []ServerHold{{Server: "a", Items: 1, Until: later}}, true},
		{"a hold began", nil, []ServerHold{{Server: "a", Items: 1}}, false},
		{"a hold ended", []ServerHold{{Server: "a", Items: 1}}, nil, false},
		{"other server", []ServerHold{{Server: "a", Items: 1}}, []ServerHold{{Server: "b", Items: 1}}, false},
		{"items changed", []ServerHold{{Server: "a", Items: 2}}, []ServerHold{{Server: "a", Items: 1}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, sameHolds(tc.pub, tc.cur)) })
	}
}
