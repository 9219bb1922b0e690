package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// testDisruption (only with Harness.Disrupt): while the backend is
// unavailable, operations fail or block (or succeed, if the backend
// recovers by itself, as an ensemble does) but never report a lost
// session; once it is restored, operations succeed again on the same
// sessions, registrations are still there and watches still fire.
func testDisruption(e *env) {
	if e.h.Disrupt == nil {
		e.Skip("the harness cannot disrupt its backend")
	}
	a, b := e.client(), e.client()
	e.createTaskType(a, e.name)
	sessA, sessB := e.session(a), e.session(b)
	srv := e.registerServer(a, e.name, "10.0.5.1")
	fac := e.registerFactory(a, "10.0.5.1", e.name)
	ch := e.watch(b, storekit.WatchServers, e.name)

	start := time.Now()
	restore := e.h.Disrupt(e.T)
	restored := false
	defer func() {
		if !restored {
			restore()
		}
	}()
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Wait/5)
	err := a.UpdateServer(ctx, srv)
	cancel()
	if err != nil {
		assert.False(e, isOneOf(err, schedule.ErrSessionLost, schedule.ErrClosed, schedule.ErrNotFound),
			"an operation during the disruption reported %v", err)
	}
	restore()
	restored = true
	outage := time.Since(start)
	// A client learns of an expiry only when it reconnects: check at every poll.
	sessionsKept := func() {
		for _, sess := range []storekit.Session{sessA, sessB} {
			select {
			case <-sess.Done():
				e.Fatalf("session %#x ended during the disruption (%v): Disrupt and its restore took %s "+
					"for a session timeout of %s; the harness must keep the outage within the session timeout",
					sess.ID(), sess.Err(), outage, sess.Timeout())
			default:
			}
		}
	}

	e.eventually("operations succeed after the restore", func() error {
		sessionsKept()
		ctx, cancel := context.WithTimeout(e.ctx, e.h.Wait/5)
		defer cancel()
		if err := a.UpdateServer(ctx, srv); err != nil {
			return err
		}
		_, err := b.Servers(ctx, e.name)
		return err
	})
	for _, p := range []struct {
		s   storekit.Store
		old storekit.Session
	}{{a, sessA}, {b, sessB}} {
		cur := e.session(p.s)
		assert.Equal(e, p.old.ID(), cur.ID(), "the session changed across the disruption")
		e.eventually("the session is connected again", func() error {
			if st := cur.State(); st != schedule.SessionConnected {
				return fmt.Errorf("session %#x is %s", cur.ID(), st)
			}
			return nil
		})
		assert.NoError(e, p.old.Err())
	}
	eventuallyEqual(e, "the registration survived the disruption", []schedule.ServerID{srv.UUID}, func() ([]schedule.ServerID, error) {
		servers, err := b.Servers(e.ctx, e.name)
		return serverIDs(servers), err
	})
	eventuallyEqual(e, "the factory survived the disruption", []schedule.FactoryID{fac.UUID}, func() ([]schedule.FactoryID, error) {
		fs, err := b.Factories(e.ctx)
		var ids []schedule.FactoryID
		for _, f := range ownFactories(fs, e.name) {
			ids = append(ids, f.UUID)
		}
		return ids, err
	})
	e.step(ch, "a server joined after the disruption", func() error {
		_, err := b.RegisterServer(e.ctx, e.session(b), SampleServer(e.name, "10.0.5.2"))
		return err
	})
}
