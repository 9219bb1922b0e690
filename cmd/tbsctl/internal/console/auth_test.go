package console

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var pages = []string{"/", "/tasktype/orders", "/strategies", "/factories", "/tree", "/edit/taskType/orders", "/new/strategy", "/transfer"}

var apis = []string{"/api/me", "/api/status", "/api/doctor", "/api/factories", "/api/strategies", "/api/tree",
	"/api/get?kind=strategy&name=s1", "/api/export?format=ours", "/api/template?kind=taskType", "/api/events?taskType=orders"}

// TestEverythingButLoginNeedsASession: pages send to the login page, the
// API answers 401, and no command runs.
func TestEverythingButLoginNeedsASession(t *testing.T) {
	s := newSite(t)
	c := s.client()
	for _, p := range pages {
		resp, _ := c.get(p)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s without a session: %d %s, want 303 to /login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, p := range apis {
		if resp, _ := c.get(p); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %d, want 401", p, resp.StatusCode)
		}
	}
	if resp, _ := c.post("/api/pause", `{"name":"s1"}`, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /api/pause without a session: %d, want 401", resp.StatusCode)
	}
	for _, p := range []string{"/login", "/static/app.js", "/static/style.css"} {
		if resp, _ := c.get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", p, resp.StatusCode)
		}
	}
	if len(s.b.calls) != 0 {
		t.Errorf("commands ran without a session: %q", s.b.calls)
	}
}

// TestSecurityHeaders: every response, logged in or not, carries the CSP
// (own scripts and styles only, no inline ones, no framing) and the other
// headers.
func TestSecurityHeaders(t *testing.T) {
	s := newSite(t)
	anon, op := s.client(), s.client()
	op.login("op", "op-password")
	check := func(what string, resp *http.Response) {
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", what, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows unsafe sources", what, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if h.Get(k) != v {
				t.Errorf("%s: %s is %q, want %q", what, k, h.Get(k), v)
			}
		}
	}
	for _, p := range []string{"/login", "/static/app.js", "/api/status", "/"} {
		r, _ := anon.get(p)
		check("anonymous GET "+p, r)
	}
	for _, p := range append(pages, apis...) {
		r, _ := op.get(p)
		check("GET "+p, r)
	}
	r, _ := op.post("/api/pause", `{"name":"s1"}`, nil)
	check("POST /api/pause", r)
}

