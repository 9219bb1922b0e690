package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
)

// probe is one answer of the factory's health handler.
type probe struct {
	code int
	body struct {
		Status     string   `json:"status"`
		Reasons    []string `json:"reasons"`
		Session    string   `json:"session"`
		Strategies []struct {
			Name     string `json:"name"`
			Managers []struct {
				Session string `json:"session"`
				Owned   int    `json:"owned"`
			} `json:"managers"`
		} `json:"strategies"`
	}
}

func (p probe) String() string {
	return fmt.Sprintf("%d %s session %s reasons %q", p.code, p.body.Status, p.body.Session, p.body.Reasons)
}

func getProbe(t *testing.T, h http.Handler, path string) probe {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var p probe
	p.code = rec.Code
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p.body), "%s: %s", path, rec.Body.String())
	return p
}

// A factory running a thread group on real ZooKeeper, its connection
// blackholed and healed: /readyz goes ready → not ready (naming the
// session) → ready, while /healthz stays alive throughout (the loop keeps
// waking; restarting the process would not help).
func TestHealthReadyzFollowsBlackholedSession(t *testing.T) {
	c := zktest.Shared(t)
	b := zkBackend(t, c)
	ctx := context.Background()
	admin := strategy.NewAdmin(b.open(t), strategy.AdminConfig{})
	_, err := admin.ApplyTaskType(ctx, testTaskType("health", 4))
	require.NoError(t, err)
	s := schedule.DefaultStrategy("health-s")
	s.TaskName, s.AssignNum = "health", 1
	_, err = admin.ApplyStrategy(ctx, s)
	require.NoError(t, err)

	proxy := c.NewProxy(t)
	r := startFactoryOn(t, b, openZK(t, c, proxy.Servers(), b.root), "h", nil)
	h := r.f.Health()
	var last probe
	readyWithItems := func() bool {
		last = getProbe(t, h, "/readyz")
		st := last.body.Strategies
		return last.code == http.StatusOK && len(st) == 1 && len(st[0].Managers) == 1 && st[0].Managers[0].Owned == 4
	}
	require.Eventually(t, readyWithItems, 30*time.Second, 10*time.Millisecond, "ready, owning the 4 items: %v", &last)
	assert.Equal(t, "ok", last.body.Status)
	assert.Empty(t, last.body.Reasons)
	assert.Equal(t, http.StatusOK, getProbe(t, h, "/healthz").code)

	proxy.Blackhole()
	require.Eventually(t, func() bool {
		last = getProbe(t, h, "/readyz")
		return last.code == http.StatusServiceUnavailable
	}, 30*time.Second, 10*time.Millisecond, "not ready once blackholed: %v", &last)
	t.Logf("blackholed: /readyz %v", &last)
	assert.Equal(t, "fail", last.body.Status)
	assert.True(t, hasPrefix(last.body.Reasons, "session "), "a reason names the session: %v", &last)
	live := getProbe(t, h, "/healthz")
	assert.Equal(t, http.StatusOK, live.code, "alive while cut off: %v", live)

	proxy.Pass()
	require.Eventually(t, readyWithItems, 30*time.Second, 10*time.Millisecond, "ready again after the heal: %v", &last)
	assert.Equal(t, "connected", last.body.Session)
	assert.Equal(t, http.StatusOK, getProbe(t, h, "/healthz").code)

	r.stop(t)
	p := getProbe(t, h, "/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, p.code, "Run returned: %v", p)
	assert.Contains(t, p.body.Reasons, "factory stopped")
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
