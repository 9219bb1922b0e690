package zktest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Timing of the servers and of every wait. Sessions of 1 s to 60 s are
// accepted; the server checks expiry every tick.
const (
	tickTime          = 100 * time.Millisecond
	minSessionTimeout = 2 * tickTime
	maxSessionTimeout = 60 * time.Second

	startTimeout  = 60 * time.Second // JVM start + election, on a loaded machine
	waitTimeout   = 30 * time.Second // Leader, WaitServing
	stopTimeout   = 15 * time.Second // SIGTERM before SIGKILL
	pollInterval  = 50 * time.Millisecond
	flwTimeout    = time.Second
	startAttempts = 3 // retries of a start that lost a port race
)

// Cluster is a set of ZooKeeper servers for tests: one standalone server or
// an ensemble, started by this package (or external, see ZK_TEST_SERVERS).
// Its methods are safe for concurrent use.
type Cluster struct {
	inst     install
	external bool
	members  []*Member
	sessions sessionBook
}

// Member is one server of a Cluster. Its fault methods (Stop, Kill, Restart,
// Pause, Resume) fail the test on a Cluster with external servers.
type Member struct {
	c            *Cluster
	index        int
	addr         string
	clientPort   int
	quorumPort   int
	electionPort int
	dir          string // zoo.cfg, data/, zookeeper.log

	mu sync.Mutex // guards p
	p  *proc      // nil before the first start
}

// StartStandalone starts a fresh standalone server, waits until it serves
// and stops it in t.Cleanup. It skips t (see Require) when ZooKeeper is not
// installed.
func StartStandalone(t testing.TB) *Cluster {
	t.Helper()
	return startForTest(t, 1)
}

// StartEnsemble starts a fresh ensemble of n servers (3 is typical), waits
// until every member serves and stops it in t.Cleanup. It skips t (see
// Require) when ZooKeeper is not installed.
func StartEnsemble(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("zktest: StartEnsemble(%d): need at least one member", n)
	}
	return startForTest(t, n)
}

func startForTest(t testing.TB, n int) *Cluster {
	t.Helper()
	Require(t)
	inst, err := findInstall()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // before the stop cleanup, so it is removed after it
	c, err := startCluster(inst, dir, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.logTails(t)
		}
		c.kill()
	})
	return c
}

// startCluster starts n servers under dir and waits until all serve. On
// error every process it started is reaped.
func startCluster(inst install, dir string, n int) (*Cluster, error) {
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var c *Cluster
		c, err = newCluster(inst, dir, n)
		if err != nil {
			return nil, err
		}
		if err = c.startAll(); err == nil {
			return c, nil
		}
		c.kill()
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, err
}

