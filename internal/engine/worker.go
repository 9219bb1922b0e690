package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/dealrun"
	"github.com/tbschedule/tbschedule-go/processor"
)

// work is the loop of one goroutine of a Run. It holds mu except while it
// runs user code or sleeps.
//
// SLEEP: a goroutine fetches only when the queue is empty, no fetch is in
// progress and no goroutine is executing, i.e. it is the last one to go idle;
// the others wait on cond, which the fetcher broadcasts when it queued records.
// NOTSLEEP: any goroutine fetches as soon as the queue is empty and no fetch
// is in progress. Both: everything the decision reads is guarded by mu and
// every change that can enable a waiting goroutine broadcasts cond under mu,
// so no wake-up is lost and no goroutine polls.
func (p *Processor) work(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.stopping {
		switch {
		case p.cur != nil:
			p.executeLocked(w)
		case p.canFetchLocked() && !isDone(w.done):
			p.fetchLocked(w)
		case p.paused != "" && !p.pauseNotified && len(p.active) == 0:
			p.notifyPauseLocked(w)
		default:
			p.cond.Wait()
		}
	}
}

// canFetchLocked tells whether a goroutine may call SelectTasks now.
func (p *Processor) canFetchLocked() bool {
	return p.cur == nil && !p.fetching && !p.dupWait && p.mayFetchLocked() &&
		(p.cfg.Type == processor.NotSleep || p.busy == 0)
}

// mayFetchLocked: nothing forbids fetching (queue state aside).
func (p *Processor) mayFetchLocked() bool {
	return !p.stopping && !p.fenced && p.paused == "" && len(p.items) > 0
}

// leaseRetry is how often a fetcher looks at a lapsed lease again.
const leaseRetry = 10 * time.Millisecond

// leaseValid asks the lease (WithLease). Called with mu held; the lease is
// cheap and does not block.
func (p *Processor) leaseValid() bool { return p.lease == nil || p.lease() }

// dropLapsedLocked drops the queue because the lease lapsed.
func (p *Processor) dropLapsedLocked() {
	n := p.takeQueuedLocked()
	p.stats.Lapsed += int64(n)
	p.mu.Unlock()
	p.log.Warn("processor: lease lapsed: queued records dropped", "dropped", n)
	p.mDropped(n, processor.DropLapsed)
	p.mu.Lock()
}

// executeLocked takes a chunk of the queue and executes it, unless the lease
// lapsed: then it drops the queue.
func (p *Processor) executeLocked(w *worker) {
	if !p.leaseValid() {
		p.dropLapsedLocked()
		return
	}
	f := p.cur
	avail := f.n - f.next
	n := min(max(avail/(2*p.cfg.ThreadNumber), 1), maxChunk)
	if e := p.env.ExecNum; e > 1 {
		n = (n + e - 1) / e * e
	}
	n = min(n, avail)
	lo, hi := f.next, f.next+n
	if f.next = hi; f.next == f.n {
		p.cur = nil
	}
	p.busy++
	w.phase, w.f = phaseExec, f
	p.mu.Unlock()

	start := p.clock.Now()
	res := p.run.Run(f.ctx, f.data, lo, hi, f.gen)
	end := p.clock.Now()
	d := end.Sub(start)
	p.mDealt(res.OK, res.Failed, d)
	dropped := n - res.Done
	reason := processor.DropFenced
	switch {
	case dropped == 0:
	case p.stopped.Load():
		reason = processor.DropStopped
	case p.gen.Load() == f.gen:
		reason = processor.DropLapsed // the generation held: the lease stopped the run
	}
	p.mDropped(dropped, reason)

	p.mu.Lock()
	p.run.Forget(f.data, lo, hi)
	// Back the failed keys off, and log, before the records count as done.
	p.settleLocked(f, lo, lo+res.Done, res, end)
	p.busy--
	w.phase, w.f = phaseIdle, nil
	st := &p.stats
	st.Succeeded += int64(res.OK)
	st.Failed += int64(res.Failed)
	st.Panics += int64(res.Panics)
	st.DealTime += d
	if reason == processor.DropLapsed {
		st.Lapsed += int64(dropped)
	} else if dropped > 0 {
		p.countDropLocked(dropped)
	}
	p.finishRecordsLocked(f, n)
}

