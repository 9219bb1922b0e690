package fence_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/internal/fence"
)

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestStep(t *testing.T) {
	on := fence.Policy{After: time.Second}
	off := fence.Policy{After: time.Second, Off: true}
	// The states of a session the owner has confirmed, but for fresh.
	running := fence.State{Confirmed: true}
	held := fence.State{Held: true, Confirmed: true}
	armed := fence.State{Held: true, FenceAt: at(time.Second), Confirmed: true}
	fenced := fence.State{Held: true, Fenced: true, Confirmed: true}
	lost := fence.State{Held: true, Fenced: true, Lost: true}
	fresh := fence.Start(false)
	freshArmed := fence.State{Held: true, FenceAt: at(time.Second)}
	look := func(d time.Duration, c fence.Condition) fence.Input { return fence.Input{Now: at(d), Session: c} }
	confirm := func(d time.Duration, c fence.Condition) fence.Input {
		return fence.Input{Now: at(d), Session: c, Confirmed: true}
	}
	tests := []struct {
		name string
		p    fence.Policy
		from fence.State
		in   fence.Input
		want fence.State
		act  fence.Actions
	}{
		{"new session: held while connected, until confirmed", on, fresh, look(0, fence.Connected), fresh, fence.Actions{}},
		{"new session: the first confirmation resumes", on, fresh, confirm(0, fence.Connected), running, fence.Actions{Resume: true}},
		{"new session after a fenced one: connected lifts nothing", on, fence.Start(true), look(0, fence.Connected), fence.Start(true), fence.Actions{}},
		{"new session after a fenced one: the confirmation lifts both", on, fence.Start(true), confirm(0, fence.Connected),
			running, fence.Actions{Unfence: true, Resume: true}},
		{"suspect: held at once, fence armed After later", on, running, look(0, fence.Suspect), armed, fence.Actions{Hold: true}},
		{"suspect before the fence is due: nothing", on, armed, look(999*time.Millisecond, fence.Suspect), armed, fence.Actions{}},
		{"suspect when the fence is due: fenced", on, armed, look(time.Second, fence.Suspect), fenced, fence.Actions{Fence: true}},
		{"suspect long past the fence: fenced", on, armed, look(time.Minute, fence.Suspect), fenced, fence.Actions{Fence: true}},
		{"connected again, confirmed before: the timer stops, the hold ends", on, armed, look(500*time.Millisecond, fence.Connected),
			running, fence.Actions{Resume: true}},
		{"connected again, never confirmed: the timer stops, the hold stays", on, freshArmed, look(500*time.Millisecond, fence.Connected),
			fresh, fence.Actions{}},
		{"connected again, confirmed before: the fence ends", on, fenced, look(0, fence.Connected), running, fence.Actions{Unfence: true, Resume: true}},
		{"suspect again after a flap, never confirmed: a full After from the new suspicion", on, fresh, look(2*time.Second, fence.Suspect),
			fence.State{Held: true, FenceAt: at(3 * time.Second)}, fence.Actions{}},
		{"suspect while held: a full After from the suspicion", on, held, look(2*time.Second, fence.Suspect),
			fence.State{Held: true, FenceAt: at(3 * time.Second), Confirmed: true}, fence.Actions{}},
		{"suspect when fenced already: no timer", on, fenced, look(0, fence.Suspect), fenced, fence.Actions{}},
		{"a confirmation while suspect lifts nothing", on, armed, confirm(500*time.Millisecond, fence.Suspect), armed, fence.Actions{}},
		{"a confirmation while connected lifts the hold and disarms", on, armed, confirm(500*time.Millisecond, fence.Connected),
			running, fence.Actions{Resume: true}},
		{"a confirmation lifts the fence", on, fenced, confirm(0, fence.Connected), running, fence.Actions{Unfence: true, Resume: true}},
		{"lost while running: held and fenced at once", on, running, look(0, fence.Lost), lost, fence.Actions{Hold: true, Fence: true}},
		{"lost while armed: fenced at once", on, armed, look(0, fence.Lost), lost, fence.Actions{Fence: true}},
		{"lost while fenced: only marked", on, fenced, look(0, fence.Lost), lost, fence.Actions{}},
		{"lost is final: a confirmation lifts nothing", on, lost, confirm(0, fence.Connected), lost, fence.Actions{}},
		{"no fence delay: fenced at the first suspicion", fence.Policy{}, running, look(0, fence.Suspect), fenced,
			fence.Actions{Hold: true, Fence: true}},
		{"off: suspect neither holds nor arms", off, running, look(0, fence.Suspect), running, fence.Actions{}},
		{"off: suspect long after leaves a hold as it was", off, held, look(time.Hour, fence.Suspect), held, fence.Actions{}},
		{"off: lost still fences", off, running, look(0, fence.Lost), lost, fence.Actions{Hold: true, Fence: true}},
		{"off: the first confirmation resumes", off, fresh, confirm(0, fence.Connected), running, fence.Actions{Resume: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, act := fence.Step(tc.p, tc.from, tc.in)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.act, act)
		})
	}
}

// Every sequence of looks keeps the fence consistent: fenced work is held,
// a fence is armed only while held and not fenced, and after a lost look
// nothing changes any more.
func TestStepInvariants(t *testing.T) {
	p := fence.Policy{After: time.Second}
	conds := []fence.Condition{fence.Connected, fence.Suspect, fence.Lost}
	var walk func(s fence.State, now time.Duration, depth int)
	walk = func(s fence.State, now time.Duration, depth int) {
		if depth == 0 {
			return
		}
		for _, c := range conds {
			for _, conf := range []bool{false, true} {
				for _, dt := range []time.Duration{0, 400 * time.Millisecond, time.Second} {
					in := fence.Input{Now: at(now + dt), Session: c, Confirmed: conf}
					n, act := fence.Step(p, s, in)
					if n.Fenced && !n.Held {
						t.Fatalf("fenced but not held: %+v after %+v from %+v", n, in, s)
					}
					if !n.FenceAt.IsZero() && (!n.Held || n.Fenced || n.Lost) {
						t.Fatalf("armed out of place: %+v after %+v from %+v", n, in, s)
					}
					if s.Lost && (n != s || act != fence.Actions{}) {
						t.Fatalf("a lost fence changed: %+v after %+v from %+v", n, in, s)
					}
					if !n.Fenced && c == fence.Suspect && !n.FenceAt.After(in.Now) {
						t.Fatalf("suspect and unfenced without a future fence: %+v after %+v", n, in)
					}
					if !n.Lost && c == fence.Connected && (n.Confirmed || conf) && (n.Held || n.Fenced) {
						t.Fatalf("connected on a confirmed session, yet restrained: %+v after %+v from %+v", n, in, s)
					}
					if !n.Lost && (n.Held || n.Fenced) == false && !n.Confirmed {
						t.Fatalf("running without a confirmation: %+v after %+v from %+v", n, in, s)
					}
					walk(n, now+dt, depth-1)
				}
			}
		}
	}
	walk(fence.Start(false), 0, 4)
	walk(fence.Start(true), 0, 4)
}
