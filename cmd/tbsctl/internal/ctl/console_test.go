package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tbschedule/tbschedule-go/cmd/tbsctl/internal/ctl"
)

// urlWatcher is the console's standard output: it hands over the address
// the console serves on.
type urlWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
	ch   chan string
}

var servingRE = regexp.MustCompile(`serving root \S+ on (http://\S+)/`)

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := servingRE.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.ch <- m[1]
	}
	return len(p), nil
}

// consoleClient is a logged-in operator of a console running in-process
// on the env's root.
type consoleClient struct {
	t     *testing.T
	base  string
	http  *http.Client
	csrf  string
	audit string
}

func (e *env) startConsole() *consoleClient {
	t := e.t
	// The lowest cost: bcrypt under the race detector is slow.
	hash, err := bcrypt.GenerateFromPassword([]byte("op-password"), bcrypt.MinCost)
	require.NoError(t, err)
	vars := map[string]string{ctl.EnvZK: e.servers, ctl.EnvRoot: e.root, ctl.EnvConsoleUsers: "op:operator:" + string(hash)}
	for k, v := range e.vars {
		vars[k] = v
	}
	audit := filepath.Join(t.TempDir(), "audit.log")
	ctx, cancel := context.WithCancel(context.Background())
	w := &urlWatcher{ch: make(chan string, 1)}
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- ctl.Main(ctx, []string{"console", "-addr", "127.0.0.1:0", "-audit", audit}, ctl.IO{Out: w, Err: &errb, Getenv: func(k string) string { return vars[k] }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var base string
	select {
	case base = <-w.ch:
	case code := <-done:
		t.Fatalf("tbsctl console exited with %d: %s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("tbsctl console did not start serving in 30 s")
	}
	jar, _ := cookiejar.New(nil)
	c := &consoleClient{t: t, base: base, http: &http.Client{Jar: jar}, audit: audit}
	resp, err := c.http.PostForm(base+"/login", url.Values{"user": {"op"}, "password": {"op-password"}})
	require.NoError(t, err)
	resp.Body.Close()
	var me struct{ CSRF string }
	require.NoError(t, json.Unmarshal([]byte(c.get("/api/me")), &me))
	c.csrf = me.CSRF
	return c
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (c *consoleClient) get(path string) string {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (c *consoleClient) post(path string, body any) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// object reads a stored object through the console: its document and
// version.
func (c *consoleClient) object(kind, name string) (map[string]any, int32) {
	var got struct {
		Doc     string
		Version int32
	}
	require.NoError(c.t, json.Unmarshal([]byte(c.get("/api/get?kind="+kind+"&name="+name)), &got))
	var doc map[string]any
	require.NoError(c.t, json.Unmarshal([]byte(got.Doc), &doc))
	return doc, got.Version
}

func docJSON(t *testing.T, doc map[string]any) string {
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return string(b)
}

// TestConsoleShowsStoreRefusal: on a tree whose ACL refuses the console's
// credentials, every change is answered 422 with ZooKeeper's refusal (never
// "ok"), nothing changes, and the audit log records the failure.
func TestConsoleShowsStoreRefusal(t *testing.T) {
	e := newEnv(t)
	e.vars[ctl.EnvAuth] = "owner:owner-pw-1"
	e.ok("apply", "-f", file(t, "c.yaml", runtimeYAML))
	delete(e.vars, ctl.EnvAuth) // the console runs without credentials
	c := e.startConsole()

	code, body := c.post("/api/pause", map[string]any{"name": "orders-base"})
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "permission denied")
	assert.NotContains(t, body, `"ok":true`)

	doc, v := c.object("strategy", "orders-base")
	doc["assignNum"] = 5.0
	code, body = c.post("/api/save", map[string]any{"kind": "strategy", "doc": docJSON(t, doc), "version": v})
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "permission denied")

	got := e.ok("get", "strategy", "orders-base")
	assert.Contains(t, got, `"sts": "resume"`)
	assert.Contains(t, got, `"assignNum": 2`)
	audit, err := os.ReadFile(c.audit)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(audit), `"ok":false`), "%s", audit)
}

// TestConsolePutIsCompareAndSet: a form saved at a version that is no
// longer current is refused with the difference, never written; a new
// object that exists is refused; an edit keeps the stored sts.
func TestConsolePutIsCompareAndSet(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "c.yaml", runtimeYAML))
	c := e.startConsole()
	doc, v := c.object("strategy", "orders-base")
	delete(doc, "sts")
	e.ok("apply", "-f", file(t, "c2.yaml", strings.Replace(runtimeYAML, "assignNum: 2", "assignNum: 3", 1)))

	doc["assignNum"] = 4.0
	code, body := c.post("/api/save", map[string]any{"kind": "strategy", "doc": docJSON(t, doc), "version": v})
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, `strategy \"orders-base\" was changed by someone else since you loaded it`)
	assert.Contains(t, e.ok("get", "strategy", "orders-base"), `"assignNum": 3`)

	code, body = c.post("/api/save", map[string]any{"kind": "strategy", "doc": docJSON(t, doc), "version": -1})
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "exists already")

	e.ok("pause", "orders-base")
	_, v = c.object("strategy", "orders-base")
	code, body = c.post("/api/save", map[string]any{"kind": "strategy", "doc": docJSON(t, doc), "version": v})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "assignNum 3 -\\u003e 4")
	got := e.ok("get", "strategy", "orders-base")
	assert.Contains(t, got, `"assignNum": 4`)
	assert.Contains(t, got, `"sts": "pause"`, "an edit without sts resumed the strategy")

	doc["assignNum"] = -1.0
	code, body = c.post("/api/save", map[string]any{"kind": "strategy", "doc": docJSON(t, doc), "version": v + 1})
	assert.Equal(t, http.StatusUnprocessableEntity, code, body)
	assert.Contains(t, body, "assignNum", "apply's validation names the field")
}

