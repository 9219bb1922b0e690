//go:build unix

package zktest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Daemon is a standalone server kept in a folder the user names, which
// outlives the program that starts it: the engine of scripts/zookeeper, for
// trying the library and the examples by hand. It runs from the same
// installation as the test servers, on loopback only; its zoo.cfg, data/,
// zookeeper.log and zookeeper.pid are all in the folder. Unlike test
// servers it is not killed with its parent, its data persists across a stop
// and a start, and it has no super user.
type Daemon struct {
	dir string
}

// DaemonState is what Daemon.State finds: PID 0 when no server of the
// folder runs; otherwise its address and the Mode it answers to srvr, or
// Err when it does not answer.
type DaemonState struct {
	PID  int
	Addr string
	Mode string
	Err  error
}

// ErrPortTaken is returned by Daemon.Start when the client port is taken.
var ErrPortTaken = errors.New("zktest: port in use")

// NewDaemon returns the daemon of folder dir (made absolute; created by
// Start).
func NewDaemon(dir string) (Daemon, error) {
	if dir == "" {
		return Daemon{}, errors.New("zktest: the daemon's folder is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Daemon{}, fmt.Errorf("zktest: folder %q: %w", dir, err)
	}
	return Daemon{dir: abs}, nil
}

// Dir returns the daemon's folder.
func (d Daemon) Dir() string { return d.dir }

// LogPath returns the server's log file.
func (d Daemon) LogPath() string { return filepath.Join(d.dir, "zookeeper.log") }

func (d Daemon) cfgPath() string { return filepath.Join(d.dir, "zoo.cfg") }
func (d Daemon) pidPath() string { return filepath.Join(d.dir, "zookeeper.pid") }
func (d Daemon) dataDir() string { return filepath.Join(d.dir, "data") }

// State reports whether the folder's server runs and answers.
func (d Daemon) State() DaemonState {
	pid := d.livePID()
	if pid == 0 {
		return DaemonState{}
	}
	st := DaemonState{PID: pid}
	port, err := d.configuredPort()
	if err != nil {
		st.Err = err
		return st
	}
	st.Addr = loopback(port)
	st.Mode, st.Err = serverMode(st.Addr)
	return st
}

// Start starts the folder's server on port (0: the port of the folder's
// previous run, else a free one) and waits until it serves. When it already
// runs, Start changes nothing and reports already. A taken port is an error
// wrapping ErrPortTaken.
func (d Daemon) Start(port int) (st DaemonState, already bool, err error) {
	if st := d.State(); st.PID != 0 {
		return st, true, nil
	}
	if port == 0 {
		if port, err = d.configuredPort(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return st, false, err
		}
	}
	if port == 0 {
		ports, err := freePorts(1)
		if err != nil {
			return st, false, err
		}
		port = ports[0]
	}
	if err := portFree(port); err != nil {
		return st, false, err
	}
	inst, err := findInstall()
	if err != nil {
		return st, false, err
	}
	// The test servers' super user is for cleaning up after tests only.
	inst.jvmExtra = []string{"-Dzookeeper.DigestAuthenticationProvider.superDigest="}
	if err := d.writeConfig(port); err != nil {
		return st, false, err
	}
	return d.spawn(inst, port)
}

// spawn starts the JVM in its own session (so that it outlives us and the
// terminal), records its pid and waits until it serves.
func (d Daemon) spawn(inst install, port int) (DaemonState, bool, error) {
	logf, err := os.OpenFile(d.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return DaemonState{}, false, fmt.Errorf("zktest: open server log: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	fmt.Fprintf(logf, "=== scripts/zookeeper: %s starting on %s\n", time.Now().Format(time.DateTime), loopback(port))
	cmd := exec.Command(inst.java, inst.jvmArgs(d.cfgPath(), d.dir)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = d.dir, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return DaemonState{}, false, fmt.Errorf("zktest: start %s: %w", inst.java, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := os.WriteFile(d.pidPath(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return DaemonState{}, false, fmt.Errorf("zktest: %w", err)
	}
	addr := loopback(port)
	if err := d.waitServing(addr, exited); err != nil {
		_ = cmd.Process.Kill()
		_ = os.Remove(d.pidPath())
		return DaemonState{}, false, err
	}
	return DaemonState{PID: pid, Addr: addr, Mode: "standalone"}, false, nil
}

// waitServing polls the server until it serves a session, its process
// exits, or startTimeout passes.
func (d Daemon) waitServing(addr string, exited <-chan error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case err := <-exited:
			tail := logTail(d.LogPath())
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%w: %s was taken while the server started; log tail:\n%s", ErrPortTaken, addr, tail)
			}
			return fmt.Errorf("zktest: the server exited during start (%v); log tail:\n%s", err, tail)
		default:
		}
		mode, err := serverMode(addr)
		if err == nil && servingMode(mode) {
			if err = probeSession(addr, flwTimeout); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zktest: %s did not serve within %v: %v; log tail:\n%s", addr, startTimeout, err, logTail(d.LogPath()))
		}
		time.Sleep(pollInterval)
	}
}

// Stop stops the folder's server (SIGTERM, then SIGKILL after
// stopTimeout) and returns its pid; 0 when none ran.
func (d Daemon) Stop() (int, error) {
	pid := d.livePID()
	if pid == 0 {
		if err := os.Remove(d.pidPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("zktest: %w", err)
		}
		return 0, nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !d.waitGone(pid, stopTimeout) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !d.waitGone(pid, stopTimeout) {
			return pid, fmt.Errorf("zktest: process %d still runs after SIGKILL", pid)
		}
	}
	if err := os.Remove(d.pidPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return pid, fmt.Errorf("zktest: %w", err)
	}
	return pid, nil
}

func (d Daemon) waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for d.isOurs(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}

// livePID returns the pid of the pid file when that process runs this
// folder's server, else 0 (no file, a stale one, or a reused pid).
func (d Daemon) livePID() int {
	b, err := os.ReadFile(d.pidPath())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !d.isOurs(pid) {
		return 0
	}
	return pid
}

// isOurs reports whether process pid lives (not a zombie) and runs this
// folder's zoo.cfg. Without /proc, a live pid is taken as ours.
func (d Daemon) isOurs(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return !isDir("/proc/self")
	}
	// A zombie's cmdline is empty.
	return bytes.Contains(cmdline, []byte(d.cfgPath()+"\x00"))
}

// configuredPort returns the clientPort of the folder's zoo.cfg.
func (d Daemon) configuredPort() (int, error) {
	b, err := os.ReadFile(d.cfgPath())
	if err != nil {
		return 0, fmt.Errorf("zktest: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "clientPort="); ok {
			port, err := strconv.Atoi(v)
			if err != nil || port <= 0 || port > 65535 {
				return 0, fmt.Errorf("zktest: %s: clientPort %q is not a port", d.cfgPath(), v)
			}
			return port, nil
		}
	}
	return 0, fmt.Errorf("zktest: %s has no clientPort", d.cfgPath())
}

// writeConfig writes zoo.cfg for port and creates data/, keeping any data
// of a previous run. The timing is the test servers': sessions of 200 ms
// to 60 s are accepted.
func (d Daemon) writeConfig(port int) error {
	if err := os.MkdirAll(d.dataDir(), 0o755); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Written by scripts/zookeeper; rewritten at each start.\n")
	fmt.Fprintf(&b, "tickTime=%d\n", tickTime.Milliseconds())
	fmt.Fprintf(&b, "minSessionTimeout=%d\n", minSessionTimeout.Milliseconds())
	fmt.Fprintf(&b, "maxSessionTimeout=%d\n", maxSessionTimeout.Milliseconds())
	fmt.Fprintf(&b, "dataDir=%s\n", d.dataDir())
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", port)
	b.WriteString("4lw.commands.whitelist=*\n")
	b.WriteString("admin.enableServer=false\n")
	b.WriteString("preAllocSize=1024\n")
	if err := os.WriteFile(d.cfgPath(), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}

// portFree checks that port can be bound on loopback now.
func portFree(port int) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("zktest: port %d is not a port (1-65535)", port)
	}
	l, err := net.Listen("tcp", loopback(port))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrPortTaken, loopback(port), err)
	}
	return l.Close()
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
