package console

import (
	"sync"
	"time"
)

// Login attempts: after maxFailures failed logins from one address within
// failWindow, that address is refused until the window has passed since
// its first failure.
const (
	maxFailures = 5
	failWindow  = time.Minute
)

// failures is the failed-login record of one address.
type failures struct {
	first time.Time
	count int
}

// loginAllowed decides whether an address with record f may try to log in
// at now, and how long it must wait if not. It is pure.
func loginAllowed(f failures, now time.Time) (bool, time.Duration) {
	if f.count < maxFailures || now.Sub(f.first) >= failWindow {
		return true, 0
	}
	return false, f.first.Add(failWindow).Sub(now)
}

// recordFailure returns the record after one more failure at now.
func recordFailure(f failures, now time.Time) failures {
	if f.count == 0 || now.Sub(f.first) >= failWindow {
		return failures{first: now, count: 1}
	}
	f.count++
	return f
}

// limiter keeps the failed logins per address.
type limiter struct {
	mu     sync.Mutex // guards byAddr
	byAddr map[string]failures
}

func newLimiter() *limiter { return &limiter{byAddr: map[string]failures{}} }

func (l *limiter) allowed(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return loginAllowed(l.byAddr[addr], now)
}

func (l *limiter) failed(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byAddr[addr] = recordFailure(l.byAddr[addr], now)
}

func (l *limiter) succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byAddr, addr)
}
