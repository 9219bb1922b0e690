package zktest

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// proxyMode is what a Proxy does with traffic.
type proxyMode int

const (
	modePass proxyMode = iota
	modeCut
	modeBlackhole
)

// Proxy is a TCP fault proxy in front of a Cluster: one loopback listener
// per member forwarding to that member. Clients given Proxy.Servers reach
// the cluster through it, and the test decides what the network does:
// Pass, Cut, Blackhole or Delay. Its methods are safe for concurrent use.
type Proxy struct {
	addrs     []string
	dial      zk.Dialer // the cluster's recording dialer
	listeners []net.Listener
	wg        sync.WaitGroup // accept loops and connection pipes
	closed    chan struct{}  // closed by Close

	mu      sync.Mutex // guards the fields below
	mode    proxyMode
	delay   time.Duration
	changed chan struct{} // closed and replaced at every mode change
	conns   map[*proxyConn]struct{}
	done    bool // Close was called
}

// proxyConn is one client connection and its upstream connection.
type proxyConn struct {
	client, server net.Conn // server is nil until dialed
	once           sync.Once
}

// NewProxy starts a fault proxy for c, forwarding normally, and closes it in
// t.Cleanup.
func (c *Cluster) NewProxy(t testing.TB) *Proxy {
	t.Helper()
	p := &Proxy{
		dial:    c.Dialer(),
		closed:  make(chan struct{}),
		changed: make(chan struct{}),
		conns:   make(map[*proxyConn]struct{}),
	}
	for range c.members {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.Close()
			t.Fatalf("zktest: proxy listen: %v", err)
		}
		p.listeners = append(p.listeners, l)
		p.addrs = append(p.addrs, l.Addr().String())
	}
	for i, l := range p.listeners {
		target := c.members[i].addr
		p.wg.Add(1)
		go p.acceptLoop(l, target)
	}
	t.Cleanup(p.Close)
	return p
}

// Servers returns the proxy's listener addresses, one per member in member
// order: give them to a client instead of Cluster.Servers.
func (p *Proxy) Servers() []string { return append([]string(nil), p.addrs...) }

// Pass makes the proxy forward normally, without added delay (the
// default). Data held back by Blackhole flows again.
func (p *Proxy) Pass() { p.setMode(modePass, 0) }

// Delay makes the proxy forward every chunk of data at least d after it
// arrived. Delay(0) is Pass.
func (p *Proxy) Delay(d time.Duration) { p.setMode(modePass, d) }

// Cut closes every open connection and closes new ones as soon as they are
// accepted, until Pass or Delay: clients see their connection drop and
// reconnects fail at once.
func (p *Proxy) Cut() { p.setMode(modeCut, 0) }

// Blackhole keeps connections open and accepts new ones but forwards
// nothing either way, as in a network partition: clients see silence until
// their timeouts fire. Data and end-of-stream are held back, not dropped;
// they flow on Pass or Delay.
func (p *Proxy) Blackhole() { p.setMode(modeBlackhole, 0) }

func (p *Proxy) setMode(mode proxyMode, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.delay = mode, delay
	close(p.changed)
	p.changed = make(chan struct{})
	if mode == modeCut {
		for pc := range p.conns {
			pc.closeLocked(p)
		}
	}
}

// Close closes the listeners and every connection and waits until all the
// proxy's goroutines have exited. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.done = true
	close(p.closed)
	for _, l := range p.listeners {
		_ = l.Close()
	}
	for pc := range p.conns {
		pc.closeLocked(p)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) acceptLoop(l net.Listener, target string) {
	defer p.wg.Done()
	for {
		client, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-p.closed:
				return
			case <-time.After(10 * time.Millisecond): // e.g. too many open files
				continue
			}
		}
		pc := &proxyConn{client: client}
		p.mu.Lock()
		if p.done || p.mode == modeCut {
			p.mu.Unlock()
			_ = client.Close()
			continue
		}
		p.conns[pc] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(pc, target)
	}
}

// serve dials the member and runs the two pipes of one connection.
func (p *Proxy) serve(pc *proxyConn, target string) {
	defer p.wg.Done()
	server, err := p.dial("tcp", target, 2*time.Second) // records sessions for ExpireSession
	if err != nil {
		p.closeConn(pc) // the member is down: the client sees the drop
		return
	}
	p.mu.Lock()
	if _, open := p.conns[pc]; !open { // cut or closed while dialing
		p.mu.Unlock()
		_ = server.Close()
		return
	}
	pc.server = server
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		p.pipe(pc, server, pc.client)
	}()
	p.pipe(pc, pc.client, server)
}

// pipe copies src to dst, obeying the mode, until either side fails; then
// it closes the connection, which ends the other pipe too.
func (p *Proxy) pipe(pc *proxyConn, src, dst net.Conn) {
	defer p.closeConn(pc)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if !p.await(time.Now()) {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// await blocks until data that arrived at arrived may be forwarded: while
// blackholed, and until the delay has passed. It returns false when the
// proxy cuts or closes.
func (p *Proxy) await(arrived time.Time) bool {
	for {
		p.mu.Lock()
		mode, delay, changed := p.mode, p.delay, p.changed
		p.mu.Unlock()
		var timer *time.Timer
		var wait <-chan time.Time // nil while blackholed: wait for a change
		switch mode {
		case modeCut:
			return false
		case modePass:
			remaining := time.Until(arrived.Add(delay))
			if remaining <= 0 {
				return true
			}
			timer = time.NewTimer(remaining)
			wait = timer.C
		}
		select {
		case <-p.closed:
			if timer != nil {
				timer.Stop()
			}
			return false
		case <-changed:
		case <-wait:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (p *Proxy) closeConn(pc *proxyConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.closeLocked(p)
}

// closeLocked closes both sides once and forgets the connection; p.mu is
// held.
func (pc *proxyConn) closeLocked(p *Proxy) {
	pc.once.Do(func() {
		_ = pc.client.Close()
		if pc.server != nil {
			_ = pc.server.Close()
		}
	})
	delete(p.conns, pc)
}

// String describes the proxy for test logs.
func (p *Proxy) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := [...]string{modePass: "pass", modeCut: "cut", modeBlackhole: "blackhole"}
	return fmt.Sprintf("zktest.Proxy%v(%s, delay %v)", p.addrs, names[p.mode], p.delay)
}
