package console

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

//go:embed assets
var assets embed.FS

// server is the console's HTTP side.
type server struct {
	cfg      Config
	now      func() time.Time
	sessions *sessions
	limiter  *limiter
	cache    *readCache
	audit    *auditLog
	events   *eventLog
	log      *slog.Logger
}

func newServer(cfg Config, now func() time.Time) (*server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("console: no backend")
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Audit == nil {
		cfg.Audit = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if len(cfg.Users) == 0 {
		u, pw, err := oneTimeUser()
		if err != nil {
			return nil, err
		}
		cfg.Users = []User{u}
		fmt.Fprintf(cfg.Out, "tbsctl console: no accounts configured: log in as %q with the one-time password %s (valid until the console stops)\n", u.Name, pw)
	}
	s := &server{cfg: cfg, now: now, sessions: newSessions(), limiter: newLimiter(),
		cache: newReadCache(cfg.Backend, cfg.Poll/2, now), audit: &auditLog{w: cfg.Audit, now: now},
		events: newEventLog(max(5*cfg.Poll, 10*time.Second)), log: cfg.Log}
	s.cache.observe = s.events.observeRead
	return s, nil
}

// routes is the whole site. Every response carries the security headers;
// everything but the login page and the static files needs a session;
// every POST needs the operator role (logout: any role), a same-origin
// request and the session's CSRF token.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(staticFS()))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.Handle("POST /logout", s.authed(RoleViewer, s.logout))
	for _, p := range []string{"GET /{$}", "GET /tasktype/{name}", "GET /strategies", "GET /factories", "GET /tree",
		"GET /edit/{kind}/{name}", "GET /new/{kind}", "GET /transfer"} {
		mux.Handle(p, s.page(s.appPage))
	}
	s.readRoutes(mux)
	s.changeRoutes(mux)
	return securityHeaders(mux)
}

// securityHeaders sets the headers of every response: a CSP that allows
// only the console's own scripts and styles (no inline ones), no framing,
// no MIME sniffing, no referrer, no caching.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a request that changes something comes from
// the console's own pages: the browser's Sec-Fetch-Site, else its Origin,
// must name this host.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser's cross-site request (curl, tests); the CSRF token still applies
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// clientAddr is the address the login limiter counts by.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// current returns the request's session.
func (s *server) current(r *http.Request) (string, session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", session{}, false
	}
	sess, ok := s.sessions.get(c.Value, s.now())
	return c.Value, sess, ok
}

// page serves a page to a logged-in user, and sends anyone else to the
// login page.
func (s *server) page(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := s.current(r); !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// authed guards an API call: a session is required (401), and for POST the
// role (403), the same origin (403) and the CSRF token in X-CSRF-Token (403).
func (s *server) authed(need Role, h func(http.ResponseWriter, *http.Request, session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sess, ok := s.current(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "not logged in (or the session expired): log in again")
			return
		}
		if r.Method != http.MethodGet {
			if !sameOrigin(r) {
				writeError(w, http.StatusForbidden, "refused: the request did not come from the console's own pages")
				return
			}
			if !sameToken(r.Header.Get("X-CSRF-Token"), sess.csrf) {
				writeError(w, http.StatusForbidden, "refused: missing or wrong CSRF token (reload the page)")
				return
			}
		}
		if need == RoleOperator && sess.user.Role != RoleOperator {
			writeError(w, http.StatusForbidden, fmt.Sprintf("refused: user %q is a viewer; changes need the operator role", sess.user.Name))
			return
		}
		h(w, r, sess)
	})
}
