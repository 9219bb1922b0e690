package main

import (
	"fmt"
	"strconv"
	"time"
)

var scaleColumns = []string{"size", "read path", "event", "time / amount", "requests per server", "reads per server",
	"MiB in all", "sessions expired", "tbsbench CPU", "ZooKeeper CPU"}

// phaseKeys name the phases in JSON value names, in order.
var phaseKeys = []string{"start", "crash10", "join"}

func (r *scaleResult) label() string {
	return string(r.path)
}

// addTo appends r's rows and values to sec.
func (r *scaleResult) addTo(sec *Section) {
	size, path := r.size.String(), r.label()
	key := r.size.key() + "_" + string(r.path) + "_"
	dash := func(event, amount string) {
		sec.row(size, path, event, amount, "–", "–", "–", "–", "–", "–")
	}
	dash(fmt.Sprintf("%d sessions opened (16 at a time)", r.size.sessions), secs(r.opened))
	sec.set(key+"open_s", r.opened.Seconds())
	for i, ph := range r.phases {
		r.addPhase(sec, ph, key+phaseKeys[i]+"_")
	}
	if len(r.phases) > 0 && r.phases[0].reached {
		quiet := fmt.Sprintf("quiet %s after the balance", secs(r.settled))
		if !r.quiet {
			quiet = fmt.Sprintf("still arming watches or writing %s after the balance", secs(r.settled))
		}
		dash("ZooKeeper watches per server per task type ("+quiet+")", r.watchText())
		dash("heap in use per session (factory, managers, store)", fmt.Sprintf("%.0f KiB", r.heapPerSession/1024))
		dash("goroutines per session", fmt.Sprintf("%.1f", r.goroutinesPerSession))
		sec.set(key+"watches_total", float64(r.watches.total))
		if r.watches.fromWchc {
			sec.set(key+"watches_per_server_per_type_mean", r.watches.perTypeMean)
			sec.set(key+"watches_per_server_per_type_max", float64(r.watches.perTypeMax))
			sec.set(key+"watches_per_server_other", r.watches.otherMean)
		}
		sec.set(key+"heap_bytes_per_session", r.heapPerSession)
		sec.set(key+"goroutines_per_session", r.goroutinesPerSession)
	}
	dash("sessions expired during the run (target 0)", strconv.FormatInt(r.expired, 10))
	sec.set(key+"sessions_expired", float64(r.expired))
	if r.stuck > 0 {
		dash(fmt.Sprintf("factories not returned %v after their store closed", finishBound), strconv.Itoa(r.stuck))
	}
}

func (r *scaleResult) addPhase(sec *Section, ph phase, key string) {
	amount := secs(ph.took)
	if !ph.reached {
		amount = fmt.Sprintf("not reached after %.0f s (%v)", ph.took.Seconds(), ph.last)
	}
	n := float64(max(ph.servers, 1))
	per := func(v uint64) string { return fmt.Sprintf("%.0f", float64(v)/n) }
	selfCPU, zkCPU := "–", "–"
	if ph.cpuOK {
		selfCPU, zkCPU = fmt.Sprintf("%.2f cores", ph.selfCores), fmt.Sprintf("%.2f cores", ph.zkCores)
		sec.set(key+"cpu_tbsbench_cores", ph.selfCores)
		sec.set(key+"cpu_zookeeper_cores", ph.zkCores)
	}
	sec.row(r.size.String(), r.label(), ph.name, amount, per(ph.req.Total()), per(reads(ph)),
		fmt.Sprintf("%.1f", float64(ph.bytes)/(1<<20)), strconv.FormatInt(ph.expired, 10), selfCPU, zkCPU)
	sec.set(key+"reached", map[bool]float64{true: 1, false: 0}[ph.reached])
	sec.set(key+"s", ph.took.Seconds())
	if ph.reached {
		// Where the balance lies: after the last unbalanced look's start,
		// at most s; the look that found it started and ended then.
		sec.set(key+"unbalanced_look_s", ph.bound.unbalanced.Seconds())
		sec.set(key+"found_look_start_s", ph.bound.look.Seconds())
		sec.set(key+"found_look_end_s", ph.bound.decided.Seconds())
	}
	sec.set(key+"requests_per_server", float64(ph.req.Total())/n)
	sec.set(key+"reads_per_server", float64(reads(ph))/n)
	sec.set(key+"writes_per_server", float64(ph.req.Create+ph.req.Set+ph.req.Delete+ph.req.Multi)/n)
	sec.set(key+"bytes", float64(ph.bytes))
	sec.set(key+"sessions_expired", float64(ph.expired))
	sec.set(key+"observer_requests", float64(ph.observer))
}

