package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// change is one request to change the store: what it is for the audit
// log, how to snapshot its target before and after, and how to run it.
type change struct {
	action, target, input string
	snap                  func(ctx context.Context) string
	run                   func(ctx context.Context) Result
}

func (s *server) changeRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/preview", s.authed(RoleOperator, s.preview))
	mux.Handle("POST /api/save", s.authed(RoleOperator, s.changeHandler(s.saveChange)))
	mux.Handle("POST /api/pause", s.authed(RoleOperator, s.changeHandler(s.stsChange("pause"))))
	mux.Handle("POST /api/resume", s.authed(RoleOperator, s.changeHandler(s.stsChange("resume"))))
	mux.Handle("POST /api/factory/stop", s.authed(RoleOperator, s.changeHandler(s.factoryChange("stop"))))
	mux.Handle("POST /api/factory/start", s.authed(RoleOperator, s.changeHandler(s.factoryChange("start"))))
	mux.Handle("POST /api/factory/drain", s.authed(RoleOperator, s.changeHandler(s.factoryChange("drain"))))
	mux.Handle("POST /api/delete", s.authed(RoleOperator, s.changeHandler(s.deleteChange)))
	mux.Handle("POST /api/import", s.authed(RoleOperator, s.changeHandler(s.importChange)))
	mux.Handle("POST /api/run-now", s.authed(RoleOperator, s.changeHandler(s.runNowChange)))
}

// request is the JSON body of every change (each uses some fields).
type request struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Doc      string `json:"doc"`
	Version  *int32 `json:"version"`
	Reason   string `json:"reason"`
	Force    bool   `json:"force"`
	Format   string `json:"format"`
	TimeZone string `json:"timeZone"`
	DryRun   bool   `json:"dryRun"`
	Partial  bool   `json:"partial"`
}

// decodeRequest reads a change's body: JSON only (a cross-site HTML form
// cannot send it without the browser asking first), at most 4 MiB.
func decodeRequest(r *http.Request) (request, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return request{}, errors.New("the body must be application/json")
	}
	var q request
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return request{}, fmt.Errorf("bad request body: %v", err)
	}
	return q, nil
}

// checkArg refuses a value that tbsctl would read as a flag, or that is
// empty: the console passes names to tbsctl's commands as arguments.
func checkArg(what, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s is empty", what)
	case strings.HasPrefix(v, "-"):
		return fmt.Errorf("%s %q must not start with '-'", what, v)
	}
	return nil
}

func checkKind(kind string) error {
	if kind != "taskType" && kind != "strategy" {
		return fmt.Errorf("kind %q must be taskType or strategy", kind)
	}
	return nil
}

// changeHandler runs a change: it builds it from the request, snapshots
// the target, runs it, snapshots again, writes the audit record, and
// answers the command's result: 200 when it succeeded, 422 with its
// message when it was refused or failed (never a success it did not have).
func (s *server) changeHandler(build func(request, session) (change, error)) func(http.ResponseWriter, *http.Request, session) {
	return func(w http.ResponseWriter, r *http.Request, sess session) {
		q, err := decodeRequest(r)
		if err == nil {
			var c change
			if c, err = build(q, sess); err == nil {
				s.apply(w, r.Context(), sess, c)
				return
			}
		}
		writeError(w, http.StatusBadRequest, err.Error())
	}
}

func (s *server) apply(w http.ResponseWriter, ctx context.Context, sess session, c change) {
	before := c.snap(ctx)
	res := c.run(ctx)
	s.cache.forget()
	after := c.snap(ctx)
	rec := auditRecord{At: s.now().UTC(), User: sess.user.Name, Role: sess.user.Role, Action: c.action, Target: c.target,
		Input: c.input, Before: before, After: after, OK: res.OK(), Result: res}
	if err := s.audit.write(rec); err != nil {
		s.log.Error("console: audit log", "err", err)
	}
	s.events.observeAudit(rec)
	if !res.OK() {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": failure(res), "result": res})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": res})
}

// objectSnap snapshots a stored task type or strategy.
func (s *server) objectSnap(kind, name string) func(context.Context) string {
	return func(ctx context.Context) string {
		doc, v, err := s.cfg.Backend.Get(ctx, kind, name)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return fmt.Sprintf("version %d: %s", v, compact(doc))
	}
}

// readSnap snapshots the output of a read command.
func (s *server) readSnap(args ...string) func(context.Context) string {
	return func(ctx context.Context) string {
		res := s.cfg.Backend.Read(ctx, args...)
		if !res.OK() {
			return "(" + failure(res) + ")"
		}
		return compact([]byte(res.Out))
	}
}

func compact(b []byte) string {
	var m any
	if json.Unmarshal(b, &m) != nil {
		return strings.TrimSpace(string(b))
	}
	out, _ := json.Marshal(m)
	return string(out)
}
