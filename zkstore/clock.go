package zkstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
)

// Cluster time.
//
// A calibration creates a throw-away EPHEMERAL_SEQUENTIAL node
// <root>/systime<seq>, then reads its ctime and deletes it in one multi (a
// setData, whose answer carries the node's stat, and a delete). ctime is the
// ZooKeeper leader's clock when it ordered the create. The offset is ctime
// minus the local time at the middle of the create's round trip, so its
// error is at most half that round trip (plus ctime's millisecond), so a
// sample slower than maxCalibrationRTT does not replace a valid calibration.
// The node is ephemeral, so nothing survives even if the delete is lost.
//
// Now adds the local monotonic time elapsed since the calibration to the
// calibrated cluster time: no request per call, and immune to steps of the
// local wall clock between calibrations.

// maxCalibrationRTT is the slowest round trip whose sample replaces a
// valid calibration: the sample's error is at most half of it.
const maxCalibrationRTT = 500 * time.Millisecond

type calibration struct {
	run sync.Mutex // serializes calibrations

	mu        sync.Mutex // guards the fields below
	valid     bool
	info      storekit.ClockInfo
	localAt   time.Time // local reading (with monotonic clock) at the calibration
	clusterAt time.Time // cluster time at that instant
	noAuth    bool      // the client may not create the node: cluster time = local time
	gen       int       // calibrations so far
}

// Now returns the current cluster time (see the package documentation). It
// calibrates first if the store never has.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	if s.isClosed() {
		return time.Time{}, opErr("now", s.p.systime(), schedule.ErrClosed, nil)
	}
	if t, ok := s.clusterNow(); ok {
		return t, nil
	}
	if err := s.calibrate(ctx, false); err != nil {
		return time.Time{}, err
	}
	t, _ := s.clusterNow()
	return t, nil
}

func (s *Store) clusterNow() (time.Time, bool) {
	c := &s.cal
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.valid:
		return c.clusterAt.Add(s.clock.Now().Sub(c.localAt)), true
	case c.noAuth:
		return s.clock.Now(), true
	}
	return time.Time{}, false
}

// ClockInfo returns the last calibration (zero if none succeeded yet).
func (s *Store) ClockInfo() storekit.ClockInfo {
	s.cal.mu.Lock()
	defer s.cal.mu.Unlock()
	return s.cal.info
}

