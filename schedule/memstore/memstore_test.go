package memstore_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tbschedule/tbschedule-go/schedule/memstore"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/schedule/storekit/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rawPath maps a storetest target to memstore's layout (see doc.go).
func rawPath(t testing.TB, target storetest.RawTarget) string {
	t.Helper()
	switch target.Kind {
	case "taskType":
		return "/baseTaskType/" + target.Name
	case "strategy":
		return "/strategy/" + target.Name
	case "server", "item":
		base, _, _ := strings.Cut(target.Runtime, "$")
		dir := map[string]string{"server": "server", "item": "taskItem"}[target.Kind]
		return "/baseTaskType/" + base + "/" + target.Runtime + "/" + dir + "/" + target.Name
	case "strategyRuntime":
		return "/strategy/" + target.Name
	case "factoryState":
		return "/factoryState/" + target.Name
	}
	t.Fatalf("unknown raw target kind %q", target.Kind)
	return ""
}

// harness adapts one memstore Server, with a digest, to the suite.
func harness(name string) storetest.Harness {
	srv := memstore.New(memstore.Config{Auth: &memstore.DigestAuth{User: "app", Password: "secret"}})
	var mu sync.Mutex
	var clients []*memstore.Client
	connect := func(t testing.TB, cfg memstore.ClientConfig) storekit.Store {
		c := srv.Connect(cfg)
		mu.Lock()
		clients = append(clients, c)
		mu.Unlock()
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	return storetest.Harness{
		Name: name,
		NewClient: func(t testing.TB) storekit.Store {
			return connect(t, memstore.ClientConfig{Auth: &memstore.DigestAuth{User: "app", Password: "secret"}})
		},
		NewClientWithoutAuth: func(t testing.TB) storekit.Store { return connect(t, memstore.ClientConfig{}) },
		Expire:               func(t testing.TB, s storekit.Store) { srv.ExpireSession(s.(*memstore.Client)) },
		WriteRaw: func(t testing.TB, target storetest.RawTarget, data []byte) {
			require.NoError(t, srv.WriteRaw(rawPath(t, target), data))
		},
		ReadRaw: func(t testing.TB, target storetest.RawTarget) []byte {
			n, err := srv.ReadRaw(rawPath(t, target))
			require.NoError(t, err)
			return n.Data
		},
		Disrupt: func(t testing.TB) func() {
			mu.Lock()
			cut := append([]*memstore.Client(nil), clients...)
			mu.Unlock()
			for _, c := range cut {
				c.Disconnect(memstore.DefaultSessionTimeout / 2)
			}
			return func() {
				for _, c := range cut {
					c.Reconnect()
				}
			}
		},
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, harness("memstore"))
}
