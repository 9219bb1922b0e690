package zkstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// TestDefaultConfig pins every documented default.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	assert.Equal(t, 10*time.Second, d.SessionTimeout)
	assert.Equal(t, 15*time.Second, d.ConnectTimeout)
	assert.Equal(t, time.Minute, d.CalibrationInterval)
	assert.Equal(t, time.Second, d.ClockDriftWarning)
	assert.Nil(t, d.Auth)
	assert.Nil(t, d.Dialer)
	assert.Empty(t, d.Servers)
	assert.Empty(t, d.Root)

	// Zero fields mean the defaults.
	got := Config{Servers: []string{"zk1"}, Root: "/app"}.withDefaults()
	want := d
	want.Servers, want.Root = []string{"zk1"}, "/app"
	assert.Equal(t, want, got)
	set := Config{SessionTimeout: 3 * time.Second, ConnectTimeout: time.Second, CalibrationInterval: time.Hour, ClockDriftWarning: time.Millisecond}
	assert.Equal(t, set, set.withDefaults(), "set fields are kept")
}

func TestConfigValidate(t *testing.T) {
	valid := Config{Servers: []string{"zk1:2181", "zk2", "[::1]:2181"}, Root: "/orders-app/prod", Auth: Digest("app", "pw")}
	require.NoError(t, valid.Validate())
	require.NoError(t, Config{Servers: []string{"127.0.0.1:2181"}, Root: "/a"}.Validate())

	tests := []struct {
		name  string
		cfg   Config
		wants []string // every problem, each naming its field
	}{
		{"empty", Config{}, []string{"Config.Servers must list", "Config.Root", "must not be empty"}},
		{"bad servers", Config{Servers: []string{"", "a b:1", "zk1:2181,zk2:2181", "host:"}, Root: "/a"},
			[]string{"Servers[0]", "Servers[1]", "Servers[2]", "Servers[3]"}},
		{"root /", Config{Servers: []string{"zk"}, Root: "/"}, []string{`Config.Root ("/")`}},
		{"relative root", Config{Servers: []string{"zk"}, Root: "app"}, []string{`must start with "/"`}},
		{"trailing slash", Config{Servers: []string{"zk"}, Root: "/app/"}, []string{`must not end with "/"`}},
		{"empty element", Config{Servers: []string{"zk"}, Root: "/a//b"}, []string{"invalid element"}},
		{"dot element", Config{Servers: []string{"zk"}, Root: "/a/../b"}, []string{"invalid element"}},
		{"control char", Config{Servers: []string{"zk"}, Root: "/a\x01"}, []string{"control characters"}},
		{"negative durations", Config{Servers: []string{"zk"}, Root: "/a", SessionTimeout: -1, ConnectTimeout: -1,
			CalibrationInterval: -1, ClockDriftWarning: -1},
			[]string{"Config.SessionTimeout", "Config.ConnectTimeout", "Config.CalibrationInterval", "Config.ClockDriftWarning"}},
		{"too small", Config{Servers: []string{"zk"}, Root: "/a", SessionTimeout: time.Millisecond, CalibrationInterval: time.Millisecond},
			[]string{"SessionTimeout (1ms) must be at least 100ms", "CalibrationInterval (1ms) must be at least 1s"}},
		{"bad auth", Config{Servers: []string{"zk"}, Root: "/a", Auth: &DigestAuth{User: "a:b"}},
			[]string{"Config.Auth.User", "Config.Auth.Password"}},
		{"empty auth user", Config{Servers: []string{"zk"}, Root: "/a", Auth: &DigestAuth{Password: "x"}},
			[]string{"Config.Auth.User must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			require.Error(t, err)
			assert.ErrorIs(t, err, schedule.ErrInvalid)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
			var joined interface{ Unwrap() []error }
			if errors.As(err, &joined) {
				for _, e := range joined.Unwrap() {
					assert.ErrorIs(t, e, schedule.ErrInvalid, "each problem wraps ErrInvalid")
					assert.Contains(t, e.Error(), "zkstore: Config.", "each problem names its field")
				}
			}
		})
	}
}

func TestDigestHidesPassword(t *testing.T) {
	d := Digest("app", "top-secret")
	assert.Equal(t, "app", d.User)
	assert.Equal(t, "top-secret", d.Password)
	assert.NotContains(t, d.String(), "top-secret")
	assert.True(t, strings.HasPrefix(d.String(), "digest(app:"))
	var nilAuth *DigestAuth
	assert.Equal(t, "<nil>", nilAuth.String())
}

func TestAuthACL(t *testing.T) {
	acl := aclFor(nil)
	require.Len(t, acl, 1)
	assert.Equal(t, "world", acl[0].Scheme)
	acl = aclFor(Digest("app", "pw"))
	require.Len(t, acl, 2)
	assert.Equal(t, "digest", acl[0].Scheme)
	assert.True(t, strings.HasPrefix(acl[0].ID, "app:"))
	assert.Equal(t, "world", acl[1].Scheme)
	assert.Equal(t, "anyone", acl[1].ID)
}