// reads counts every read, with a watch or not.
func reads(ph phase) uint64 {
	r := ph.req
	return r.Get + r.Children + r.Exists + r.Sync + r.Watch
}

func (r *scaleResult) watchText() string {
	w := r.watches
	if r.watchErr != nil {
		return "not measured: " + r.watchErr.Error()
	}
	all := float64(w.total) / float64(r.size.sessions*r.size.types)
	if !w.fromWchc {
		return fmt.Sprintf("%d in all (wchs; too many for wchc): ≤ %.0f per server per task type", w.total, all)
	}
	return fmt.Sprintf("mean %.1f, max %d (wchc); %.1f others per server; %d in all (wchs)", w.perTypeMean, w.perTypeMax, w.otherMean, w.total)
}

// addRatios appends old ÷ new for each phase both reached, and for the
// watches and the heap.
func addRatios(sec *Section, old, nw *scaleResult) {
	size := old.size.String()
	label := "old ÷ new"
	ratio := func(a, b float64) string {
		if b == 0 {
			return "–"
		}
		return fmt.Sprintf("×%.2f", a/b)
	}
	key := old.size.key() + "_ratio_old_new_"
	for i := range min(len(old.phases), len(nw.phases)) {
		o, n := old.phases[i], nw.phases[i]
		if !o.reached || !n.reached {
			sec.row(size, label, o.name, unreachedRatio(o.reached, n.reached, o.took, n.took), "", "", "", "", "", "")
			continue
		}
		on, nn := float64(max(o.servers, 1)), float64(max(n.servers, 1))
		sec.row(size, label, o.name, ratio(o.took.Seconds(), n.took.Seconds()),
			ratio(float64(o.req.Total())/on, float64(n.req.Total())/nn), ratio(float64(reads(o))/on, float64(reads(n))/nn),
			ratio(float64(o.bytes), float64(n.bytes)), "", "", "")
		if n.took > 0 {
			sec.set(key+phaseKeys[i]+"_s", o.took.Seconds()/n.took.Seconds())
		}
	}
	if old.watches.fromWchc && nw.watches.fromWchc && nw.watches.perTypeMean > 0 {
		sec.row(size, label, "watches per server per task type", ratio(old.watches.perTypeMean, nw.watches.perTypeMean), "", "", "", "", "", "")
		sec.set(key+"watches_per_server_per_type", old.watches.perTypeMean/nw.watches.perTypeMean)
	}
	if nw.heapPerSession > 0 && old.heapPerSession > 0 {
		sec.row(size, label, "heap per session", ratio(old.heapPerSession, nw.heapPerSession), "", "", "", "", "", "")
	}
}

// unreachedRatio is the old ÷ new time of a phase that one path or both
// did not reach: when only the old path missed it, the ratio is at least
// the time it was given over the new path's time. It is pure.
func unreachedRatio(oldReached, newReached bool, oldTook, newTook time.Duration) string {
	switch {
	case !oldReached && newReached && newTook > 0:
		return fmt.Sprintf("> ×%.1f (old not reached after %.0f s)", oldTook.Seconds()/newTook.Seconds(), oldTook.Seconds())
	case oldReached && !newReached:
		return "– (new not reached)"
	}
	return "– (not reached on both)"
}
