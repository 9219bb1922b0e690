package zktest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// SuperDigest is the value of the system property
// zookeeper.DigestAuthenticationProvider.superDigest that every server this
// package starts runs with: the digest of user "super", password "zktest".
// Start external servers (ZK_TEST_SERVERS) with it too so that UniqueRoot
// can clean up ACL-protected nodes.
const SuperDigest = "super:/h+gcH12ycQxBhZ4ZIb28S4Njto="

// superUser and superPassword are the credentials whose digest is SuperDigest.
const (
	superUser     = "super"
	superPassword = "zktest"
)

// TestRootParent is the parent of every UniqueRoot path.
const TestRootParent = "/tbs-test"

// SuperAuth returns the credentials of the servers' super user, for
// zk.Conn.AddAuth: a connection authenticated with them passes every ACL.
func SuperAuth() (scheme string, auth []byte) {
	return "digest", []byte(superUser + ":" + superPassword)
}

// UniqueRoot returns a path unique to this call, TestRootParent + "/" + the
// sanitized test name + "-" + random hex. The parent exists; the path itself
// does not. In t.Cleanup the path and its whole subtree are deleted as the
// super user, so nodes with any ACL go too. On a cluster started for one
// test, a failed cleanup (say, the test left it without a quorum) is only
// logged.
func (c *Cluster) UniqueRoot(t testing.TB) string {
	t.Helper()
	root := path.Join(TestRootParent, sanitize(t.Name())+"-"+randomHex(4))
	err := c.asSuper(waitTimeout, func(conn *zk.Conn) error {
		_, err := conn.Create(TestRootParent, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", TestRootParent, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("zktest: UniqueRoot: %v", err)
	}
	t.Cleanup(func() {
		timeout := waitTimeout
		if c.disposable() {
			timeout = 5 * time.Second
		}
		err := c.asSuper(timeout, func(conn *zk.Conn) error { return deleteTree(conn, root) })
		switch {
		case err == nil:
		case c.disposable():
			t.Logf("zktest: clean up %s (cluster is discarded anyway): %v", root, err)
		default:
			t.Errorf("zktest: clean up %s: %v", root, err)
		}
	})
	return root
}

// disposable reports whether the cluster was started for one test, so
// leftovers in it do not matter.
func (c *Cluster) disposable() bool {
	if c.external {
		return false
	}
	pkgState.sharedMu.Lock()
	defer pkgState.sharedMu.Unlock()
	return c != pkgState.shared
}

// asSuper runs fn on a fresh connection authenticated as the super user,
// closing it after fn or when timeout passes (which fails pending requests).
func (c *Cluster) asSuper(timeout time.Duration, fn func(*zk.Conn) error) error {
	conn, events, err := zk.Connect(c.Servers(), 10*time.Second,
		zk.WithLogger(discardLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer closeAndDrain(conn, events)
	timer := time.AfterFunc(timeout, conn.Close)
	defer timer.Stop()
	if err := conn.AddAuth(SuperAuth()); err != nil {
		return fmt.Errorf("authenticate as super: %w", err)
	}
	return fn(conn)
}

// deleteTree deletes p and everything below it; a missing node is fine.
func deleteTree(conn *zk.Conn, p string) error {
	for attempt := 0; ; attempt++ {
		children, _, err := conn.Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", p, err)
		}
		for _, ch := range children {
			if err := deleteTree(conn, path.Join(p, ch)); err != nil {
				return err
			}
		}
		err = conn.Delete(p, -1)
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrNotEmpty) && attempt < 10:
			continue // a child was created meanwhile
		default:
			return fmt.Errorf("delete %s: %w", p, err)
		}
	}
}

// sanitize makes a test name usable as one path component.
func sanitize(name string) string {
	const maxLen = 64
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	s = strings.Trim(s, ".")
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	if s == "" {
		s = "test"
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// Connect connects a go-zookeeper client to servers (nil means
// c.Servers()) through c.Dialer, logging to t, waits until it has a
// session, and in t.Cleanup closes it and waits until its goroutines are
// done. The returned channel carries the events after StateHasSession;
// go-zookeeper drops events when it is full, so keep it drained.
func (c *Cluster) Connect(t testing.TB, servers []string, sessionTimeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	if servers == nil {
		servers = c.Servers()
	}
	conn, events, err := zk.Connect(servers, sessionTimeout, zk.WithDialer(c.Dialer()), zk.WithLogger(Logger(t)))
	if err != nil {
		t.Fatalf("zktest: connect to %v: %v", servers, err)
	}
	t.Cleanup(func() { closeAndDrain(conn, events) })
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("zktest: connection to %v closed before it had a session", servers)
			}
			if ev.State == zk.StateHasSession {
				return conn, events
			}
		case <-timer.C:
			t.Fatalf("zktest: no session with %v within %v (state %v)", servers, waitTimeout, conn.State())
		}
	}
}

// closeAndDrain closes conn and waits (at most 10 s) until its event
// channel closes, which go-zookeeper does once its goroutines are done, so a
// goroutine-leak check right after finds none of them.
func closeAndDrain(conn *zk.Conn, events <-chan zk.Event) {
	conn.Close()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-timer.C:
			return
		}
	}
}

// Logger returns a zk.Logger that writes to t.Logf until t's cleanups run,
// and discards afterwards (go-zookeeper logs from its own goroutines, and
// logging through t after the test has finished panics).
func Logger(t testing.TB) zk.Logger {
	l := &tbLogger{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.done = true
	})
	return l
}

type tbLogger struct {
	t    testing.TB
	mu   sync.Mutex // guards done; held while logging
	done bool
}

// Printf logs through t.Logf unless t has finished.
func (l *tbLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Helper()
		l.t.Logf("zk: "+format, args...)
	}
}

type discardLogger struct{}

// Printf discards the message.
func (discardLogger) Printf(string, ...any) {}
