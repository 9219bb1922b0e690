package console

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
)

func staticFS() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

func serveAsset(w http.ResponseWriter, name string, code int) {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		http.Error(w, "missing asset", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, "login.html", http.StatusOK)
}

func (s *server) appPage(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, "app.html", http.StatusOK)
}

// login checks a name and password from the login form. Failures say only
// "wrong name or password", are counted per address, and after
// maxFailures within failWindow the address waits.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	back := func(reason string) {
		http.Redirect(w, r, "/login?error="+url.QueryEscape(reason), http.StatusSeeOther)
	}
	if !sameOrigin(r) {
		back("origin")
		return
	}
	now := s.now()
	addr := clientAddr(r)
	if ok, _ := s.limiter.allowed(addr, now); !ok {
		w.Header().Set("Retry-After", "60")
		http.Redirect(w, r, "/login?error=limited", http.StatusSeeOther)
		return
	}
	u, ok := check(s.cfg.Users, r.PostFormValue("user"), r.PostFormValue("password"))
	if !ok {
		s.limiter.failed(addr, now)
		back("bad")
		return
	}
	s.limiter.succeeded(addr)
	id := s.sessions.start(u, now)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionMaxAge.Seconds())})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request, _ session) {
	if id, _, ok := s.current(r); ok {
		s.sessions.end(id)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, http.StatusOK, map[string]string{"ok": "logged out"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
