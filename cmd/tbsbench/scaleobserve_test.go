package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The observer takes a balanced look only once a later balanced look
// confirms it with no signal in between, and bounds the balance by the
// last change noticed before it, or by its start when that change cannot
// be the last one.
func TestJudgeLook(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	cand := candidate{ok: true, start: 2 * s, sig: 7}
	for _, tc := range []struct {
		name       string
		unbalanced time.Duration
		cand       candidate
		look       lookOutcome
		found      bool
		want       balanceBound
		next       candidate
	}{
		{name: "unbalanced look: no candidate", unbalanced: s, cand: cand,
			look: lookOutcome{start: 3 * s, end: 4 * s, sigStart: 7, sigEnd: 7, lastChange: 1500 * ms}},
		{name: "the first balanced look is a candidate", unbalanced: s,
			look: lookOutcome{start: 2 * s, end: 5 * s, balanced: true, sigStart: 7, sigEnd: 8, lastChange: 1500 * ms},
			next: candidate{ok: true, start: 2 * s, sig: 7}},
		{name: "confirmed: at the last change before the candidate", unbalanced: s, cand: cand,
			look:  lookOutcome{start: 5300 * ms, end: 5400 * ms, balanced: true, sigStart: 7, sigEnd: 7, lastChange: 1500 * ms},
			found: true,
			want:  balanceBound{unbalanced: s, atMost: 1500 * ms, byChange: true, look: 2 * s, decided: 5400 * ms}},
		{name: "a signal since the candidate: this look is the candidate", unbalanced: s, cand: cand,
			look: lookOutcome{start: 5300 * ms, end: 5400 * ms, balanced: true, sigStart: 8, sigEnd: 8, lastChange: 2100 * ms},
			next: candidate{ok: true, start: 5300 * ms, sig: 8}},
		{name: "a signal still being checked: not yet", unbalanced: s, cand: cand,
			look: lookOutcome{start: 5300 * ms, end: 5400 * ms, balanced: true, sigStart: 7, sigEnd: 7, busy: true, lastChange: 1500 * ms},
			next: candidate{ok: true, start: 5300 * ms, sig: 7}},
		{name: "balanced from the first look, after a change", unbalanced: 0,
			cand:  candidate{ok: true, start: 4 * s, sig: 2},
			look:  lookOutcome{start: 8300 * ms, end: 8400 * ms, balanced: true, sigStart: 2, sigEnd: 2, lastChange: 300 * ms},
			found: true,
			want:  balanceBound{atMost: 300 * ms, byChange: true, look: 4 * s, decided: 8400 * ms}},
		{name: "no change noticed in the phase (no watches): the candidate's start", unbalanced: 0,
			cand:  candidate{ok: true, start: 200 * ms},
			look:  lookOutcome{start: 3 * s, end: 3100 * ms, balanced: true, lastChange: -1},
			found: true,
			want:  balanceBound{atMost: 200 * ms, look: 200 * ms, decided: 3100 * ms}},
		{name: "the last change noticed came before an unbalanced look: a lost signal", unbalanced: 3 * s,
			cand:  candidate{ok: true, start: 7 * s, sig: 4},
			look:  lookOutcome{start: 9 * s, end: 9100 * ms, balanced: true, sigStart: 4, sigEnd: 4, lastChange: 2 * s},
			found: true,
			want:  balanceBound{unbalanced: 3 * s, atMost: 7 * s, look: 7 * s, decided: 9100 * ms}},
		{name: "a change noticed during the unbalanced look counts", unbalanced: 3 * s,
			cand:  candidate{ok: true, start: 7 * s, sig: 4},
			look:  lookOutcome{start: 9 * s, end: 9100 * ms, balanced: true, sigStart: 4, sigEnd: 4, lastChange: 3500 * ms},
			found: true,
			want:  balanceBound{unbalanced: 3 * s, atMost: 3500 * ms, byChange: true, look: 7 * s, decided: 9100 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, found := judgeLook(tc.unbalanced, tc.cand, tc.look)
			assert.Equal(t, tc.found, found)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.next, next)
		})
	}
}

func TestBalanceBoundString(t *testing.T) {
	s := time.Second
	b := balanceBound{unbalanced: s, atMost: 1500 * time.Millisecond, byChange: true, look: 2 * s, decided: 5 * s}
	assert.Equal(t, "balanced at ≤ 1.50 s (the last change noticed before the look that found it); "+
		"after 1.00 s (the last look that saw it unbalanced started then); the look that found it started at 2.00 s, the one that confirmed it ended at 5.00 s", b.String())
	b.byChange, b.atMost = false, 2*s
	assert.Contains(t, b.String(), "balanced at ≤ 2.00 s (no change noticed since the last unbalanced look: the start of the look that found it)")
}

// The observer looks once its watches have been quiet for
// quietBeforeLook after a change, and at the latest fallbackLook after
// its last look; it confirms a balanced look quietBeforeLook after it.
func TestNextLook(t *testing.T) {
	end := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		confirm bool
		n0, n   uint64
		last    time.Time
		want    time.Time
	}{
		{name: "nothing changed: the fallback", n0: 3, n: 3, last: end.Add(-time.Second), want: end.Add(fallbackLook)},
		{name: "a change during the look: quiet after it", n0: 3, n: 4, last: end.Add(-100 * ms), want: end.Add(-100*ms + quietBeforeLook)},
		{name: "a change after the look", n0: 3, n: 5, last: end.Add(2 * time.Second), want: end.Add(2*time.Second + quietBeforeLook)},
		{name: "changes that never pause: the fallback", n0: 3, n: 90, last: end.Add(fallbackLook), want: end.Add(fallbackLook)},
		{name: "a balanced look to confirm", confirm: true, n0: 3, n: 3, want: end.Add(quietBeforeLook)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, nextLook(end, tc.confirm, tc.n0, tc.n, tc.last))
		})
	}
}
