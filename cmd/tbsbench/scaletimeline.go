package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// timeline records, for the scale scenario's -scale-timeline, every
// session's events (schedule.Event), log lines (debug level), store calls
// (with their latency) and watch notifications, with monotonic offsets
// from one origin, and the phases of the run.
type timeline struct {
	t0 time.Time

	mu   sync.Mutex // guards recs
	recs []tlRec
}

// tlRec is one line of the timeline.
type tlRec struct {
	at   time.Duration // from t0
	sess int           // session number; -1: the run itself
	src  string        // phase, seen, look, event, log, call, watch
	what string        // event kind, log message, store method, watch scope
	// runtime, server and items: of an event (items: how many).
	runtime, server string
	items           int
	dur             time.Duration // a store call's latency
	detail          string
	// ids are an event's items (not written out: items counts them).
	ids []string
}

func newTimeline() *timeline { return &timeline{t0: time.Now()} }

func (t *timeline) add(r tlRec) {
	t.mu.Lock()
	t.recs = append(t.recs, r)
	t.mu.Unlock()
}

func (t *timeline) since(at time.Time) time.Duration { return at.Sub(t.t0) }

// phase marks the start of one of the run's phases.
func (t *timeline) phase(name string) {
	t.add(tlRec{at: t.since(time.Now()), sess: -1, src: "phase", what: name})
}

// seen marks the end of a phase: the observer saw the balance (reached)
// took after its start, or gave up.
func (t *timeline) seen(name string, took time.Duration, reached bool) {
	what := "observer saw the balance"
	if !reached {
		what = "observer gave up"
	}
	t.add(tlRec{at: t.since(time.Now()), sess: -1, src: "seen", what: what, dur: took, detail: name})
}

// event records a session's event.
func (t *timeline) event(sess int, e schedule.Event) {
	ids := make([]string, len(e.Items))
	for i, it := range e.Items {
		ids[i] = string(it.ID)
	}
	t.add(tlRec{at: t.since(e.Time), sess: sess, src: "event", what: e.Kind.String(), runtime: e.Runtime,
		server: string(e.Server), items: len(e.Items), detail: e.Message, ids: ids})
}

// handler is a slog.Handler at debug level that records a session's log
// lines.
func (t *timeline) handler(sess int) slog.Handler { return &tlHandler{t: t, sess: sess} }

type tlHandler struct {
	t     *timeline
	sess  int
	attrs string
}

func (h *tlHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *tlHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.t.add(tlRec{at: h.t.since(r.Time), sess: h.sess, src: "log", what: r.Level.String() + " " + r.Message,
		detail: strings.TrimSpace(b.String())})
	return nil
}