// TestConsoleNeverShowsAuth: no page, view, export or error message of the
// console holds the password of TBSCTL_AUTH.
func TestConsoleNeverShowsAuth(t *testing.T) {
	e := newEnv(t)
	e.vars[ctl.EnvAuth] = "ops:secret-pw-9"
	e.ok("apply", "-f", file(t, "c.yaml", runtimeYAML))
	e.vars[ctl.EnvAuth] = "ops:other-secret-7" // refused by the ACL: errors name the user
	c := e.startConsole()
	var all strings.Builder
	for _, p := range []string{"/", "/strategies", "/tree", "/api/me", "/api/status", "/api/doctor", "/api/factories", "/api/strategies",
		"/api/tree", "/api/get?kind=strategy&name=orders-base", "/api/events?taskType=orders", "/api/export?format=ours", "/api/export?format=java", "/static/app.js"} {
		all.WriteString(c.get(p))
	}
	_, body := c.post("/api/pause", map[string]any{"name": "orders-base"})
	all.WriteString(body)
	assert.Contains(t, body, `digest user \"ops\"`, "the refusal names the user")
	assert.Contains(t, all.String(), "orders-base")
	for _, secret := range []string{"secret-pw-9", "other-secret-7"} {
		assert.NotContains(t, all.String(), secret)
	}
	audit, err := os.ReadFile(c.audit)
	require.NoError(t, err)
	assert.NotContains(t, string(audit), "other-secret-7")
}

// TestConsoleDefaults: the console listens on loopback unless told
// otherwise, and needs a ZooKeeper and a root like every command.
func TestConsoleDefaults(t *testing.T) {
	var out, errb bytes.Buffer
	code := ctl.Main(context.Background(), []string{"help", "console"}, ctl.IO{Out: &out, Err: &errb})
	require.Equal(t, ctl.ExitOK, code, errb.String())
	assert.Regexp(t, `-addr string\n.*\n?.*\(default "127\.0\.0\.1:7070"\)`, out.String())
	out.Reset()
	code = ctl.Main(context.Background(), []string{"console"}, ctl.IO{Out: &out, Err: &errb})
	assert.Equal(t, ctl.ExitUsage, code)
	assert.Contains(t, errb.String(), "no ZooKeeper servers")
}

// TestConsoleExportImport: the console exports in the Java console's
// format and imports it back with import's report, object by object.
func TestConsoleExportImport(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "c.yaml", runtimeYAML))
	c := e.startConsole()
	java := c.get("/api/export?format=java")
	assert.Contains(t, java, `"configType"`)
	code, body := c.post("/api/import", map[string]any{"doc": java, "format": "java", "timeZone": "UTC", "dryRun": true})
	require.Equal(t, http.StatusOK, code, body)
	for _, want := range []string{"importing 2 object(s) (java format", "taskType orders: unchanged", "strategy orders-base: unchanged", "dry run: nothing was written"} {
		assert.Contains(t, body, want)
	}

	ours := strings.Replace(c.get("/api/export?format=ours"), `"assignNum": 2`, `"assignNum": 3`, 1)
	code, body = c.post("/api/import", map[string]any{"doc": ours})
	assert.Equal(t, http.StatusUnprocessableEntity, code, "a differing object is skipped without force: %s", body)
	assert.Contains(t, body, "orders-base")
	assert.Contains(t, e.ok("get", "strategy", "orders-base"), `"assignNum": 2`)
	code, body = c.post("/api/import", map[string]any{"doc": ours, "force": true})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "strategy orders-base: updated")
	assert.Contains(t, e.ok("get", "strategy", "orders-base"), `"assignNum": 3`)
}

