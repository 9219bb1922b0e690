package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// Lifetimes of a session: it ends after idle without a request, and after
// maxAge in any case.
const (
	sessionIdle   = 30 * time.Minute
	sessionMaxAge = 12 * time.Hour
	cookieName    = "tbsconsole"
)

// session is one logged-in browser: its user and the token every change
// must carry (CSRF).
type session struct {
	user    User
	csrf    string
	created time.Time
	seen    time.Time
}

// sessions holds the sessions of the running console (in memory: a restart
// logs everybody out).
type sessions struct {
	mu sync.Mutex // guards byID
	// byID maps the cookie's random id to its session.
	byID map[string]*session
}

func newSessions() *sessions { return &sessions{byID: map[string]*session{}} }

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("console: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// start opens a session for u and returns its id (the cookie's value).
func (s *sessions) start(u User, now time.Time) string {
	id := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID { // drop the expired ones
		if expired(v, now) {
			delete(s.byID, k)
		}
	}
	s.byID[id] = &session{user: u, csrf: randomToken(), created: now, seen: now}
	return id
}

// get returns the live session of id and marks it seen.
func (s *sessions) get(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[id]
	if !ok {
		return session{}, false
	}
	if expired(v, now) {
		delete(s.byID, id)
		return session{}, false
	}
	v.seen = now
	return *v, true
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

func expired(v *session, now time.Time) bool {
	return now.Sub(v.seen) > sessionIdle || now.Sub(v.created) > sessionMaxAge
}

// sameToken compares two tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
