package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/dealrun"
	"github.com/tbschedule/tbschedule-go/processor"
)

// The engine's half of the retry of failed records: the runner of the deal
// (package processor) keeps the failing keys and holds their records back;
// the engine backs the fetch off when failures have no key (FetchPause),
// books what the runner settled, logs it and reports it. The decisions are
// in package dealrun.

// retryPauseLocked applies dealrun.FetchPause before a fetch. Lock held.
func (p *Processor) retryPauseLocked() time.Duration {
	rs := &p.env.Retry
	var d time.Duration
	rs.Streak, d = dealrun.FetchPause(rs.Streak, rs.OK, rs.Untracked, rs.Pol, rand.Float64())
	rs.OK, rs.Untracked = 0, 0
	return d
}

// settleLocked books the outcome of executed records [lo, hi) of f (their
// failures in res) and reports them: it unlocks to log and call Metrics when
// something failed. Lock held.
func (p *Processor) settleLocked(f *fetchRec, lo, hi int, res dealrun.ExecResult, now time.Time) {
	rs := &p.env.Retry
	rs.OK += res.OK
	if len(res.Fails) == 0 && rs.Keys.Load() == 0 {
		return // the common case: nothing failed, nothing to forget
	}
	s := p.run.Settle(f.data, lo, hi, res.Fails, now)
	rs.Untracked += s.Untracked
	if s.Keyed+s.Untracked == 0 && len(s.Recovered) == 0 {
		return
	}
	p.mu.Unlock()
	defer p.mu.Lock()
	p.reportKeys(s)
	if s.Keyed+s.Untracked == 0 {
		return
	}
	items := itemIDs(processor.ItemsFromContext(f.ctx))
	for _, n := range s.Notes {
		p.logFailure(f.ctx, n, items)
	}
	p.mRetrying(s.Keyed+s.Untracked, int(rs.Keys.Load()))
}

// logFailure writes one failure line: a first failure at Warn (Error with the
// stack for a panic), a repeat with its count.
func (p *Processor) logFailure(ctx context.Context, n dealrun.FailNote, items []string) {
	args := []any{"items", items, "err", n.Err}
	if n.Keys != nil {
		args = append(args, "keys", n.Keys)
	}
	if n.RetryIn > 0 {
		args = append(args, "retryIn", n.RetryIn)
	}
	var pe *panicError
	panicked := errors.As(n.Err, &pe)
	msg := "processor: deal failed"
	switch {
	case !n.First:
		msg = "processor: deal keeps failing"
		args = append(args, "moreFailures", n.Count, "failingKeys", n.Failing)
	case panicked:
		msg = "processor: deal panicked"
	}
	if panicked {
		p.log.ErrorContext(ctx, msg, append(args, "stack", string(pe.Stack))...)
		return
	}
	p.log.WarnContext(ctx, msg, args...)
}

func (p *Processor) mRetrying(records, keys int) {
	if p.metrics == nil {
		return
	}
	defer p.recoverHook("Metrics.Retrying")
	p.metrics.Retrying(records, keys)
}

// reportKeys calls the WithFailing hook for the keys that started failing
// and those that recovered. No lock held.
func (p *Processor) reportKeys(s dealrun.Settled) {
	if p.failing == nil {
		return
	}
	defer p.recoverHook("WithFailing")
	for _, f := range s.Failing {
		p.failing(f.Key, f.Err)
	}
	for _, k := range s.Recovered {
		p.failing(k, nil)
	}
}