// fetchLocked calls SelectTasks once, queues what it returned, and sleeps as
// configured (SleepTimeInterval before, SleepTimeNoData after an empty fetch,
// backoff after an error), keeping the fetch turn meanwhile.
func (p *Processor) fetchLocked(w *worker) {
	p.fetching = true
	w.phase = phaseFetch
	defer func() {
		p.fetching = false
		w.phase, w.f = phaseIdle, nil
	}()
	if d := max(p.cfg.SleepTimeInterval, p.retryPauseLocked()); d > 0 {
		p.sleepLocked(d, w.done)
		if !p.mayFetchLocked() || isDone(w.done) {
			return
		}
	}
	if !p.leaseValid() {
		// No fetch under a lapsed lease; keep the fetch turn and look again.
		p.sleepLocked(leaseRetry, w.done)
		return
	}

	items := slices.Clone(p.items)
	p.fetchSeq++
	f := &fetchRec{seq: p.fetchSeq, items: items, gen: p.gen.Load(), pending: 1, selecting: true}
	f.ctx = context.WithValue(p.dealCtx, dealrun.ItemsKey{}, slices.Clone(items))
	sctx, cancel := context.WithCancel(f.ctx)
	p.fetchCancel = cancel
	p.run.BeginFetch()
	p.active = append(p.active, f)
	w.f = f
	p.fetchCount++
	req := processor.SelectRequest{
		TaskParameter: p.cfg.TaskParameter,
		OwnSign:       p.cfg.OwnSign,
		TaskItemNum:   p.taskItemNum,
		Items:         slices.Clone(items),
		FetchNum:      p.cfg.FetchDataNumber,
	}
	p.mu.Unlock()

	start := p.clock.Now()
	data, raw, bad, err := p.run.Fetch(sctx, req)
	end := p.clock.Now()
	d := end.Sub(start)
	cancel()

	p.mu.Lock()
	p.fetchCancel = nil
	f.selecting = false
	st := &p.stats
	st.FetchCalls++
	st.LastFetch = start
	st.Fetched += int64(raw)
	st.Failed += int64(bad)
	st.Panics += int64(bad)
	var perr *panicError
	if err != nil {
		st.FetchErrors++
		if errors.As(err, &perr) {
			st.Panics++
		}
	}
	kept, dups, dropped := 0, 0, 0
	var adm dealrun.Admitted
	stale := f.gen != p.gen.Load()
	if data != nil {
		if stale {
			dropped = raw - bad
			p.countDropLocked(dropped)
			p.run.Recycle(data)
		} else {
			adm = p.run.Admit(data, end)
			kept, dups = adm.Kept, adm.Dups
			st.DuplicatesSuppressed += int64(dups)
			st.Deferred += int64(adm.Held)
			f.data, f.n = data, kept
		}
	}
	p.run.EndFetch()
	f.pending += kept - 1
	if kept > 0 {
		p.cur = f
		p.cond.Broadcast()
	}
	if f.pending == 0 {
		p.finishFetchLocked(f)
	}
	if lim := p.cfg.FetchDataCountEachSchedule; lim > 0 && p.fetchCount >= lim && p.paused == "" {
		p.paused = PauseFetchLimit
	}
	var pause time.Duration
	noData := err == nil && !stale && raw == 0
	switch {
	case err != nil:
		p.fetchErrs++
		pause = p.backoff()
	case stale:
	case raw == 0:
		p.fetchErrs = 0
		if p.cfg.PauseWhenNoData {
			if p.paused == "" {
				p.paused = PauseNoData
			}
		} else {
			pause = max(p.cfg.SleepTimeNoData, 0)
		}
	case kept == 0 && dups > 0 && len(p.active) > 0:
		// Every record is still in flight: fetching again before one of
		// them finishes would return the same records.
		p.fetchErrs = 0
		p.dupWait = true
	case kept == 0 && adm.Held > 0:
		// Every record backs off after a failure: wait for the first.
		p.fetchErrs = 0
		pause = dealrun.HeldPause(adm.Wake, end, max(p.cfg.SleepTimeNoData, 0))
	case kept == 0 && dups > 0:
		// The duplicates finished while SelectTasks ran and nothing is in
		// flight: no finish would end a wait, so fetch again at once.
		p.fetchErrs = 0
	case kept == 0:
		p.fetchErrs = 0
		pause = max(p.cfg.SleepTimeNoData, 0) // every key panicked
	default:
		p.fetchErrs = 0
	}
	p.mu.Unlock()

	p.mFetched(raw, dups, d, err)
	p.mDropped(dropped, processor.DropFenced)
	if noData && p.cfg.OnNoData != nil {
		p.callOnNoData()
	}
	if err != nil {
		if perr != nil {
			p.log.Error("processor: SelectTasks panicked",
				"items", itemIDs(items), "err", err, "stack", string(perr.Stack))
		} else {
			p.log.Warn("processor: SelectTasks failed",
				"items", itemIDs(items), "err", err, "retryIn", pause)
		}
	}
	p.mu.Lock()
	p.sleepLocked(pause, w.done)
}

// isDone tells whether done is closed (Run's ctx cancelled, before shutdown
// took the lock to set stopping).
func isDone(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// backoff is the pause after the fetchErrs-th failed fetch in a row:
// exponential from max(SleepTimeNoData, 100ms) up to a minute, jittered ±20%.
func (p *Processor) backoff() time.Duration {
	base := max(p.cfg.SleepTimeNoData, 100*time.Millisecond)
	d := base
	for i := 1; i < p.fetchErrs && d < time.Minute; i++ {
		d *= 2
	}
	d = min(d, max(time.Minute, base))
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// notifyPauseLocked reports a pause once the processor is drained.
func (p *Processor) notifyPauseLocked(w *worker) {
	p.pauseNotified = true
	reason := p.paused
	w.phase = phaseHook
	p.mu.Unlock()
	p.log.Info("processor: paused", "reason", string(reason))
	if p.cfg.OnPause != nil {
		p.callOnPause(reason)
	}
	p.mu.Lock()
	w.phase = phaseIdle
}

func (p *Processor) callOnPause(r PauseReason) {
	defer p.recoverHook("OnPause")
	p.cfg.OnPause(r)
}

func (p *Processor) callOnNoData() {
	defer p.recoverHook("OnNoData")
	p.cfg.OnNoData()
}
