package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The observer takes a balanced look only if nothing changed during it,
// and bounds the balance by the last change noticed before it, or by the
// look's start when that change cannot be the last one.
func TestJudgeLook(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		unbalanced time.Duration
		look       lookOutcome
		found      bool
		want       balanceBound
	}{
		{name: "unbalanced look", unbalanced: s,
			look: lookOutcome{start: 2 * s, end: 5 * s, lastChange: 1500 * ms}},
		{name: "balanced, but a change came during the look", unbalanced: s,
			look: lookOutcome{start: 2 * s, end: 5 * s, balanced: true, changedDuring: true, lastChange: 1500 * ms}},
		{name: "balanced: at the last change before it", unbalanced: s,
			look:  lookOutcome{start: 2 * s, end: 5 * s, balanced: true, lastChange: 1500 * ms},
			found: true,
			want:  balanceBound{unbalanced: s, atMost: 1500 * ms, byChange: true, look: 2 * s, decided: 5 * s}},
		{name: "balanced at the first look, after a change", unbalanced: 0,
			look:  lookOutcome{start: 4 * s, end: 8 * s, balanced: true, lastChange: 300 * ms},
			found: true,
			want:  balanceBound{atMost: 300 * ms, byChange: true, look: 4 * s, decided: 8 * s}},
		{name: "no change noticed in the phase: the look's start", unbalanced: 0,
			look:  lookOutcome{start: 200 * ms, end: 3 * s, balanced: true, lastChange: -1},
			found: true,
			want:  balanceBound{atMost: 200 * ms, look: 200 * ms, decided: 3 * s}},
		{name: "the last change noticed came before an unbalanced look: a lost signal", unbalanced: 3 * s,
			look:  lookOutcome{start: 7 * s, end: 9 * s, balanced: true, lastChange: 2 * s},
			found: true,
			want:  balanceBound{unbalanced: 3 * s, atMost: 7 * s, look: 7 * s, decided: 9 * s}},
		{name: "a change noticed during the unbalanced look counts", unbalanced: 3 * s,
			look:  lookOutcome{start: 7 * s, end: 9 * s, balanced: true, lastChange: 3500 * ms},
			found: true,
			want:  balanceBound{unbalanced: 3 * s, atMost: 3500 * ms, byChange: true, look: 7 * s, decided: 9 * s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := judgeLook(tc.unbalanced, tc.look)
			assert.Equal(t, tc.found, found)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestBalanceBoundString(t *testing.T) {
	s := time.Second
	b := balanceBound{unbalanced: s, atMost: 1500 * time.Millisecond, byChange: true, look: 2 * s, decided: 5 * s}
	assert.Equal(t, "balanced at ≤ 1.50 s (the last change noticed before the look that found it); "+
		"after 1.00 s (the last look that saw it unbalanced started then); the look that found it started at 2.00 s and ended at 5.00 s", b.String())
	b.byChange, b.atMost = false, 2*s
	assert.Contains(t, b.String(), "balanced at ≤ 2.00 s (no change noticed since the last unbalanced look: the start of the look that found it)")
}

// The observer looks once its watches have been quiet for
// quietBeforeLook after a change, and at the latest fallbackLook after
// its last look.
func TestNextLook(t *testing.T) {
	end := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		n0, n uint64
		last  time.Time
		want  time.Time
	}{
		{name: "nothing changed: the fallback", n0: 3, n: 3, last: end.Add(-time.Second), want: end.Add(fallbackLook)},
		{name: "a change during the look: quiet after it", n0: 3, n: 4, last: end.Add(-100 * ms), want: end.Add(-100*ms + quietBeforeLook)},
		{name: "a change after the look", n0: 3, n: 5, last: end.Add(2 * time.Second), want: end.Add(2*time.Second + quietBeforeLook)},
		{name: "changes that never pause: the fallback", n0: 3, n: 90, last: end.Add(fallbackLook), want: end.Add(fallbackLook)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, nextLook(end, tc.n0, tc.n, tc.last))
		})
	}
}
