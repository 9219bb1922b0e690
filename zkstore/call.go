package zkstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/internal/zkreq"
)

// Retry policy for requests whose connection was lost: jittered exponential
// backoff from retryBase to retryMax, at most retryAttempts attempts, and
// never past the caller's ctx. A request queued while the client is
// disconnected waits for the reconnect (go-zookeeper queues it) or fails with
// zk.ErrNoServer after a round over every server, so the attempts mostly
// bound the time ZooKeeper is unreachable: about 15 to 25 s.
const (
	retryAttempts = 12
	retryBase     = 50 * time.Millisecond
	retryMax      = 2 * time.Second
	// parallelReads bounds the reads one call keeps in flight (they are
	// pipelined on the one connection).
	parallelReads = 256
)

// reqKind classifies the requests sent to ZooKeeper (counted for
// internal/zkreq, reported to Metrics).
type reqKind int

const (
	kindGet reqKind = iota
	kindChildren
	kindExists
	kindCreate
	kindSet
	kindDelete
	kindMulti
	kindSync
	kindWatch
	kindProbe
	kindAuth
	numKinds
)

// requestStats returns the number of requests sent to ZooKeeper so far
// (zkreq.Of for the project's benchmarks and tests).
func (s *Store) requestStats() zkreq.Stats {
	c := &s.stats
	return zkreq.Stats{
		Get: c.n[kindGet].Load(), Children: c.n[kindChildren].Load(), Exists: c.n[kindExists].Load(),
		Create: c.n[kindCreate].Load(), Set: c.n[kindSet].Load(), Delete: c.n[kindDelete].Load(),
		Multi: c.n[kindMulti].Load(), Sync: c.n[kindSync].Load(), Watch: c.n[kindWatch].Load(),
		Probe: c.n[kindProbe].Load(), Auth: c.n[kindAuth].Load(),
	}
}

func init() { zkreq.Of = func(s any) zkreq.Stats { return s.(*Store).requestStats() } }

type counters struct{ n [numKinds]atomic.Uint64 }

