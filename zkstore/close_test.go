package zkstore

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// go-zookeeper's client loop can wedge for good while it fails the
// requests in flight at Close (seen under heavy load: a benchmark's
// teardown hung for minutes in Close). Close waits for the loop at most
// clientGrace, says so, and returns; before, it waited forever.
func TestCloseDoesNotWaitForeverForAWedgedClient(t *testing.T) {
	c := sharedCluster(t)
	var logs logBuffer
	s := openStore(t, testConfig(c, c.UniqueRoot(t), testAuth), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	old := clientGrace
	clientGrace = 50 * time.Millisecond
	t.Cleanup(func() { clientGrace = old })
	real := s.clientDone
	s.clientDone = make(chan struct{}) // as if the client's loop never ended

	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("Close waited for a client loop that never ends")
	}
	assert.Contains(t, logs.String(), "did not end after Close", "Close said nothing of the loop it left behind")
	<-real // the real loop ended: nothing leaks from this test
}
