//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// result is one run of the command.
type result struct {
	code        int
	out, errOut string
}

func runCmd(args ...string) result {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// Start, start again, a second folder on the same port, status, stop, stop
// again, status: each answers as scripts/zookeeper documents, and the
// server keeps its port and its data across a stop and a start.
func TestStartStopStatus(t *testing.T) {
	zktest.Require(t)
	dir := filepath.Join(t.TempDir(), "zk")
	d, err := zktest.NewDaemon(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = d.Stop() })

	r := runCmd("start", dir)
	require.Equal(t, exitOK, r.code, r.errOut)
	addr := strings.TrimSpace(r.out)
	assert.Regexp(t, `^127\.0\.0\.1:[0-9]+$`, addr)
	assert.Contains(t, r.errOut, "started in "+dir)
	for _, f := range []string{"zoo.cfg", "zookeeper.log", "zookeeper.pid"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.DirExists(t, filepath.Join(dir, "data"))
	out, err := zktest.FourLetterWord(addr, "ruok", time.Second)
	require.NoError(t, err)
	assert.Equal(t, "imok", out)

	r = runCmd("start", dir)
	assert.Equal(t, result{exitOK, addr + "\n", r.errOut}, r)
	assert.Contains(t, r.errOut, "already running in "+dir)

	port := addr[strings.LastIndexByte(addr, ':')+1:]
	other := filepath.Join(t.TempDir(), "other")
	r = runCmd("start", other, "--port", port)
	assert.Equal(t, exitFail, r.code)
	assert.Contains(t, r.errOut, "port in use: "+addr)
	assert.NoDirExists(t, other, "a failed start leaves nothing behind")

	r = runCmd("status", dir)
	assert.Equal(t, exitOK, r.code, r.errOut)
	assert.Equal(t, addr+"\n", r.out)
	assert.Contains(t, r.errOut, "standalone")

	r = runCmd("stop", dir)
	assert.Equal(t, exitOK, r.code, r.errOut)
	assert.Contains(t, r.out, "stopped (pid ")
	assert.NoFileExists(t, filepath.Join(dir, "zookeeper.pid"))
	r = runCmd("stop", dir)
	assert.Equal(t, result{exitOK, "zookeeper: not running in " + dir + "\n", ""}, r)
	r = runCmd("status", dir)
	assert.Equal(t, result{exitNotRunning, "", "zookeeper: not running in " + dir + "\n"}, r)

	r = runCmd("start", dir)
	require.Equal(t, exitOK, r.code, r.errOut)
	assert.Equal(t, addr+"\n", r.out, "a restart keeps the folder's port")
	assert.DirExists(t, filepath.Join(dir, "data", "version-2"), "a restart keeps the data")
}

// A stale pid file (a process that is not the folder's server) is not
// taken for a running server.
func TestStalePidFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zookeeper.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644))
	r := runCmd("status", dir)
	assert.Equal(t, exitNotRunning, r.code)
	r = runCmd("stop", dir)
	assert.Equal(t, result{exitOK, "zookeeper: not running in " + dir + "\n", ""}, r)
	assert.NoFileExists(t, filepath.Join(dir, "zookeeper.pid"), "stop removes a stale pid file")
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"start"},
		{"frob", "/tmp/x"},
		{"start", "/tmp/x", "--port", "x"},
		{"start", "/tmp/x", "extra"},
		{"stop", "/tmp/x", "--port", "1"},
	} {
		r := runCmd(args...)
		assert.Equal(t, exitUsage, r.code, "%q", args)
		assert.Contains(t, r.errOut, "usage: scripts/zookeeper", "%q", args)
	}
	r := runCmd("start", t.TempDir(), "--port", "70000")
	assert.Equal(t, exitFail, r.code)
	assert.Contains(t, r.errOut, "port 70000 is not a port (1-65535)")
}
