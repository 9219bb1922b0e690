package console

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestChangesNeedTokenAndOrigin: a change without the session's CSRF
// token, with a wrong one, or from another site is refused (403) and runs
// nothing, although the session cookie came with it.
func TestChangesNeedTokenAndOrigin(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("op", "op-password")
	for name, edit := range map[string]func(*http.Request){
		"no token":                  func(r *http.Request) { r.Header.Del("X-CSRF-Token") },
		"wrong token":               func(r *http.Request) { r.Header.Set("X-CSRF-Token", "forged") },
		"cross-site":                func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"same-site, another origin": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") },
		"Origin of another host":    func(r *http.Request) { r.Header.Del("Sec-Fetch-Site"); r.Header.Set("Origin", "http://evil.example") },
		"cross-site form, no token": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site"); r.Header.Del("X-CSRF-Token") },
	} {
		resp, body := c.post("/api/pause", `{"name":"s1"}`, edit)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "refused") {
			t.Errorf("%s: %d %s, want 403 refused", name, resp.StatusCode, body)
		}
	}
	if w := s.b.writes(); len(w) != 0 {
		t.Errorf("refused requests ran commands: %q", w)
	}
	if resp, body := c.post("/api/pause", `{"name":"s1"}`, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a proper change: %d %s", resp.StatusCode, body)
	}
}

// TestChangesArePostOnlyAndJSON: a GET of a change's URL is not allowed,
// and a body that is not application/json (what a cross-site form can
// send) is refused.
func TestChangesArePostOnlyAndJSON(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("op", "op-password")
	if resp, _ := c.get("/api/pause?name=s1"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/pause: %d, want 405", resp.StatusCode)
	}
	resp, body := c.post("/api/pause", `{"name":"s1"}`, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") })
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "application/json") {
		t.Errorf("text/plain body: %d %s, want 400", resp.StatusCode, body)
	}
	if w := s.b.writes(); len(w) != 0 {
		t.Errorf("commands ran: %q", w)
	}
}

// TestViewerIsRefusedChanges: a viewer reads every page and view, and
// every change is refused with 403 naming the role, running nothing.
func TestViewerIsRefusedChanges(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("vi", "vi-password")
	for _, p := range append(pages, apis...) {
		if resp, body := c.get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("viewer GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/api/preview", "/api/save", "/api/pause", "/api/resume", "/api/factory/stop", "/api/factory/start",
		"/api/factory/drain", "/api/delete", "/api/import"} {
		resp, body := c.post(p, `{"name":"s1","kind":"strategy","doc":"{\"strategyName\":\"s1\"}","version":1}`, nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `\"vi\" is a viewer`) {
			t.Errorf("viewer POST %s: %d %s, want 403", p, resp.StatusCode, body)
		}
	}
	if w := s.b.writes(); len(w) != 0 {
		t.Errorf("a viewer ran commands: %q", w)
	}
}

// TestRefusalIsShownAndAudited: when the command is refused (by the store
// or its own rules), the answer is 422 with its message, never "ok", and
// the audit record says it failed.
func TestRefusalIsShownAndAudited(t *testing.T) {
	s := newSite(t)
	s.b.write = Result{Err: "tbsctl: pause strategy \"s1\": zk: not authenticated\n", Code: 1}
	c := s.client()
	c.login("op", "op-password")
	resp, body := c.post("/api/pause", `{"name":"s1"}`, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not authenticated") || strings.Contains(body, `"ok":true`) {
		t.Fatalf("refused pause: %d %s", resp.StatusCode, body)
	}
	var rec auditRecord
	if err := json.Unmarshal(s.audit.Bytes(), &rec); err != nil {
		t.Fatalf("audit log %q: %v", s.audit.String(), err)
	}
	if rec.OK || rec.User != "op" || rec.Action != "pause" || rec.Target != "s1" || rec.Result.Code != 1 {
		t.Errorf("audit record %+v", rec)
	}
}

// TestAuditRecord: a change is recorded with who, what, and the object
// before and after.
func TestAuditRecord(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("op", "op-password")
	if resp, body := c.post("/api/save", `{"kind":"strategy","doc":"{\"strategyName\":\"s1\",\"assignNum\":2}","version":3}`, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %d %s", resp.StatusCode, body)
	}
	var rec auditRecord
	if err := json.Unmarshal(s.audit.Bytes(), &rec); err != nil {
		t.Fatalf("audit log %q: %v", s.audit.String(), err)
	}
	if !rec.OK || rec.User != "op" || rec.Role != RoleOperator || rec.Action != "save strategy" || rec.Target != "s1" ||
		!strings.Contains(rec.Input, `"assignNum":2`) || rec.Before != `version 3: {"strategyName":"s1"}` || rec.After == "" || rec.At.IsZero() {
		t.Errorf("audit record %+v", rec)
	}
}

// TestNamesCannotBeFlags: a name that tbsctl would read as a flag
// ("--force") or an empty one is refused before any command runs.
func TestNamesCannotBeFlags(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("op", "op-password")
	for _, tc := range []struct{ path, body string }{
		{"/api/pause", `{"name":"--force"}`},
		{"/api/factory/stop", `{"name":"-zk=evil:2181"}`},
		{"/api/delete", `{"kind":"strategy","name":"-force"}`},
		{"/api/delete", `{"kind":"node","name":"s1"}`},
		{"/api/resume", `{"name":" "}`},
		{"/api/import", `{"doc":"{}","timeZone":"--force"}`},
		{"/api/save", `{"kind":"taskType","doc":"{\"baseTaskType\":\"-x\"}","version":1}`},
		{"/api/pause", `{"name":"s1","extra":1}`},
	} {
		if resp, body := c.post(tc.path, tc.body, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: %d %s, want 400", tc.path, tc.body, resp.StatusCode, body)
		}
	}
	if w := s.b.writes(); len(w) != 0 {
		t.Errorf("commands ran: %q", w)
	}
}

// TestChangesRunTheCommands: each change runs the tbsctl command of the
// same meaning, the factory's reason naming the user.
func TestChangesRunTheCommands(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("op", "op-password")
	for _, tc := range []struct{ path, body string }{
		{"/api/pause", `{"name":"s1"}`},
		{"/api/run-now", `{"name":"t1"}`},
		{"/api/factory/stop", `{"name":"10.0.0.1$w1","reason":"kernel"}`},
		{"/api/delete", `{"kind":"taskType","name":"t1","force":true}`},
		{"/api/import", `{"doc":"x","format":"java","timeZone":"Asia/Shanghai","dryRun":true}`},
		{"/api/preview", `{"kind":"strategy","doc":"{\"strategyName\":\"s1\"}","version":3}`},
	} {
		if resp, body := c.post(tc.path, tc.body, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
	}
	want := []string{"pause s1", "run-now t1 --by console user op", "stop 10.0.0.1$w1 --reason kernel (console user op)", "delete taskType t1 --force",
		"import -f - --format java --time-zone Asia/Shanghai --dry-run", "apply -f - --dry-run"}
	got := s.b.writes()
	if len(got) != len(want) {
		t.Fatalf("commands %q, want %q", got, want)
	}
	for i := range want {
		if strings.Join(got[i], " ") != want[i] {
			t.Errorf("command %d: %q, want %q", i, strings.Join(got[i], " "), want[i])
		}
	}
}