// call sends one request through f, counting it, and returns its result or
// ctx's error, whichever comes first. go-zookeeper's calls do not take a
// context, so a cancellable call runs on a goroutine that Close waits for
// (closing the connection ends every pending request). A call abandoned on
// ctx may still take effect.
func call[T any](s *Store, ctx context.Context, k reqKind, f func(*zk.Conn) (T, error)) (T, error) {
	var zero T
	if s.isClosed() {
		return zero, zk.ErrConnectionClosed
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	s.stats.n[k].Add(1)
	if ctx.Done() == nil {
		v, err := f(s.conn)
		s.countRequest(k, err)
		return v, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	if !s.goFunc(func() {
		v, err := f(s.conn)
		s.countRequest(k, err)
		ch <- result{v, err}
	}) {
		return zero, zk.ErrConnectionClosed
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

type getResult struct {
	data []byte
	stat *zk.Stat
}

func (s *Store) get(ctx context.Context, path string) ([]byte, *zk.Stat, error) {
	r, err := call(s, ctx, kindGet, func(c *zk.Conn) (getResult, error) {
		d, st, err := c.Get(path)
		return getResult{d, st}, err
	})
	return r.data, r.stat, err
}

func (s *Store) children(ctx context.Context, path string) ([]string, error) {
	return call(s, ctx, kindChildren, func(c *zk.Conn) ([]string, error) {
		ch, _, err := c.Children(path)
		return ch, err
	})
}

// childrenOf lists path's children and returns the czxid of path (which
// tells one incarnation of a directory from the next).
func (s *Store) childrenOf(ctx context.Context, path string) ([]string, int64, error) {
	type listing struct {
		names []string
		czxid int64
	}
	r, err := call(s, ctx, kindChildren, func(c *zk.Conn) (listing, error) {
		ch, st, err := c.Children(path)
		if err != nil {
			return listing{}, err
		}
		return listing{ch, st.Czxid}, nil
	})
	return r.names, r.czxid, err
}

// exists returns the node's stat, or nil if it does not exist.
func (s *Store) exists(ctx context.Context, path string) (*zk.Stat, error) {
	return call(s, ctx, kindExists, func(c *zk.Conn) (*zk.Stat, error) {
		ok, st, err := c.Exists(path)
		if err != nil || !ok {
			return nil, err
		}
		return st, nil
	})
}

func (s *Store) createNode(ctx context.Context, path string, data []byte, flags int32) error {
	_, err := s.create(ctx, path, data, flags)
	return err
}

func (s *Store) create(ctx context.Context, path string, data []byte, flags int32) (string, error) {
	return call(s, ctx, kindCreate, func(c *zk.Conn) (string, error) {
		return c.Create(path, data, flags, s.acl)
	})
}

func (s *Store) setData(ctx context.Context, path string, data []byte, version int32) (*zk.Stat, error) {
	return call(s, ctx, kindSet, func(c *zk.Conn) (*zk.Stat, error) {
		return c.Set(path, data, version)
	})
}

func (s *Store) deleteNode(ctx context.Context, path string, version int32) error {
	_, err := call(s, ctx, kindDelete, func(c *zk.Conn) (struct{}, error) {
		return struct{}{}, c.Delete(path, version)
	})
	return err
}

func (s *Store) multi(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	return call(s, ctx, kindMulti, func(c *zk.Conn) ([]zk.MultiResponse, error) {
		return c.Multi(ops...)
	})
}

// multiFailure returns the index of the operation that failed a multi and
// its error (-1 and err when no operation carries the error).
func multiFailure(res []zk.MultiResponse, err error) (int, error) {
	for i, r := range res {
		if r.Error != nil {
			return i, r.Error
		}
	}
	return -1, err
}

// getMany reads the nodes at paths concurrently (pipelined on the one
// connection). A node that does not exist has a nil stat. The first other
// error fails the call.
func (s *Store) getMany(ctx context.Context, paths []string) ([]getResult, error) {
	out := make([]getResult, len(paths))
	if len(paths) == 0 {
		return out, nil
	}
	if len(paths) == 1 {
		d, st, err := s.get(ctx, paths[0])
		if err != nil && !isNoNode(err) {
			return nil, err
		}
		if err == nil {
			out[0] = getResult{d, st}
		}
		return out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	done := make(chan struct{})
	started := s.goFunc(func() {
		defer close(done)
		var wg sync.WaitGroup
		defer wg.Wait()
		sem := make(chan struct{}, parallelReads)
		for i, p := range paths {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				// No ctx inside: the request ends with the connection at the latest.
				d, st, err := s.get(context.Background(), p)
				switch {
				case err == nil:
					out[i] = getResult{d, st}
				case !isNoNode(err):
					fail(err)
				}
			}()
		}
	})
	if !started {
		return nil, zk.ErrConnectionClosed
	}
	select {
	case <-done:
	case <-ctx.Done(): // also cancelled by fail
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func isNoNode(err error) bool { return err != nil && errors.Is(err, zk.ErrNoNode) }

// retry runs attempt until it returns nil or an error other than a lost
// connection, the store closes, ctx ends, or the attempts run out. After a
// lost connection the outcome of a write is unknown: verify (if not nil)
// re-reads first and returns done=true with the final result (nil: the write
// took effect) or done=false to attempt again.
func (s *Store) retry(ctx context.Context, op, path string, attempt func() error, verify func() (done bool, err error)) error {
	backoff := retryBase
	needVerify := false
	var last error
	for i := 0; i < retryAttempts; i++ {
		if i > 0 {
			s.log.Warn("zkstore: retrying after a lost connection", "op", op, keyPath, path, "attempt", i+1, "err", last)
			d := jitter(backoff)
			backoff = min(backoff*2, retryMax)
			if err := s.sleep(ctx, d); err != nil {
				return last
			}
		}
		if needVerify && verify != nil {
			done, err := verify()
			if err != nil && isConnLoss(err) && !s.isClosed() {
				last = err
				continue
			}
			if done || err != nil {
				return err
			}
		}
		err := attempt()
		if err == nil || !isConnLoss(err) || s.isClosed() || ctx.Err() != nil {
			return err
		}
		last, needVerify = err, true
	}
	return last
}

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