// newCluster picks free ports and writes the configuration of n members.
func newCluster(inst install, dir string, n int) (*Cluster, error) {
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{inst: inst}
	for i := range n {
		c.members = append(c.members, &Member{
			c:            c,
			index:        i,
			clientPort:   ports[3*i],
			quorumPort:   ports[3*i+1],
			electionPort: ports[3*i+2],
			addr:         net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[3*i])),
			dir:          filepath.Join(dir, fmt.Sprintf("zk%d", i+1)),
		})
	}
	for _, m := range c.members {
		if err := m.writeConfig(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("zktest: pick a free port: %w", err)
		}
		defer l.Close() // hold all until every port is picked, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (m *Member) cfgPath() string { return filepath.Join(m.dir, "zoo.cfg") }
func (m *Member) logPath() string { return filepath.Join(m.dir, "zookeeper.log") }
func (m *Member) dataDir() string { return filepath.Join(m.dir, "data") }
func (m *Member) ensemble() bool  { return len(m.c.members) > 1 }
func (c *Cluster) quorum() int    { return len(c.members)/2 + 1 }
func (c *Cluster) kind() string {
	if len(c.members) == 1 {
		return "standalone server"
	}
	return fmt.Sprintf("%d-node ensemble", len(c.members))
}

// writeConfig writes a fresh member directory: zoo.cfg, data/ and myid.
func (m *Member) writeConfig() error {
	if err := os.RemoveAll(m.dir); err != nil {
		return fmt.Errorf("zktest: clear %s: %w", m.dir, err)
	}
	if err := os.MkdirAll(m.dataDir(), 0o755); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", tickTime.Milliseconds())
	fmt.Fprintf(&b, "initLimit=50\nsyncLimit=20\n") // 5 s and 2 s
	fmt.Fprintf(&b, "minSessionTimeout=%d\n", minSessionTimeout.Milliseconds())
	fmt.Fprintf(&b, "maxSessionTimeout=%d\n", maxSessionTimeout.Milliseconds())
	fmt.Fprintf(&b, "dataDir=%s\n", m.dataDir())
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", m.clientPort)
	b.WriteString("maxClientCnxns=0\n")
	b.WriteString("4lw.commands.whitelist=*\n")
	b.WriteString("admin.enableServer=false\n")
	b.WriteString("forceSync=no\n")      // tests do not need fsync; page cache survives a kill
	b.WriteString("preAllocSize=1024\n") // KB; the default preallocates 64 MB logs
	b.WriteString("autopurge.purgeInterval=0\n")
	if m.ensemble() {
		for _, o := range m.c.members {
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", o.index+1, o.quorumPort, o.electionPort)
		}
		if err := os.WriteFile(filepath.Join(m.dataDir(), "myid"), []byte(strconv.Itoa(m.index+1)+"\n"), 0o644); err != nil {
			return fmt.Errorf("zktest: %w", err)
		}
	}
	if err := os.WriteFile(m.cfgPath(), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}

// errPortInUse marks a start that failed because a port picked by
// freePorts was taken in between.
var errPortInUse = errors.New("zktest: port in use")

// startAll starts every member and waits until all serve.
func (c *Cluster) startAll() error {
	for _, m := range c.members {
		if err := m.spawn(); err != nil {
			return err
		}
	}
	return c.waitAll(time.Now().Add(startTimeout))
}

// waitAll waits until every member serves and a real request succeeds.
func (c *Cluster) waitAll(deadline time.Time) error {
	for {
		serving := 0
		var notServing []string
		for _, m := range c.members {
			if err := m.startFailed(true); err != nil {
				return err
			}
			if mode, err := serverMode(m.addr); err == nil && servingMode(mode) {
				serving++
			} else {
				notServing = append(notServing, fmt.Sprintf("%v: %v", m, err))
			}
		}
		var err error
		if serving == len(c.members) {
			if err = probeSession(c.members[0].addr, flwTimeout); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New(strings.Join(notServing, "; "))
			}
			return fmt.Errorf("zktest: %s did not serve within %v: %w\n%s", c.kind(), startTimeout, err, c.tails())
		}
		time.Sleep(pollInterval)
	}
}

// spawn starts the member's process with its existing config and data.
func (m *Member) spawn() error {
	p, err := startProc(m.c.inst.java, m.c.inst.jvmArgs(m.cfgPath(), m.dir), m.dir, m.logPath())
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.p = p
	m.mu.Unlock()
	return nil
}

// startFailed returns an error when the member's process has exited, or
// (when portCheck) its log says one of its ports was taken: a process that
// lost the race for its quorum port may keep running without serving.
func (m *Member) startFailed(portCheck bool) error {
	p := m.proc()
	if p == nil {
		return nil
	}
	exited := p.exited()
	if !exited && !portCheck {
		return nil
	}
	tail := logTail(m.logPath())
	inUse := strings.Contains(tail, "Address already in use")
	switch {
	case exited && inUse:
		return errors.Join(errPortInUse, fmt.Errorf("zktest: %v exited during start (%v), a port was in use; log tail:\n%s", m, p.err, tail))
	case exited:
		return fmt.Errorf("zktest: %v exited during start (%v); log tail:\n%s", m, p.err, tail)
	case inUse:
		return errors.Join(errPortInUse, fmt.Errorf("zktest: %v: a port was in use; log tail:\n%s", m, tail))
	}
	return nil
}

func (m *Member) proc() *proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p
}