// TestAssetsHaveNoInlineCode: the pages hold no inline script, no style
// attribute or element and no event handler attribute (the CSP would block
// them), and the scripts never parse data as HTML.
func TestAssetsHaveNoInlineCode(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	scriptTag := regexp.MustCompile(`(?i)<script[^>]*>`)
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := assets.ReadFile(p)
		switch {
		case strings.HasSuffix(p, ".html"):
			if m := inline.Find(b); m != nil {
				t.Errorf("%s has inline code: %q", p, m)
			}
			for _, m := range scriptTag.FindAll(b, -1) {
				if !bytes.Contains(m, []byte(` src="/static/`)) {
					t.Errorf("%s has a script not loaded from /static/: %q", p, m)
				}
			}
		case strings.HasSuffix(p, ".js"):
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
				if bytes.Contains(b, []byte(bad)) {
					t.Errorf("%s uses %s", p, bad)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoginCookie: a good login sets an HttpOnly, SameSite=Strict session
// cookie; a wrong password sets none and says only that it was wrong; a
// login posted from another site is refused (login CSRF).
func TestLoginCookie(t *testing.T) {
	s := newSite(t)
	c := s.client()
	resp := c.login("op", "wrong-password")
	if loc := resp.Header.Get("Location"); loc != "/login?error=bad" || len(resp.Cookies()) != 0 {
		t.Errorf("wrong password: Location %q, cookies %v", loc, resp.Cookies())
	}
	resp = c.login("nobody", "op-password")
	if loc := resp.Header.Get("Location"); loc != "/login?error=bad" {
		t.Errorf("unknown user: Location %q, want the same answer as a wrong password", loc)
	}
	cross, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/login", strings.NewReader("user=op&password=op-password"))
	cross.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, _ = c.do(cross)
	if loc := resp.Header.Get("Location"); loc != "/login?error=origin" || len(resp.Cookies()) != 0 {
		t.Errorf("login posted from another site: Location %q, cookies %v", loc, resp.Cookies())
	}
	resp = c.login("op", "op-password")
	if len(resp.Cookies()) != 1 {
		t.Fatalf("login set %d cookies", len(resp.Cookies()))
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", ck)
	}
	if r, _ := c.get("/api/me"); r.StatusCode != http.StatusOK {
		t.Errorf("/api/me after login: %d", r.StatusCode)
	}
}

// TestLoginRateLimit: after 5 failures from an address within a minute
// even the right password is refused, until the minute has passed.
func TestLoginRateLimit(t *testing.T) {
	s := newSite(t)
	c := s.client()
	for range maxFailures {
		c.login("op", "wrong-password")
	}
	if loc := c.login("op", "op-password").Header.Get("Location"); loc != "/login?error=limited" {
		t.Fatalf("6th attempt: Location %q, want /login?error=limited", loc)
	}
	s.now = s.now.Add(failWindow)
	if loc := c.login("op", "op-password").Header.Get("Location"); loc != "/" {
		t.Fatalf("after the window: Location %q, want /", loc)
	}
}

func TestLoginAllowed(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		f    failures
		now  time.Time
		ok   bool
		wait time.Duration
	}{
		{"no failures", failures{}, t0, true, 0},
		{"4 failures", failures{first: t0, count: 4}, t0.Add(time.Second), true, 0},
		{"5 failures within the window", failures{first: t0, count: 5}, t0.Add(20 * time.Second), false, 40 * time.Second},
		{"5 failures, window over", failures{first: t0, count: 5}, t0.Add(failWindow), true, 0},
	} {
		ok, wait := loginAllowed(tc.f, tc.now)
		if ok != tc.ok || wait != tc.wait {
			t.Errorf("%s: loginAllowed = %v, %v; want %v, %v", tc.name, ok, wait, tc.ok, tc.wait)
		}
	}
	f := recordFailure(failures{}, t0)
	f = recordFailure(f, t0.Add(time.Second))
	if f != (failures{first: t0, count: 2}) {
		t.Errorf("two failures: %+v", f)
	}
	if f = recordFailure(f, t0.Add(failWindow)); f != (failures{first: t0.Add(failWindow), count: 1}) {
		t.Errorf("a failure after the window starts a new one: %+v", f)
	}
}

// TestSessionEnds: a session ends when idle for 30 minutes and on logout.
func TestSessionEnds(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("op", "op-password")
	s.now = s.now.Add(sessionIdle + time.Second)
	if r, _ := c.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("idle session: %d, want 401", r.StatusCode)
	}
	c.login("op", "op-password")
	if r, body := c.post("/logout", `{}`, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d %s", r.StatusCode, body)
	}
	if r, _ := c.get("/api/me"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", r.StatusCode)
	}
}

// TestOneTimePassword: without accounts the console prints a one-time
// password for the operator "admin", and it logs in.
func TestOneTimePassword(t *testing.T) {
	var out bytes.Buffer
	srv, err := newServer(Config{Backend: &fakeBackend{}, Out: &out}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`log in as "admin" with the one-time password (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no password printed: %q", out.String())
	}
	if u, ok := check(srv.cfg.Users, "admin", m[1]); !ok || u.Role != RoleOperator {
		t.Errorf("the printed password does not log in as an operator")
	}
}

func TestParseUsers(t *testing.T) {
	h := string(hashed(t, "pw-12345678"))
	users, err := ParseUsers("f", "# comment\nops:operator:"+h+"\n\neve:viewer:"+h)
	if err != nil || len(users) != 2 || users[1].Role != RoleViewer {
		t.Fatalf("ParseUsers = %v, %v", users, err)
	}
	_, err = ParseUsers("f", "a:admin:"+h+",b:viewer:plain,a:viewer:"+h+",c:viewer:"+h+",c:viewer:"+h+",nohash")
	for _, want := range []string{`user "a": role "admin" must be viewer or operator`, `user "b": the hash is not a bcrypt hash`,
		`user "c" is listed twice`, "entry 6: expected name:role:bcrypt-hash"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseUsers error %v lacks %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "plain") {
		t.Errorf("the error shows a hash: %v", err)
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("HashPassword accepted a 5-character password")
	}
}

func TestMeShowsNoSecret(t *testing.T) {
	s := newSite(t)
	c := s.client()
	c.login("op", "op-password")
	_, body := c.get("/api/me")
	var me map[string]any
	if err := json.Unmarshal([]byte(body), &me); err != nil {
		t.Fatal(err)
	}
	for k := range me {
		if k != "user" && k != "role" && k != "csrf" && k != "root" && k != "pollMs" {
			t.Errorf("/api/me has %q", k)
		}
	}
}
