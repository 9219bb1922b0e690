package consoletest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

// cluster is what the browser tests run against: real ZooKeeper, factory
// processes (worker), and "tbsctl console" as a subprocess.
type cluster struct {
	t       *testing.T
	dir     string
	tbsctl  string
	worker  string
	zk      string
	root    string
	url     string
	audit   string
	mu      sync.Mutex // guards workers
	workers map[string]*exec.Cmd
}

// build compiles tbsctl (in the root module) and the worker into dir.
func build(t *testing.T, dir string) (tbsctl, worker string) {
	t.Helper()
	tbsctl, worker = filepath.Join(dir, "tbsctl"), filepath.Join(dir, "worker")
	for _, b := range []struct{ out, pkg, wd string }{{tbsctl, "./cmd/tbsctl", ".."}, {worker, "./worker", "."}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = b.wd
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return tbsctl, worker
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	dir := t.TempDir()
	zk := zktest.StartStandalone(t)
	c := &cluster{t: t, dir: dir, zk: strings.Join(zk.Servers(), ","), root: "/shop", workers: map[string]*exec.Cmd{}}
	c.tbsctl, c.worker = build(t, dir)
	t.Cleanup(c.stopWorkers) // before ZooKeeper stops
	c.ctl(nil, "apply", "-f", c.write("cluster.yaml", clusterYAML))
	return c
}

const clusterYAML = `taskTypes:
  - baseTaskType: orders
    dealBeanName: ordersDeal
    heartBeatRate: 1000
    judgeDeadInterval: 5000
    threadNumber: 5
    sleepTimeNoData: 200
    taskItems: ["0", "1", "2", "3", "4", "5", "6", "7"]
strategies:
  - strategyName: orders-s
    kind: Schedule
    taskName: orders
    assignNum: 3
    IPList: ["127.0.0.1"]
`

func (c *cluster) write(name, text string) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// ctl runs tbsctl on the cluster's root and returns its output; it fails
// the test when tbsctl fails.
func (c *cluster) ctl(stdin []byte, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.tbsctl, append([]string{"-zk", c.zk, "-root", c.root}, args...)...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("tbsctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hash makes a bcrypt hash with "tbsctl console -hash-password".
func (c *cluster) hash(password string) string {
	return strings.TrimSpace(c.ctl([]byte(password+"\n"), "console", "-hash-password"))
}

var servingRE = regexp.MustCompile(`serving root \S+ on (http://\S+)/`)

// startConsole runs "tbsctl console" with an operator "ops" and a viewer
// "eve" and returns once it serves.
func (c *cluster) startConsole(ctx context.Context) {
	c.t.Helper()
	users := c.write("users", fmt.Sprintf("# the console's accounts\nops:operator:%s\neve:viewer:%s\n", c.hash(opsPassword), c.hash(evePassword)))
	c.audit = filepath.Join(c.dir, "audit.log")
	cmd := exec.CommandContext(ctx, c.tbsctl, "-zk", c.zk, "-root", c.root, "console",
		"-addr", "127.0.0.1:0", "-users", users, "-audit", c.audit, "-poll", "400ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
			c.url = m[1]
			go func() { // keep the pipe drained
				for sc.Scan() {
				}
			}()
			return
		}
	}
	c.t.Fatalf("tbsctl console exited before serving: %v", sc.Err())
}

const (
	opsPassword = "ops-password-1"
	evePassword = "eve-password-1"
)

// startWorker starts a factory process with the host name host.
func (c *cluster) startWorker(host string) {
	c.t.Helper()
	cmd := exec.Command(c.worker, "-zk", c.zk, "-root", c.root, "-host", host, "-session", "2s")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.workers[host] = cmd
	c.mu.Unlock()
}

// stopWorkers stops every worker at once (SIGINT: a graceful stop), and
// kills those still running after 20 s.
func (c *cluster) stopWorkers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var wg sync.WaitGroup
	for _, cmd := range c.workers {
		_ = cmd.Process.Signal(os.Interrupt)
		wg.Go(func() {
			timer := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
			_ = cmd.Wait()
			timer.Stop()
		})
	}
	wg.Wait()
}

// kill ends a worker with SIGKILL: a crash, no handover.
func (c *cluster) kill(host string) {
	c.mu.Lock()
	cmd := c.workers[host]
	c.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
}