// kill kills every member's process.
func (c *Cluster) kill() {
	for _, m := range c.members {
		if p := m.proc(); p != nil {
			p.kill()
		}
	}
}

func (c *Cluster) tails() string {
	var b strings.Builder
	for _, m := range c.members {
		if c.external {
			continue
		}
		fmt.Fprintf(&b, "%v log tail:\n%s\n", m, logTail(m.logPath()))
	}
	return b.String()
}

func (c *Cluster) logTails(t testing.TB) {
	if !c.external {
		t.Logf("zktest: server logs after failure:\n%s", c.tails())
	}
}

// Servers returns the client address ("127.0.0.1:port") of each member, in
// member order.
func (c *Cluster) Servers() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.addr
	}
	return out
}

// Member returns member i (0-based, in the order of Servers). It panics
// when i is out of range.
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Size returns the number of members.
func (c *Cluster) Size() int { return len(c.members) }

// Leader returns the index of the member that srvr reports as leader (or
// standalone), waiting for an election to finish; it fails t when none is
// found within 30 s.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var status []string
		for i, m := range c.members {
			mode, err := serverMode(m.addr)
			if err == nil && (mode == "leader" || mode == "standalone") {
				return i
			}
			status = append(status, fmt.Sprintf("%v: mode %q %v", m, mode, err))
		}
		if time.Now().After(deadline) {
			t.Fatalf("zktest: no leader within %v: %s\n%s", waitTimeout, strings.Join(status, "; "), c.tails())
		}
		time.Sleep(pollInterval)
	}
}

// WaitServing waits until a quorum of members answers srvr as serving and a
// real request (creating and closing a session) succeeds; it fails t after
// 30 s with each member's state and log.
func (c *Cluster) WaitServing(t testing.TB) {
	t.Helper()
	if err := c.waitServing(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
}

func (c *Cluster) waitServing(deadline time.Time) error {
	for {
		var serving []*Member
		var status []string
		for _, m := range c.members {
			mode, err := serverMode(m.addr)
			if err == nil && servingMode(mode) {
				serving = append(serving, m)
			} else {
				status = append(status, fmt.Sprintf("%v: %v", m, err))
			}
		}
		var err error
		if len(serving) >= c.quorum() {
			for _, m := range serving {
				if err = probeSession(m.addr, flwTimeout); err == nil {
					return nil
				}
			}
			status = append(status, fmt.Sprintf("probe: %v", err))
		} else {
			status = append(status, fmt.Sprintf("%d of %d serving, need %d", len(serving), len(c.members), c.quorum()))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zktest: %s not serving within %v: %s\n%s", c.kind(), waitTimeout, strings.Join(status, "; "), c.tails())
		}
		time.Sleep(pollInterval)
	}
}

// Dialer returns a zk.Dialer (pass it with zk.WithDialer) that records the
// session id and password of every connect response that passes through
// it, so that ExpireSession can expire those sessions.
func (c *Cluster) Dialer() zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		conn, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &recordingConn{Conn: conn, book: &c.sessions}, nil
	}
}

// ExpireSession expires sessionID the standard way: a second connection
// attaches to the session with its password (recorded by Dialer; the test
// fails if the session was not seen) and sends closeSession. It returns
// once the server has answered, that is after the session is closed and
// its ephemeral nodes are deleted. The owner of the session learns of it
// (StateExpired) when it next talks to the server.
func (c *Cluster) ExpireSession(t testing.TB, sessionID int64) {
	t.Helper()
	passwd, ok := c.sessions.lookup(sessionID)
	if !ok {
		t.Fatalf("%v: 0x%x (connect with zk.WithDialer(cluster.Dialer()))", errUnknownSession, sessionID)
	}
	ExpireSessionWithPassword(t, c.Servers(), sessionID, passwd)
}