// consoleEvents reads a task type's recent events through the console, as
// its task type page does: the data first, then the events.
type consoleEvents struct {
	Since  *time.Time
	Events []struct {
		At      time.Time
		After   *time.Time
		OwnSign string
		Kind    string
		Text    string
		Source  string
	}
}

func (c *consoleClient) events(taskType string) consoleEvents {
	c.t.Helper()
	c.get("/api/status")
	c.get("/api/get?kind=taskType&name=" + taskType)
	var ev consoleEvents
	body := c.get("/api/events?taskType=" + taskType)
	require.NoError(c.t, json.Unmarshal([]byte(body), &ev), body)
	return ev
}

// has reports whether an event of the source holds every part.
func (ev consoleEvents) has(source string, parts ...string) bool {
	for _, e := range ev.Events {
		if e.Source != source {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(e.Kind+": "+e.Text, p)
		}
		if all {
			return true
		}
	}
	return false
}

func (ev consoleEvents) String() string {
	var b strings.Builder
	for _, e := range ev.Events {
		fmt.Fprintf(&b, "%s %s %s %s: %s\n", e.At.Format("15:04:05.000"), e.Source, e.OwnSign, e.Kind, e.Text)
	}
	return b.String()
}

// TestConsoleRecentEvents: the task type page's recent events are the
// changes the console saw in the tree between its reads (a process
// joins, the items are granted to it, a strategy paused, the task type
// edited behind its back) and the changes made through it, marked as such.
func TestConsoleRecentEvents(t *testing.T) {
	e := newEnv(t)
	e.ok("apply", "-f", file(t, "c.yaml", runtimeYAML))
	c := e.startConsole()
	ev := c.events("orders")
	require.NotNil(t, ev.Since, "the first look starts the list")
	assert.Empty(t, ev.Events, "the first look is no change: %s", ev)

	e.startFactory("10.0.0.1", "worker-1") // two thread groups (assignNum 2), three items each
	waitFor(t, 30*time.Second, "the console saw the servers join and the items granted", func() bool {
		ev = c.events("orders")
		return ev.has("seen", "server-join: server worker-1#", "(process worker-1#f") && ev.has("seen", "grant: granted 3 items to worker-1#")
	})

	code, body := c.post("/api/pause", map[string]any{"name": "orders-base"})
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, 30*time.Second, "the console saw the pause and the items released", func() bool {
		ev = c.events("orders")
		return ev.has("seen", "paused: strategy orders-base paused") && ev.has("seen", "release: worker-1#", "released 3 items (now unassigned)")
	})
	assert.True(t, ev.has("audit", "console change: op (operator) through this console: pause orders-base: done"), "%s", ev)

	e.ok("apply", "-f", file(t, "c2.yaml", strings.Replace(runtimeYAML, "threadNumber: 1", "threadNumber: 3", 1)))
	waitFor(t, 10*time.Second, "the console saw the edit", func() bool {
		ev = c.events("orders")
		return ev.has("seen", "edit: configuration changed (version 0 -> 1): threadNumber 1 -> 3")
	})
	// A refused change is listed as refused (orders has no permit window).
	code, body = c.post("/api/run-now", map[string]any{"name": "orders"})
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	ev = c.events("orders")
	assert.True(t, ev.has("audit", "run-now orders: REFUSED: tbsctl: run-now: ", "has no permit window"), "%s", ev)
	assert.Contains(t, c.get("/api/status"), `"itemsStamp"`, "status gives the items stamp the console compares")
	for i := 1; i < len(ev.Events); i++ {
		assert.False(t, ev.Events[i].At.After(ev.Events[i-1].At), "newest first:\n%s", ev)
	}
	assert.Contains(t, c.get("/static/app.js"), "Changes this console saw since ${hhmm(ev.since)} (not the processes' own event history; see each process's /events)")
}