func (h *tlHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		if a.Key == "factoryIP" || a.Key == "factoryHost" {
			continue // the session number says it
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	return &tlHandler{t: h.t, sess: h.sess, attrs: b.String()}
}

func (h *tlHandler) WithGroup(string) slog.Handler { return h }

// tracedStore is a session's store seen by its factory: the store calls
// that make up a round and every watch notification are recorded.
type tracedStore struct {
	storekit.Store
	t    *timeline
	sess int
}

func (s *tracedStore) call(what, detail string, t0 time.Time, err error) {
	if err != nil {
		detail += " err=" + firstLineOf(err.Error())
	}
	s.t.add(tlRec{at: s.t.since(t0), sess: s.sess, src: "call", what: what, dur: time.Since(t0), detail: strings.TrimSpace(detail)})
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func (s *tracedStore) Watch(ctx context.Context, scope storekit.WatchScope) (<-chan struct{}, error) {
	t0 := time.Now()
	ch, err := s.Store.Watch(ctx, scope)
	name := watchName(scope)
	s.call("Watch", name, t0, err)
	if err != nil {
		return ch, err
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for range ch {
			s.t.add(tlRec{at: s.t.since(time.Now()), sess: s.sess, src: "watch", what: name})
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, nil
}

func watchName(w storekit.WatchScope) string {
	kind := map[storekit.WatchKind]string{storekit.WatchServers: "servers", storekit.WatchItems: "items",
		storekit.WatchConfig: "config", storekit.WatchFactories: "factories", storekit.WatchStrategyRuntimes: "strategyRuntimes",
		storekit.WatchNotes: "notes", storekit.WatchMark: "mark", storekit.WatchStrategyRuntime: "strategyRuntime"}[w.Kind]
	s := kind
	if w.Name != "" {
		s += " " + w.Name
	}
	if w.Server != "" {
		s += " box=" + string(w.Server)
	}
	if w.Factory != "" {
		s += " factory=" + string(w.Factory)
	}
	return s
}

func (s *tracedStore) Now(ctx context.Context) (time.Time, error) {
	t0 := time.Now()
	now, err := s.Store.Now(ctx)
	if d := time.Since(t0); d > 5*time.Millisecond || err != nil {
		s.call("Now", "", t0, err) // the slow ones only: most are local
	}
	return now, err
}

func (s *tracedStore) Session(ctx context.Context) (storekit.Session, error) {
	t0 := time.Now()
	sess, err := s.Store.Session(ctx)
	s.call("Session", "", t0, err)
	return sess, err
}

func (s *tracedStore) RegisterFactory(ctx context.Context, sess storekit.Session, rec schedule.Factory) (schedule.Factory, error) {
	t0 := time.Now()
	got, err := s.Store.RegisterFactory(ctx, sess, rec)
	s.call("RegisterFactory", string(got.UUID), t0, err)
	return got, err
}

func (s *tracedStore) RegisterStrategyRuntime(ctx context.Context, sess storekit.Session, rt schedule.StrategyRuntime) (schedule.StrategyRuntime, error) {
	t0 := time.Now()
	got, err := s.Store.RegisterStrategyRuntime(ctx, sess, rt)
	s.call("RegisterStrategyRuntime", rt.StrategyName, t0, err)
	return got, err
}

func (s *tracedStore) Factories(ctx context.Context) ([]schedule.Factory, error) {
	t0 := time.Now()
	got, err := s.Store.Factories(ctx)
	s.call("Factories", fmt.Sprintf("n=%d", len(got)), t0, err)
	return got, err
}

func (s *tracedStore) FactoryIDs(ctx context.Context) ([]schedule.FactoryID, error) {
	t0 := time.Now()
	got, err := s.Store.FactoryIDs(ctx)
	s.call("FactoryIDs", fmt.Sprintf("n=%d", len(got)), t0, err)
	return got, err
}

func (s *tracedStore) FactoryState(ctx context.Context, ip, hostName string) (schedule.FactoryState, error) {
	t0 := time.Now()
	got, err := s.Store.FactoryState(ctx, ip, hostName)
	s.call("FactoryState", "", t0, err)
	return got, err
}

func (s *tracedStore) Strategies(ctx context.Context) ([]schedule.Strategy, error) {
	t0 := time.Now()
	got, err := s.Store.Strategies(ctx)
	s.call("Strategies", fmt.Sprintf("n=%d", len(got)), t0, err)
	return got, err
}

func (s *tracedStore) StrategyRuntimes(ctx context.Context, name string) ([]schedule.StrategyRuntime, error) {
	t0 := time.Now()
	got, err := s.Store.StrategyRuntimes(ctx, name)
	s.call("StrategyRuntimes", fmt.Sprintf("%s n=%d", name, len(got)), t0, err)
	return got, err
}

func (s *tracedStore) StrategyRuntimeIDs(ctx context.Context, name string) ([]schedule.FactoryID, error) {
	t0 := time.Now()
	got, err := s.Store.StrategyRuntimeIDs(ctx, name)
	s.call("StrategyRuntimeIDs", fmt.Sprintf("%s n=%d", name, len(got)), t0, err)
	return got, err
}

func (s *tracedStore) StrategyRuntime(ctx context.Context, name string, id schedule.FactoryID) (schedule.StrategyRuntime, error) {
	t0 := time.Now()
	got, err := s.Store.StrategyRuntime(ctx, name, id)
	s.call("StrategyRuntime", fmt.Sprintf("%s requestNum=%d", name, got.RequestNum), t0, err)
	return got, err
}

func (s *tracedStore) UpdateStrategyRuntimes(ctx context.Context, name string, guard schedule.FactoryID, rts []schedule.StrategyRuntime) ([]schedule.StrategyRuntime, error) {
	t0 := time.Now()
	got, err := s.Store.UpdateStrategyRuntimes(ctx, name, guard, rts)
	s.call("UpdateStrategyRuntimes", fmt.Sprintf("%s guard=%s n=%d", name, guard, len(rts)), t0, err)
	return got, err
}

func (s *tracedStore) RegisterServer(ctx context.Context, sess storekit.Session, rec schedule.Server) (schedule.Server, error) {
	t0 := time.Now()
	got, err := s.Store.RegisterServer(ctx, sess, rec)
	s.call("RegisterServer", rec.TaskType+" "+string(got.UUID), t0, err)
	return got, err
}

func (s *tracedStore) Servers(ctx context.Context, rt string) ([]schedule.Server, error) {
	t0 := time.Now()
	got, err := s.Store.Servers(ctx, rt)
	s.call("Servers", fmt.Sprintf("%s n=%d", rt, len(got)), t0, err)
	return got, err
}

func (s *tracedStore) Items(ctx context.Context, rt string) (schedule.Items, error) {
	t0 := time.Now()
	got, err := s.Store.Items(ctx, rt)
	s.call("Items", fmt.Sprintf("%s n=%d", rt, len(got.Items)), t0, err)
	return got, err
}

func (s *tracedStore) ItemsByID(ctx context.Context, rt string, ids []schedule.ItemID) (schedule.Items, error) {
	t0 := time.Now()
	got, err := s.Store.ItemsByID(ctx, rt, ids)
	s.call("ItemsByID", fmt.Sprintf("%s n=%d", rt, len(ids)), t0, err)
	return got, err
}

func (s *tracedStore) BuildItems(ctx context.Context, rt string, guard schedule.ServerID, mark schedule.ItemsMark, defs []string) (schedule.Items, error) {
	t0 := time.Now()
	got, err := s.Store.BuildItems(ctx, rt, guard, mark, defs)
	s.call("BuildItems", rt, t0, err)
	return got, err
}

func (s *tracedStore) UpdateItems(ctx context.Context, rt string, guard schedule.ServerID, ups []storekit.ItemUpdate) ([]storekit.ItemUpdateResult, error) {
	t0 := time.Now()
	got, err := s.Store.UpdateItems(ctx, rt, guard, ups)
	conflicts := 0
	for _, r := range got {
		if r.Err != nil {
			conflicts++
		}
	}
	s.call("UpdateItems", fmt.Sprintf("%s guard=%s n=%d failed=%d", rt, guard, len(ups), conflicts), t0, err)
	return got, err
}

func (s *tracedStore) Notes(ctx context.Context, rt string, box schedule.ServerID) ([]storekit.Note, error) {
	t0 := time.Now()
	got, err := s.Store.Notes(ctx, rt, box)
	s.call("Notes", fmt.Sprintf("%s box=%s n=%d", rt, box, len(got)), t0, err)
	return got, err
}

func (s *tracedStore) DeleteNotes(ctx context.Context, rt string, guard, box schedule.ServerID, names []string) error {
	t0 := time.Now()
	err := s.Store.DeleteNotes(ctx, rt, guard, box, names)
	s.call("DeleteNotes", fmt.Sprintf("%s box=%s n=%d", rt, box, len(names)), t0, err)
	return err
}

func (s *tracedStore) UpdateServer(ctx context.Context, rec schedule.Server) error {
	t0 := time.Now()
	err := s.Store.UpdateServer(ctx, rec)
	s.call("UpdateServer", rec.TaskType+" "+string(rec.UUID), t0, err)
	return err
}

func (s *tracedStore) TaskType(ctx context.Context, base string) (schedule.TaskType, schedule.Version, error) {
	t0 := time.Now()
	tt, v, err := s.Store.TaskType(ctx, base)
	s.call("TaskType", base, t0, err)
	return tt, v, err
}

// write writes every record, in time order, to path, one a line:
// offset, session, source, what, then the rest.
func (t *timeline) write(path string) error {
	t.mu.Lock()
	recs := slices.Clone(t.recs)
	t.mu.Unlock()
	slices.SortStableFunc(recs, func(a, b tlRec) int { return int(a.at - b.at) })
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, r := range recs {
		sess := "run"
		if r.sess >= 0 {
			sess = fmt.Sprintf("s%02d", r.sess)
		}
		fmt.Fprintf(w, "%9.3f %s %-5s %s", r.at.Seconds(), sess, r.src, r.what)
		if r.runtime != "" {
			fmt.Fprintf(w, " rt=%s", r.runtime)
		}
		if r.server != "" {
			fmt.Fprintf(w, " server=%s", r.server)
		}
		if r.items > 0 {
			fmt.Fprintf(w, " items=%d", r.items)
		}
		if r.src == "call" || r.src == "look" || r.src == "seen" {
			fmt.Fprintf(w, " took=%.1fms", float64(r.dur.Microseconds())/1000)
		}
		if r.detail != "" {
			fmt.Fprintf(w, " %s", r.detail)
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// timelineFile is where a run's timeline goes: path itself, or with the
// size and read path before its extension when the command runs several.
func timelineFile(path string, z scaleSize, p readPath, several bool) string {
	if !several {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + z.key() + "-" + string(p) + ext
}