// ExpireSessionWithPassword expires sessionID, whose password is passwd,
// through the first of servers that accepts the connection (see
// Cluster.ExpireSession). A session that is already expired counts as done.
func ExpireSessionWithPassword(t testing.TB, servers []string, sessionID int64, passwd []byte) {
	t.Helper()
	if err := expireSession(servers, sessionID, passwd, time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
}

// String describes the member for messages: "member <index> (<addr>)".
func (m *Member) String() string { return fmt.Sprintf("member %d (%s)", m.index, m.addr) }

// Addr returns the member's client address, "127.0.0.1:port".
func (m *Member) Addr() string { return m.addr }

// Running reports whether the member's process is alive (paused counts as
// alive). It is false for external servers.
func (m *Member) Running() bool {
	p := m.proc()
	return p != nil && !p.exited()
}

func (m *Member) owned(t testing.TB, op string) {
	t.Helper()
	if m.c.external {
		t.Fatalf("zktest: %s %v: the server is external (ZK_TEST_SERVERS); use StartStandalone or StartEnsemble for fault tests", op, m)
	}
}

// Stop stops the member with SIGTERM and waits until its process has
// exited (SIGKILL after 15 s). Stopping a stopped member does nothing.
func (m *Member) Stop(t testing.TB) {
	t.Helper()
	m.owned(t, "Stop")
	if p := m.proc(); p != nil {
		p.terminate(stopTimeout)
	}
}

// Kill kills the member with SIGKILL, even when paused, and waits until its
// process has exited. Killing a stopped member does nothing.
func (m *Member) Kill(t testing.TB) {
	t.Helper()
	m.owned(t, "Kill")
	if p := m.proc(); p != nil {
		p.kill()
	}
}

// Restart starts the member again with the same ports and data directory
// (stopping it first if it runs) and waits until it serves: ruok answers
// imok and srvr reports a mode. An ensemble member serves only once a
// quorum runs: to bring back several members, use StartNoWait on each and
// then Cluster.WaitServing.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	m.StartNoWait(t)
	if err := m.waitServing(time.Now().Add(startTimeout)); err != nil {
		t.Fatal(err)
	}
}

// StartNoWait starts the member again with the same ports and data
// directory (stopping it first if it runs) without waiting for it to serve.
func (m *Member) StartNoWait(t testing.TB) {
	t.Helper()
	m.owned(t, "Restart")
	if p := m.proc(); p != nil && !p.exited() {
		p.terminate(stopTimeout)
	}
	if err := m.spawn(); err != nil {
		t.Fatal(err)
	}
}

func (m *Member) waitServing(deadline time.Time) error {
	for {
		if err := m.startFailed(false); err != nil {
			return err
		}
		err := ruok(m.addr)
		if err == nil {
			var mode string
			if mode, err = serverMode(m.addr); err == nil && servingMode(mode) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zktest: %v did not serve within %v: %v; log tail:\n%s", m, startTimeout, err, logTail(m.logPath()))
		}
		time.Sleep(pollInterval)
	}
}

// Pause freezes the member's process with SIGSTOP and returns once every
// thread is stopped: it keeps its sockets (connections are accepted by the
// kernel) but answers nothing, and its sessions and quorum links time out,
// until Resume.
func (m *Member) Pause(t testing.TB) {
	t.Helper()
	m.signal(t, "Pause", sigStop)
}

// Resume continues a paused member with SIGCONT.
func (m *Member) Resume(t testing.TB) {
	t.Helper()
	m.signal(t, "Resume", sigCont)
}

func (m *Member) signal(t testing.TB, op string, sig os.Signal) {
	t.Helper()
	m.owned(t, op)
	p := m.proc()
	if p == nil || p.exited() {
		t.Fatalf("zktest: %s %v: not running", op, m)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("zktest: %s %v: %v", op, m, err)
	}
	if sig == sigStop {
		if err := waitStopped(p.cmd.Process.Pid, time.Now().Add(waitTimeout)); err != nil {
			t.Fatalf("zktest: %s %v: %v", op, m, err)
		}
	}
}
