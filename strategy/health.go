package strategy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// loopPhase is where Run's main loop is, for the health endpoints.
type loopPhase int32

const (
	phaseIdle     loopPhase = iota // Run not called yet
	phaseRunning                   // following the strategies; wakes at least every RefreshInterval or RetryMax
	phaseSession                   // waiting for the store's session (as long as the store reconnects)
	phaseStopping                  // Run's graceful stop (bounded by ShutdownTimeout)
	phaseStopped                   // Run has returned
)

func (p loopPhase) String() string {
	return [...]string{"not started", "running", "waiting for a session", "stopping", "stopped"}[p]
}

// stuckMargin is added to the loop's longest legitimate sleep before
// /healthz calls it stuck: the time a round's store calls may take.
const stuckMargin = time.Minute

// beat records that the main loop woke, in phase p.
func (f *Factory) beat(p loopPhase) {
	f.loopAt.Store(f.clock.Now().UnixNano())
	f.loopPhase.Store(int32(p))
}

// healthInput is what the health decisions read.
type healthInput struct {
	st    Status
	phase loopPhase
	woke  time.Time     // the loop's last wake
	bound time.Duration // longest the running loop may go without waking
}

// liveReasons says why the factory is not alive (none: alive). Only a
// running loop is bounded: one waiting for a session waits as long as the
// store reconnects, and a graceful stop is bounded by ShutdownTimeout.
func liveReasons(in healthInput, now time.Time) []string {
	switch in.phase {
	case phaseIdle, phaseStopped:
		return []string{"factory " + in.phase.String()}
	case phaseRunning:
		if d := now.Sub(in.woke); d > in.bound {
			return []string{fmt.Sprintf("main loop stuck: last woke %v ago (bound %v)", d.Round(time.Millisecond), in.bound)}
		}
	}
	return nil
}

// readyReasons says why the factory is not ready (none: ready): it must run,
// be registered, have its session connected, not be stopped by the
// operator, and have no manager whose session is suspect or expired (such
// a manager has stopped fetching: it is held or fenced).
func readyReasons(in healthInput) []string {
	st := in.st
	var why []string
	if in.phase != phaseRunning && in.phase != phaseSession {
		why = append(why, "factory "+in.phase.String())
	}
	if st.Session != schedule.SessionConnected {
		why = append(why, "session "+st.Session.String())
	}
	if st.Factory == "" {
		why = append(why, "factory not registered")
	}
	if st.Stopped {
		why = append(why, fmt.Sprintf("machine stopped by the operator (by %q: %q)", st.StoppedBy, st.StopReason))
	}
	for _, s := range st.Strategies {
		for _, m := range s.Managers {
			if m.Session == schedule.SessionSuspect || m.Session == schedule.SessionExpired {
				why = append(why, fmt.Sprintf("strategy %s thread group %s: session %s", s.Name, m.Server, m.Session))
			}
		}
	}
	return why
}

// healthBody is the JSON answer of /healthz and /readyz.
type healthBody struct {
	Status     string           `json:"status"` // "ok" or "fail"
	Reasons    []string         `json:"reasons,omitempty"`
	Factory    string           `json:"factory"`
	Session    string           `json:"session"`
	Loop       string           `json:"loop"`
	LastWake   time.Time        `json:"lastWake"`
	Stopped    bool             `json:"stopped"`
	LastError  string           `json:"lastError,omitempty"`
	Strategies []strategyHealth `json:"strategies,omitempty"`
}

type strategyHealth struct {
	Name       string          `json:"name"`
	Registered bool            `json:"registered"`
	Leader     bool            `json:"leader"`
	RequestNum int             `json:"requestNum"`
	CurrentNum int             `json:"currentNum"`
	LastError  string          `json:"lastError,omitempty"`
	Managers   []managerHealth `json:"managers,omitempty"`
}

type managerHealth struct {
	Server  string `json:"server"`
	Session string `json:"session"`
	Owned   int    `json:"owned"`
	Window  string `json:"window"`
}

func newHealthBody(in healthInput, reasons []string) healthBody {
	st := in.st
	b := healthBody{Status: "ok", Reasons: reasons, Factory: string(st.Factory), Session: st.Session.String(),
		Loop: in.phase.String(), LastWake: in.woke, Stopped: st.Stopped, LastError: st.LastError}
	if len(reasons) > 0 {
		b.Status = "fail"
	}
	for _, s := range st.Strategies {
		sh := strategyHealth{Name: s.Name, Registered: s.Registered, Leader: s.Leader,
			RequestNum: s.RequestNum, CurrentNum: s.CurrentNum, LastError: s.LastError}
		for _, m := range s.Managers {
			sh.Managers = append(sh.Managers, managerHealth{Server: string(m.Server), Session: m.Session.String(),
				Owned: len(m.Owned), Window: m.Window.State})
		}
		b.Strategies = append(b.Strategies, sh)
	}
	return b
}

// Health returns the handler of the factory's probes for Kubernetes-style
// health checks. It answers GET and HEAD (405 otherwise) on a path ending
// in /healthz, /readyz or /events (404 otherwise), 200 when the check passes and 503
// when it fails, with a JSON body: "status" ("ok" or "fail"), "reasons",
// the factory id, the session state, the main loop's phase and last wake,
// and per strategy the thread groups with their session and owned items.
//
//   - /healthz (liveness): Run is running and its main loop is not stuck.
//     The loop wakes at least every max(RefreshInterval, RetryMax); it is
//     stuck when it has not woken for that plus one minute. Waiting for the
//     store's session (ZooKeeper unreachable) and a graceful stop are
//     alive: restarting the process would not help.
//   - /readyz (readiness): Run is running, the factory is registered, its
//     session is connected (not suspect, expired or closed), the operator
//     has not stopped the machine (a stopped machine is alive but not
//     ready), and no thread group's session is suspect or expired (it is
//     held or fenced).
//
// On a path ending in /events it answers 200 with the factory's last
// events as JSON, {"events": [...]}, oldest first (see WithEvents and
// Config.EventHistory); ?since=N keeps those with a Seq above N, for a
// poller, and a bad N is a 400.
//
// Mount it on the paths, e.g. mux.Handle("/healthz", h),
// mux.Handle("/readyz", h) and mux.Handle("/events", h). It is safe for
// concurrent use.
func (f *Factory) Health() http.Handler {
	return http.HandlerFunc(f.serveHealth)
}

func (f *Factory) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/events") {
		f.serveEvents(w, r)
		return
	}
	in := healthInput{st: f.Status(), phase: loopPhase(f.loopPhase.Load()),
		woke: time.Unix(0, f.loopAt.Load()), bound: max(f.cfg.RefreshInterval, f.cfg.RetryMax) + stuckMargin}
	if in.phase == phaseIdle {
		in.woke = time.Time{}
	}
	var reasons []string
	switch {
	case strings.HasSuffix(r.URL.Path, "/healthz"):
		reasons = liveReasons(in, f.clock.Now())
	case strings.HasSuffix(r.URL.Path, "/readyz"):
		reasons = readyReasons(in)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	code := http.StatusOK
	if len(reasons) > 0 {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		_ = json.NewEncoder(w).Encode(newHealthBody(in, reasons))
	}
}
