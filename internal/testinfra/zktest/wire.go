package zktest

// The few pieces of the ZooKeeper client wire protocol that session expiry
// and the serving probe need. Every message is a frame: a 4-byte big-endian
// length, then the body. All integers are big-endian; a byte string is an
// int32 length (-1 for null) followed by the bytes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

const (
	opCloseSession = -11 // request opcode of closeSession
	closeXid       = 1   // xid we give our closeSession request
	maxFrame       = 1 << 20
	// connectResponseMax bounds the first server frame the Dialer parses:
	// a connect response is 37 bytes with a 16-byte password.
	connectResponseMax = 256
)

// emptyPasswd is what a client sends when it has no session yet.
var emptyPasswd = make([]byte, 16)

// connectResponse is the server's answer to a connect request. A zero
// sessionID or a non-positive timeout means the session is expired.
type connectResponse struct {
	protocolVersion int32
	timeout         int32 // negotiated session timeout, ms
	sessionID       int64
	passwd          []byte
}

func (r connectResponse) expired() bool { return r.sessionID == 0 || r.timeout <= 0 }

// encodeConnectRequest returns the frame that attaches to sessionID
// (or creates a session when it is 0): protocolVersion 0, lastZxidSeen 0,
// timeout, sessionId, passwd, readOnly false.
func encodeConnectRequest(timeoutMs int32, sessionID int64, passwd []byte) []byte {
	body := make([]byte, 0, 4+8+4+8+4+len(passwd)+1)
	body = binary.BigEndian.AppendUint32(body, 0)                   // protocolVersion
	body = binary.BigEndian.AppendUint64(body, 0)                   // lastZxidSeen
	body = binary.BigEndian.AppendUint32(body, uint32(timeoutMs))   // timeOut
	body = binary.BigEndian.AppendUint64(body, uint64(sessionID))   // sessionId
	body = binary.BigEndian.AppendUint32(body, uint32(len(passwd))) // passwd length
	body = append(body, passwd...)
	body = append(body, 0) // readOnly = false
	return frame(body)
}

// parseConnectResponse decodes the body of a connect response frame.
func parseConnectResponse(body []byte) (connectResponse, error) {
	var r connectResponse
	if len(body) < 20 {
		return r, fmt.Errorf("zktest: connect response too short (%d bytes)", len(body))
	}
	r.protocolVersion = int32(binary.BigEndian.Uint32(body[0:4]))
	r.timeout = int32(binary.BigEndian.Uint32(body[4:8]))
	r.sessionID = int64(binary.BigEndian.Uint64(body[8:16]))
	n := int32(binary.BigEndian.Uint32(body[16:20]))
	switch {
	case n < 0: // null password
	case int(n) > len(body)-20:
		return r, fmt.Errorf("zktest: connect response password length %d exceeds frame", n)
	default:
		r.passwd = append([]byte(nil), body[20:20+n]...)
	}
	return r, nil
}

// encodeCloseSession returns the closeSession request frame: a request
// header (xid, opcode) and no body.
func encodeCloseSession() []byte {
	xid, op := int32(closeXid), int32(opCloseSession)
	body := binary.BigEndian.AppendUint32(nil, uint32(xid))
	body = binary.BigEndian.AppendUint32(body, uint32(op))
	return frame(body)
}

// replyHeader is the header of every response: xid, zxid, error code.
type replyHeader struct {
	xid  int32
	zxid int64
	err  int32
}

func parseReplyHeader(body []byte) (replyHeader, error) {
	if len(body) < 16 {
		return replyHeader{}, fmt.Errorf("zktest: reply too short (%d bytes)", len(body))
	}
	return replyHeader{
		xid:  int32(binary.BigEndian.Uint32(body[0:4])),
		zxid: int64(binary.BigEndian.Uint64(body[4:12])),
		err:  int32(binary.BigEndian.Uint32(body[12:16])),
	}, nil
}

