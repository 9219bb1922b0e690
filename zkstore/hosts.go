package zkstore

import (
	"sync"

	"github.com/go-zookeeper/zk"
)

// hostProvider is go-zookeeper's DNS host provider without its pause before
// the first reconnect. go-zookeeper pauses a second whenever it has tried
// every server since the last successful connection; with the stock
// provider that includes the very first attempt after a disconnect from a
// single server, so every blip (and every expiry notice) costs a second.
// Here the first round of attempts after a connection, and after an
// expiry, goes at once; later rounds pause as before.
type hostProvider struct {
	inner *zk.DNSHostProvider

	mu    sync.Mutex // guards tries
	tries int        // Next calls since the last Connected or reset
}

var _ zk.HostProvider = (*hostProvider)(nil)

func newHostProvider() *hostProvider { return &hostProvider{inner: zk.NewDNSHostProvider()} }

func (h *hostProvider) Init(servers []string) error { return h.inner.Init(servers) }

func (h *hostProvider) Len() int { return h.inner.Len() }

func (h *hostProvider) Next() (string, bool) {
	server, retryStart := h.inner.Next()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tries++
	if h.tries <= h.inner.Len() {
		retryStart = false
	}
	return server, retryStart
}

func (h *hostProvider) Connected() {
	h.mu.Lock()
	h.tries = 0
	h.mu.Unlock()
	h.inner.Connected()
}

// reset makes the next round of attempts go at once (after an expiry
// notice, the client reconnects for a new session).
func (h *hostProvider) reset() {
	h.mu.Lock()
	h.tries = 0
	h.mu.Unlock()
}
