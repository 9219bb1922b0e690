package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/schedule/storekit"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// errCrashed is what a crashed session's dialer answers.
var errCrashed = errors.New("tbsbench: this session's process crashed")

// netCtl is one session's network: it counts the bytes both ways and can
// crash, that is close every connection at once and refuse new ones, so
// that the server sees the client vanish without a closeSession (as after
// kill -9) and expires the session after its timeout.
type netCtl struct {
	mu    sync.Mutex // guards dead and conns
	dead  bool
	conns []net.Conn
	bytes atomic.Uint64
}

func (n *netCtl) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dead {
		return nil, errCrashed
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	n.conns = append(n.conns, c)
	return &countConn{Conn: c, n: &n.bytes}, nil
}

func (n *netCtl) crash() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dead = true
	for _, c := range n.conns {
		_ = c.Close()
	}
}

// countConn adds the bytes read and written to n.
type countConn struct {
	net.Conn
	n *atomic.Uint64
}

func (c *countConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(uint64(k))
	return k, err
}

func (c *countConn) Write(p []byte) (int, error) {
	k, err := c.Conn.Write(p)
	c.n.Add(uint64(k))
	return k, err
}

// expiries counts the expiries a store reports.
type expiries struct {
	zkstore.NopMetrics
	n atomic.Int64
}

func (e *expiries) SessionState(st schedule.SessionState) {
	if st == schedule.SessionExpired {
		e.n.Add(1)
	}
}

// scaleSession is one simulated process: its own store (ZooKeeper session)
// and a strategy.Factory running the scenario's strategies.
type scaleSession struct {
	store   *zkstore.Store
	net     *netCtl
	expired *expiries
	factory *strategy.Factory
	cancel  context.CancelFunc
	done    chan struct{}
}

// openSession opens session i's store on root and makes its factory, with
// a deal for each task type.
func (b *bench) openSession(ctx context.Context, root string, i int, tts []schedule.TaskType) (ss *scaleSession, err error) {
	ss = &scaleSession{net: &netCtl{}, expired: &expiries{}}
	cfg := storeConfig(b.zk.Servers(), root)
	cfg.Dialer = ss.net.dial
	fc := strategy.DefaultConfig()
	fc.IP, fc.HostName = "127.0.0.1", fmt.Sprintf("scale-%d", i)
	storeLog := quiet
	if b.tl != nil {
		storeLog = slog.New(b.tl.handler(i))
	}
	if ss.store, err = zkstore.Open(ctx, cfg, zkstore.WithLogger(storeLog), zkstore.WithMetrics(ss.expired)); err != nil {
		return nil, err
	}
	var fstore storekit.Store = ss.store
	opts := []strategy.Option{strategy.WithLogger(quiet)}
	if tl := b.tl; tl != nil {
		fstore = &tracedStore{Store: ss.store, t: tl, sess: i}
		opts = []strategy.Option{strategy.WithLogger(slog.New(tl.handler(i))),
			strategy.WithEvents(func(e schedule.Event) { tl.event(i, e) })}
	}
	if ss.factory, err = strategy.NewFactory(fstore, fc, opts...); err != nil {
		_ = ss.store.Close()
		return nil, err
	}
	for _, tt := range tts {
		if err := ss.factory.RegisterDeal(tt.DealBeanName, onceDeal(nil)); err != nil {
			_ = ss.store.Close()
			return nil, err
		}
	}
	return ss, nil
}

// start runs the factory until stop or crash.
func (ss *scaleSession) start(ctx context.Context) {
	fctx, cancel := context.WithCancel(ctx)
	ss.cancel, ss.done = cancel, make(chan struct{})
	go func() {
		defer close(ss.done)
		_ = ss.factory.Run(fctx)
	}()
}

// crash ends the process abruptly: the connection drops without a
// closeSession, nothing is deregistered or handed over (every write fails:
// the store cannot reconnect), and the server expires the session after
// its timeout. It returns at once; finish waits for the factory to end.
func (ss *scaleSession) crash() {
	ss.net.crash()
	ss.cancel()
}

// finish closes the store (a live session ends at once with its ephemeral
// nodes) and waits up to bound for the factory to return; false: it did
// not.
func (ss *scaleSession) finish(bound time.Duration) bool {
	_ = ss.store.Close()
	if ss.cancel == nil {
		return true
	}
	ss.cancel()
	select {
	case <-ss.done:
		return true
	case <-time.After(bound):
		return false
	}
}

// finishAll finishes every session in parallel and returns how many
// factories did not return within bound.
func finishAll(sessions []*scaleSession, bound time.Duration) int {
	var stuck atomic.Int64
	var wg sync.WaitGroup
	for _, ss := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !ss.finish(bound) {
				stuck.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(stuck.Load())
}

// openSessions opens n sessions, 16 at a time, numbered from first.
func (b *bench) openSessions(ctx context.Context, root string, first, n int, tts []schedule.TaskType) ([]*scaleSession, error) {
	out := make([]*scaleSession, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = b.openSession(ctx, root, first+i, tts)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var opened []*scaleSession
		for _, ss := range out {
			if ss != nil {
				opened = append(opened, ss)
			}
		}
		finishAll(opened, time.Second)
		return nil, err
	}
	return out, nil
}