func frame(body []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	return append(out, body...)
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("zktest: frame of %d bytes is too large", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// openSession connects to addr and sends a connect request for sessionID
// (0 creates a new session). It returns the open connection, with a deadline
// of timeout from now, and the server's response.
func openSession(addr string, timeout time.Duration, sessionID int64, passwd []byte) (net.Conn, connectResponse, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, connectResponse{}, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if passwd == nil {
		passwd = emptyPasswd
	}
	if _, err := conn.Write(encodeConnectRequest(10000, sessionID, passwd)); err != nil {
		conn.Close()
		return nil, connectResponse{}, fmt.Errorf("zktest: send connect request to %s: %w", addr, err)
	}
	body, err := readFrame(conn)
	if err != nil {
		conn.Close()
		return nil, connectResponse{}, fmt.Errorf("zktest: read connect response from %s: %w", addr, err)
	}
	resp, err := parseConnectResponse(body)
	if err != nil {
		conn.Close()
		return nil, connectResponse{}, err
	}
	return conn, resp, nil
}

// closeSession sends closeSession on conn (attached to a session) and
// waits for its reply, which the server sends once the session is closed
// and its ephemeral nodes are deleted.
func closeSession(conn net.Conn) error {
	if _, err := conn.Write(encodeCloseSession()); err != nil {
		return fmt.Errorf("zktest: send closeSession: %w", err)
	}
	for {
		body, err := readFrame(conn)
		if err != nil {
			return fmt.Errorf("zktest: read closeSession reply: %w", err)
		}
		h, err := parseReplyHeader(body)
		if err != nil {
			return err
		}
		if h.xid != closeXid {
			continue // a notification (-1) or ping (-2): not ours
		}
		if h.err != 0 {
			return fmt.Errorf("zktest: closeSession: server error code %d", h.err)
		}
		return nil
	}
}

// expireSession closes sessionID on the first of servers that accepts it,
// retrying until deadline. A session the server already reports as expired
// counts as done.
func expireSession(servers []string, sessionID int64, passwd []byte, deadline time.Time) error {
	var lastErr error
	for {
		for _, addr := range servers {
			if err := expireAt(addr, sessionID, passwd, time.Until(deadline)); err != nil {
				lastErr = err
				continue
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zktest: could not expire session 0x%x via %v: %w", sessionID, servers, lastErr)
		}
		time.Sleep(pollInterval)
	}
}

func expireAt(addr string, sessionID int64, passwd []byte, timeout time.Duration) error {
	timeout = min(max(timeout, 100*time.Millisecond), 5*time.Second)
	conn, resp, err := openSession(addr, timeout, sessionID, passwd)
	if err != nil {
		return err
	}
	defer conn.Close()
	if resp.expired() {
		return nil
	}
	return closeSession(conn)
}

// probeSession creates a session on addr and closes it again: a real
// request that needs a serving quorum.
func probeSession(addr string, timeout time.Duration) error {
	conn, resp, err := openSession(addr, timeout, 0, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	if resp.expired() {
		return fmt.Errorf("zktest: %s refused to create a session", addr)
	}
	return closeSession(conn)
}

// sessionBook records the password of every session seen by a Cluster's
// Dialer.
type sessionBook struct {
	mu      sync.Mutex
	passwds map[int64][]byte // guarded by mu
}

func (b *sessionBook) record(id int64, passwd []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.passwds == nil {
		b.passwds = make(map[int64][]byte)
	}
	b.passwds[id] = passwd
}

func (b *sessionBook) lookup(id int64) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.passwds[id]
	return p, ok
}

// recordingConn passes everything through and parses the first frame the
// server sends (the connect response) to record its session.
type recordingConn struct {
	net.Conn
	book *sessionBook

	mu   sync.Mutex
	buf  []byte // bytes of the first frame seen so far; guarded by mu
	done bool   // first frame parsed or given up on; guarded by mu
}

// Read reads from the connection and watches for the connect response.
func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.observe(p[:n])
	}
	return n, err
}

func (r *recordingConn) observe(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.buf = append(r.buf, b...)
	if len(r.buf) < 4 {
		return
	}
	n := int(binary.BigEndian.Uint32(r.buf[:4]))
	if n > connectResponseMax {
		r.done, r.buf = true, nil
		return
	}
	if len(r.buf) < 4+n {
		return
	}
	r.done = true
	resp, err := parseConnectResponse(r.buf[4 : 4+n])
	r.buf = nil
	if err == nil && !resp.expired() {
		r.book.record(resp.sessionID, resp.passwd)
	}
}

var errUnknownSession = errors.New("zktest: session not seen by Cluster.Dialer")
