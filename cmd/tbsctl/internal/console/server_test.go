package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fakeBackend records the commands it is asked to run and answers what
// the test sets.
type fakeBackend struct {
	mu    sync.Mutex
	calls [][]string
	// write is the result of every Write and Put.
	write Result
}

func (f *fakeBackend) record(args []string) {
	f.mu.Lock()
	f.calls = append(f.calls, args)
	f.mu.Unlock()
}

func (f *fakeBackend) Read(_ context.Context, args ...string) Result {
	f.record(args)
	if args[0] == "tree" {
		return Result{Out: "/app\n"}
	}
	return Result{Out: "[]"}
}

func (f *fakeBackend) Write(_ context.Context, _ []byte, args ...string) Result {
	f.record(args)
	return f.write
}

func (f *fakeBackend) Get(context.Context, string, string) ([]byte, int32, error) {
	return []byte(`{"strategyName":"s1"}`), 3, nil
}

func (f *fakeBackend) Put(_ context.Context, doc []byte, v int32) Result {
	f.record([]string{"put", string(doc)})
	return f.write
}

func (f *fakeBackend) writes() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var w [][]string
	for _, c := range f.calls {
		if c[0] != "status" && c[0] != "doctor" && c[0] != "factories" && c[0] != "strategies" && c[0] != "tree" && c[0] != "get" && c[0] != "export" {
			w = append(w, c)
		}
	}
	return w
}

func hashed(t *testing.T, pw string) []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// site is a console on httptest with an operator "op" and a viewer "vi".
type site struct {
	t     *testing.T
	srv   *httptest.Server
	b     *fakeBackend
	audit *bytes.Buffer
	now   time.Time
}

func newSite(t *testing.T) *site {
	s := &site{t: t, b: &fakeBackend{write: Result{Out: "done\n"}}, audit: &bytes.Buffer{}, now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	users := []User{{Name: "op", Role: RoleOperator, Hash: hashed(t, "op-password")}, {Name: "vi", Role: RoleViewer, Hash: hashed(t, "vi-password")}}
	srv, err := newServer(Config{Root: "/app", Users: users, Backend: s.b, Audit: s.audit}, func() time.Time { return s.now })
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(srv.routes())
	t.Cleanup(s.srv.Close)
	return s
}

// client is a browser-like client with its own cookies that does not
// follow redirects.
type client struct {
	t    *testing.T
	s    *site
	http *http.Client
	csrf string
}

func (s *site) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: s.t, s: s, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, c.s.srv.URL+path, nil)
	return c.do(req)
}

// login logs in and reads the session's CSRF token.
func (c *client) login(user, pw string) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.s.srv.URL+"/login", strings.NewReader(url.Values{"user": {user}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := c.do(req)
	if resp.Header.Get("Location") == "/" {
		_, body := c.get("/api/me")
		var me struct{ CSRF string }
		if err := json.Unmarshal([]byte(body), &me); err != nil {
			c.t.Fatalf("/api/me: %v: %s", err, body)
		}
		c.csrf = me.CSRF
	}
	return resp
}

// post sends a change as the console's pages do; edit may change the
// request before it is sent.
func (c *client) post(path, body string, edit func(*http.Request)) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, c.s.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if edit != nil {
		edit(req)
	}
	return c.do(req)
}