// calibrate measures the offset of cluster time. Unless force, it does
// nothing when a calibration is already valid (another caller just made one).
func (s *Store) calibrate(ctx context.Context, force bool) error {
	c := &s.cal
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	c.run.Lock()
	defer c.run.Unlock()
	c.mu.Lock()
	fresh := c.gen != gen // calibrated while this call waited
	c.mu.Unlock()
	if fresh {
		return nil
	}
	if !force {
		if _, ok := s.clusterNow(); ok {
			return nil
		}
	}
	const op = "calibrate"
	path := s.p.systime()
	var created string
	var t0, t1 time.Time
	lost := false // a create lost its answer: it may have made a node
	defer func() {
		if lost {
			s.sweepSystime()
		}
	}()
	err := s.retry(ctx, op, path, func() error {
		t0 = s.clock.Now()
		p, err := s.create(ctx, path, nil, zk.FlagEphemeral|zk.FlagSequence)
		t1 = s.clock.Now()
		created = p
		lost = lost || isConnLoss(err)
		return err
	}, nil)
	if errors.Is(err, zk.ErrNoAuth) {
		// A read-only client cannot calibrate; it falls back to local time.
		c.mu.Lock()
		first := !c.noAuth
		c.noAuth = true
		c.mu.Unlock()
		if first {
			s.log.Warn("zkstore: cannot calibrate cluster time without write access; using the local clock", keyPath, path)
		}
		return nil
	}
	if err != nil {
		return s.wrapErr(op, path, err)
	}
	res, err := s.multi(ctx, &zk.SetDataRequest{Path: created, Data: nil, Version: -1}, &zk.DeleteRequest{Path: created, Version: -1})
	if err != nil || len(res) == 0 || res[0].Stat == nil {
		if err == nil {
			err = errors.New("no stat in the answer")
		}
		if err := s.deleteNode(context.WithoutCancel(ctx), created, -1); err != nil && !isNoNode(err) {
			lost = true
		}
		return s.wrapErr(op, created, err)
	}
	rtt := t1.Sub(t0)
	c.mu.Lock()
	have := c.valid
	c.mu.Unlock()
	if rtt > maxCalibrationRTT && have {
		// A slow round trip (a leader election, a reconnect) makes a poor
		// sample: its error is up to half of it. Keep the previous
		// calibration, which the monotonic clock carries exactly.
		return fmt.Errorf("zkstore: calibrate: round trip %v is too slow for an accurate sample (limit %v); the previous calibration stays", rtt, maxCalibrationRTT)
	}
	mid := t0.Add(rtt / 2)
	cluster := time.UnixMilli(res[0].Stat.Ctime)
	offset := cluster.Sub(mid)
	c.mu.Lock()
	c.valid, c.noAuth = true, false
	c.gen++
	c.localAt, c.clusterAt = mid, cluster
	c.info = storekit.ClockInfo{Offset: offset, RTT: rtt, At: mid}
	c.mu.Unlock()
	if offset > s.cfg.ClockDriftWarning || -offset > s.cfg.ClockDriftWarning {
		s.log.Warn("zkstore: local clock differs from cluster time", "offset", offset, "rtt", rtt, "threshold", s.cfg.ClockDriftWarning)
	} else {
		s.log.Debug("zkstore: calibrated cluster time", "offset", offset, "rtt", rtt)
	}
	return nil
}

// sweepSystime deletes, in the background, the throw-away systime nodes of
// the current session: a create whose answer was lost may have made one
// (the retry makes another), and a delete may have failed. They are
// ephemeral, but a store's session lasts as long as the store, and such a
// node stayed for all of it (the chaos suite's leak check found one left
// by an observer that lived through ZooKeeper restarts).
func (s *Store) sweepSystime() {
	id := s.conn.SessionID()
	s.goFunc(func() {
		// Not beside a calibration, whose node it would delete.
		s.cal.run.Lock()
		defer s.cal.run.Unlock()
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		names, err := s.children(ctx, s.p.rootPath())
		if err != nil {
			s.log.Debug("zkstore: sweeping systime nodes failed", keyPath, s.p.rootPath(), "err", err)
			return
		}
		for _, n := range names {
			if !strings.HasPrefix(n, nodeSystime) {
				continue
			}
			p := s.p.rootPath() + "/" + n
			st, err := s.exists(ctx, p)
			if err == nil && st != nil && st.EphemeralOwner == id {
				err = s.deleteNode(ctx, p, st.Version)
			}
			if err != nil && !isNoNode(err) {
				s.log.Debug("zkstore: sweeping a systime node failed", keyPath, p, "err", err)
			}
		}
	})
}

// calibrationLoop calibrates at once (unless Now just did), then every
// CalibrationInterval.
func (s *Store) calibrationLoop() {
	backoff := time.Second
	next := time.Duration(0)
	for {
		t := s.clock.NewTimer(next)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		if at := s.ClockInfo().At; !at.IsZero() {
			if age := s.clock.Now().Sub(at); age < s.cfg.CalibrationInterval {
				next = s.cfg.CalibrationInterval - age
				continue
			}
		}
		err := s.calibrate(s.ctx, true)
		switch {
		case err == nil:
			next, backoff = s.cfg.CalibrationInterval, time.Second
		case s.isClosed():
			return
		default:
			s.log.Warn("zkstore: cluster time calibration failed; will retry", "err", err, "in", backoff)
			next = backoff
			backoff = min(backoff*2, s.cfg.CalibrationInterval)
		}
	}
}
