package console

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// docName returns the name a task type or strategy document gives its
// object.
func docName(kind, doc string) (string, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return "", fmt.Errorf("the document is not a JSON object: %v", err)
	}
	key := map[string]string{"taskType": "baseTaskType", "strategy": "strategyName"}[kind]
	name, _ := m[key].(string)
	return name, checkArg(key, name)
}

// preview shows what saving a document would change, field by field: the
// output of "tbsctl apply --dry-run" (with its validation), and whether
// the stored object changed since the form loaded it.
func (s *server) preview(w http.ResponseWriter, r *http.Request, _ session) {
	q, err := decodeRequest(r)
	if err == nil {
		err = checkKind(q.Kind)
	}
	var name string
	if err == nil {
		name, err = docName(q.Kind, q.Doc)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res := s.cfg.Backend.Write(r.Context(), []byte(q.Doc), "apply", "-f", "-", "--dry-run")
	stale := ""
	if q.Version != nil {
		_, v, gerr := s.cfg.Backend.Get(r.Context(), q.Kind, name)
		switch {
		case gerr == nil && *q.Version < 0:
			stale = fmt.Sprintf("%s %s exists already (version %d): saving will be refused", q.Kind, name, v)
		case gerr == nil && v != *q.Version:
			stale = fmt.Sprintf("%s %s was changed by someone else since you loaded it (version %d, now %d): saving will be refused; reload the form", q.Kind, name, *q.Version, v)
		}
	}
	code := http.StatusOK
	if !res.OK() {
		code = http.StatusUnprocessableEntity
	}
	writeJSON(w, code, map[string]any{"ok": res.OK(), "result": res, "stale": stale, "error": errorText(res)})
}

func errorText(res Result) string {
	if res.OK() {
		return ""
	}
	return failure(res)
}

func (s *server) saveChange(q request, _ session) (change, error) {
	if err := checkKind(q.Kind); err != nil {
		return change{}, err
	}
	name, err := docName(q.Kind, q.Doc)
	if err != nil {
		return change{}, err
	}
	if q.Version == nil {
		return change{}, fmt.Errorf("version is missing (the version the form was loaded at, -1 for a new %s)", q.Kind)
	}
	v := *q.Version
	return change{action: "save " + q.Kind, target: name, input: q.Doc, snap: s.objectSnap(q.Kind, name),
		run: func(ctx context.Context) Result { return s.cfg.Backend.Put(ctx, []byte(q.Doc), v) }}, nil
}

// stsChange pauses or resumes a strategy ("tbsctl pause/resume").
func (s *server) stsChange(verb string) func(request, session) (change, error) {
	return func(q request, _ session) (change, error) {
		if err := checkArg("strategy", q.Name); err != nil {
			return change{}, err
		}
		return change{action: verb, target: q.Name, snap: s.objectSnap("strategy", q.Name),
			run: func(ctx context.Context) Result { return s.cfg.Backend.Write(ctx, nil, verb, q.Name) }}, nil
	}
}

// runNowChange opens a task type's permit window once ("tbsctl run-now"),
// recorded as asked by the console user.
func (s *server) runNowChange(q request, sess session) (change, error) {
	if err := checkArg("strategy or task type", q.Name); err != nil {
		return change{}, err
	}
	return change{action: "run-now", target: q.Name, snap: s.objectSnap("taskType", q.Name),
		run: func(ctx context.Context) Result {
			return s.cfg.Backend.Write(ctx, nil, "run-now", q.Name, "--by", "console user "+sess.user.Name)
		}}, nil
}

// factoryChange stops, starts or drains a factory's machine ("tbsctl
// stop/start/drain"); the reason recorded with the flag names the user.
func (s *server) factoryChange(verb string) func(request, session) (change, error) {
	return func(q request, sess session) (change, error) {
		if err := checkArg("factory", q.Name); err != nil {
			return change{}, err
		}
		c := change{action: verb + " factory", target: q.Name, input: q.Reason, snap: s.readSnap("factories", "-o", "json")}
		c.run = func(ctx context.Context) Result {
			args := []string{verb, q.Name}
			if verb != "start" {
				args = append(args, "--reason", fmt.Sprintf("%s (console user %s)", cmp.Or(q.Reason, verb), sess.user.Name))
			}
			return s.cfg.Backend.Write(ctx, nil, args...)
		}
		return c, nil
	}
}

// deleteChange deletes a task type or strategy with the refusal rules of
// "tbsctl delete" (--force only when asked).
func (s *server) deleteChange(q request, _ session) (change, error) {
	if err := checkKind(q.Kind); err != nil {
		return change{}, err
	}
	if err := checkArg("name", q.Name); err != nil {
		return change{}, err
	}
	c := change{action: "delete " + q.Kind, target: q.Name, snap: s.objectSnap(q.Kind, q.Name)}
	c.run = func(ctx context.Context) Result {
		args := []string{"delete", q.Kind, q.Name}
		if q.Force {
			args = append(args, "--force")
		}
		return s.cfg.Backend.Write(ctx, nil, args...)
	}
	return c, nil
}

// importChange imports a file ("tbsctl import -f -"): our export or the
// Java console's, with the per-object report.
func (s *server) importChange(q request, _ session) (change, error) {
	if q.Format == "" {
		q.Format = "auto"
	}
	if q.Format != "auto" && q.Format != "ours" && q.Format != "java" {
		return change{}, fmt.Errorf("format %q must be auto, ours or java", q.Format)
	}
	args := []string{"import", "-f", "-", "--format", q.Format}
	if q.TimeZone != "" {
		if err := checkArg("timeZone", q.TimeZone); err != nil {
			return change{}, err
		}
		args = append(args, "--time-zone", q.TimeZone)
	}
	for flag, on := range map[string]bool{"--dry-run": q.DryRun, "--force": q.Force, "--partial": q.Partial} {
		if on {
			args = append(args, flag)
		}
	}
	action := "import"
	if q.DryRun {
		action = "import (dry run)"
	}
	return change{action: action, target: "configuration", input: q.Doc, snap: s.readSnap("export"),
		run: func(ctx context.Context) Result { return s.cfg.Backend.Write(ctx, []byte(q.Doc), args...) }}, nil
}
