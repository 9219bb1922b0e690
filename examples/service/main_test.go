package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

func TestMain(m *testing.M) { zktest.Main(m) }

// The program of the README's "Using it in your service" runs on a real
// ZooKeeper: it sends every email and stops gracefully when cancelled.
func TestServiceSendsEverything(t *testing.T) {
	c := zktest.Shared(t)
	root := c.UniqueRoot(t)
	box := newOutbox(50)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	probes, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { done <- run(ctx, c.Servers(), root, probes, box) }()

	// The outbox has no event to wait on: poll it, and fail at once if run
	// returns meanwhile.
	deadline := time.After(30 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for left(box) > 0 {
		select {
		case err := <-done:
			t.Fatalf("run returned before every email was sent: %v", err)
		case <-deadline:
			t.Fatalf("%d emails not sent within 30s", left(box))
		case <-poll.C:
		}
	}
	// Its probes answer over HTTP: alive and ready while it runs.
	for _, path := range []string{"/healthz", "/readyz"} {
		require.Eventually(t, func() bool { return probe(t, "http://"+probes.Addr().String()+path) == http.StatusOK },
			30*time.Second, 20*time.Millisecond, "%s answers 200", path)
	}
	// /events lists what happened: the thread groups acquired the items.
	resp, err := http.Get("http://" + probes.Addr().String() + "/events")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"kind":"acquire"`)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of cancel")
	}
}

// The README shows this very program: the block must equal main.go, so
// that the README's program is always one that compiles and is tested.
func TestREADMEShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	const heading = "## Using it in your service"
	text := string(readme)
	i := strings.Index(text, heading)
	require.GreaterOrEqual(t, i, 0, "README has no %q section", heading)
	text = text[i:]
	start := strings.Index(text, "```go\n")
	require.GreaterOrEqual(t, start, 0, "no go block in the README's %q section", heading)
	text = text[start+len("```go\n"):]
	end := strings.Index(text, "```\n")
	require.GreaterOrEqual(t, end, 0, "unterminated go block")
	assert.Equal(t, string(src), text[:end],
		"the README's program differs from examples/service/main.go: copy main.go into the README")
}

// probe GETs url and returns the status code, after checking the body is
// the JSON of a probe.
func probe(t *testing.T, url string) int {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct{ Status string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), url)
	require.Contains(t, []string{"ok", "fail"}, body.Status, url)
	return resp.StatusCode
}

// left returns how many emails are still to send.
func left(b *outbox) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}
