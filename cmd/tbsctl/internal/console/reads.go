package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// readCache shares the result of a read among the browsers polling it: a
// result younger than ttl is served again, so the load on ZooKeeper does
// not grow with the number of open pages.
type readCache struct {
	b   Backend
	ttl time.Duration
	now func() time.Time
	// observe, when set, is told every read made (not the cached ones):
	// its command line, when it started and ended, and its result.
	observe func(args []string, started, ended time.Time, res Result)
	mu      sync.Mutex // guards byKey
	// byKey maps a command line to its last result.
	byKey map[string]cached
}

type cached struct {
	at  time.Time
	res Result
}

func newReadCache(b Backend, ttl time.Duration, now func() time.Time) *readCache {
	return &readCache{b: b, ttl: ttl, now: now, byKey: map[string]cached{}}
}

func (c *readCache) read(ctx context.Context, args ...string) Result {
	key := strings.Join(args, "\x00")
	c.mu.Lock()
	e, ok := c.byKey[key]
	c.mu.Unlock()
	if ok && c.now().Sub(e.at) < c.ttl {
		return e.res
	}
	started := c.now()
	res := c.b.Read(ctx, args...)
	ended := c.now()
	c.mu.Lock()
	c.byKey[key] = cached{at: ended, res: res}
	c.mu.Unlock()
	if c.observe != nil {
		c.observe(args, started, ended, res)
	}
	return res
}

// forget drops every cached result, so the pages show a change at once.
func (c *readCache) forget() {
	c.mu.Lock()
	clear(c.byKey)
	c.mu.Unlock()
}

// The reads the recent events are found in (see events.go).
var (
	statusArgs     = []string{"status", "-o", "json"}
	strategiesArgs = []string{"strategies", "-o", "json"}
)

func (s *server) readRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/me", s.authed(RoleViewer, s.me))
	// Each view is the JSON output of the tbsctl command of the same name;
	// doctor exits 1 when it found a problem, which is still its report.
	views := map[string][]string{
		"status":     statusArgs,
		"doctor":     {"doctor", "-o", "json"},
		"factories":  {"factories", "-o", "json"},
		"strategies": strategiesArgs,
	}
	for name, args := range views {
		mux.Handle("GET /api/"+name, s.authed(RoleViewer, func(w http.ResponseWriter, r *http.Request, _ session) {
			res := s.cache.read(r.Context(), args...)
			if !json.Valid([]byte(res.Out)) || (res.Code != 0 && name != "doctor") {
				writeError(w, http.StatusBadGateway, failure(res))
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write([]byte(res.Out))
		}))
	}
	mux.Handle("GET /api/tree", s.authed(RoleViewer, func(w http.ResponseWriter, r *http.Request, _ session) {
		res := s.cache.read(r.Context(), "tree")
		if !res.OK() {
			writeError(w, http.StatusBadGateway, failure(res))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"tree": res.Out})
	}))
	mux.Handle("GET /api/get", s.authed(RoleViewer, s.getObject))
	mux.Handle("GET /api/events", s.authed(RoleViewer, s.recentEvents))
	mux.Handle("GET /api/export", s.authed(RoleViewer, s.export))
	mux.Handle("GET /api/template", s.authed(RoleViewer, template))
}

// template answers the defaults of a new task type or strategy, for the
// form that creates one.
func template(w http.ResponseWriter, r *http.Request, _ session) {
	var v any
	switch r.URL.Query().Get("kind") {
	case "taskType":
		v = schedule.DefaultTaskType("")
	case "strategy":
		v = schedule.DefaultStrategy("")
	default:
		writeError(w, http.StatusBadRequest, "kind must be taskType or strategy")
		return
	}
	doc, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"doc": string(doc), "version": -1})
}

// failure is the text of a failed command: its standard error, else its
// output, else the exit code.
func failure(res Result) string {
	if t := strings.TrimSpace(res.Err); t != "" {
		return t
	}
	if t := strings.TrimSpace(res.Out); t != "" {
		return t
	}
	return "the command failed without a message"
}

func (s *server) me(w http.ResponseWriter, r *http.Request, sess session) {
	writeJSON(w, http.StatusOK, map[string]any{"user": sess.user.Name, "role": sess.user.Role, "csrf": sess.csrf,
		"root": s.cfg.Root, "pollMs": s.cfg.Poll.Milliseconds()})
}

func (s *server) getObject(w http.ResponseWriter, r *http.Request, _ session) {
	kind, name := r.URL.Query().Get("kind"), r.URL.Query().Get("name")
	if err := checkKind(kind); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := checkArg("name", name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	started := s.now()
	doc, v, err := s.cfg.Backend.Get(r.Context(), kind, name)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if kind == "taskType" {
		s.events.observeConfig(name, doc, v, started, s.now())
	}
	writeJSON(w, http.StatusOK, map[string]any{"doc": string(doc), "version": v})
}

func (s *server) export(w http.ResponseWriter, r *http.Request, _ session) {
	format := r.URL.Query().Get("format")
	if format != "ours" && format != "java" {
		writeError(w, http.StatusBadRequest, "format must be ours or java")
		return
	}
	res := s.cfg.Backend.Read(r.Context(), "export", "--format", format)
	if !res.OK() {
		writeError(w, http.StatusBadGateway, failure(res))
		return
	}
	name := "tbschedule-export.json"
	if format == "java" {
		name = "tbschedule-export-java.txt"
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write([]byte(res.Out))
}

// recentEvents answers a task type's recent events: the changes this
// console saw in the tree, and the changes made through it (see events.go).
// It reads status and strategies first (through the cache, so no more
// often than the pages do), so the list is as new as the page.
func (s *server) recentEvents(w http.ResponseWriter, r *http.Request, _ session) {
	name := r.URL.Query().Get("taskType")
	if err := checkArg("taskType", name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.cache.read(r.Context(), statusArgs...)
	s.cache.read(r.Context(), strategiesArgs...)
	since, evs := s.events.events(name)
	var sinceP *time.Time
	if !since.IsZero() {
		sinceP = &since
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": sinceP, "events": evs})
}
