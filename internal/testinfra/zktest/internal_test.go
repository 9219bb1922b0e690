package zktest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSuperDigestMatchesCredentials(t *testing.T) {
	scheme, auth := SuperAuth()
	assert.Equal(t, "digest", scheme)
	sum := sha1.Sum(auth)
	user, _, _ := strings.Cut(string(auth), ":")
	assert.Equal(t, user+":"+base64.StdEncoding.EncodeToString(sum[:]), SuperDigest)
}

func TestEncodeConnectRequest(t *testing.T) {
	passwd := []byte{1, 2, 3}
	got := encodeConnectRequest(4000, 0x1122334455667788, passwd)
	want := []byte{
		0, 0, 0, 32, // frame length
		0, 0, 0, 0, // protocolVersion
		0, 0, 0, 0, 0, 0, 0, 0, // lastZxidSeen
		0, 0, 0x0f, 0xa0, // timeOut 4000
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, // sessionId
		0, 0, 0, 3, 1, 2, 3, // passwd
		0, // readOnly
	}
	assert.Equal(t, want, got)
}

func TestEncodeCloseSession(t *testing.T) {
	assert.Equal(t, []byte{0, 0, 0, 8, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf5}, encodeCloseSession())
}

func connectResponseFrame(timeout int32, sid int64, passwd []byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, 0)
	body = binary.BigEndian.AppendUint32(body, uint32(timeout))
	body = binary.BigEndian.AppendUint64(body, uint64(sid))
	body = binary.BigEndian.AppendUint32(body, uint32(len(passwd)))
	body = append(body, passwd...)
	body = append(body, 0) // readOnly
	return frame(body)
}

func TestParseConnectResponse(t *testing.T) {
	passwd := []byte("0123456789abcdef")
	r, err := parseConnectResponse(connectResponseFrame(4000, 42, passwd)[4:])
	require.NoError(t, err)
	assert.Equal(t, connectResponse{timeout: 4000, sessionID: 42, passwd: passwd}, r)
	assert.False(t, r.expired())

	r, err = parseConnectResponse(connectResponseFrame(0, 0, passwd)[4:])
	require.NoError(t, err)
	assert.True(t, r.expired())

	for name, body := range map[string][]byte{
		"short":           {0, 0, 0, 0},
		"passwd too long": connectResponseFrame(4000, 42, passwd)[4:20],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseConnectResponse(body)
			assert.Error(t, err)
		})
	}
}

func TestParseReplyHeader(t *testing.T) {
	body := []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0x9c}
	h, err := parseReplyHeader(body)
	require.NoError(t, err)
	assert.Equal(t, replyHeader{xid: 1, zxid: 7, err: -100}, h)
	_, err = parseReplyHeader(body[:15])
	assert.Error(t, err)
}

// The Dialer's connection records the session whatever the read sizes are,
// and passes every byte through unchanged.
func TestRecordingConnRecordsSession(t *testing.T) {
	passwd := []byte("0123456789abcdef")
	stream := append(connectResponseFrame(4000, 0x77, passwd), []byte("then other frames")...)
	for _, chunk := range []int{1, 3, 7, len(stream)} {
		book := &sessionBook{}
		server, client := net.Pipe()
		go func() {
			defer server.Close()
			for rest := stream; len(rest) > 0; {
				n := min(chunk, len(rest))
				if _, err := server.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
			}
		}()
		rc := &recordingConn{Conn: client, book: book}
		var got []byte
		buf := make([]byte, 5)
		for {
			n, err := rc.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		client.Close()
		assert.Equal(t, stream, got, "chunk %d", chunk)
		p, ok := book.lookup(0x77)
		assert.True(t, ok, "chunk %d", chunk)
		assert.Equal(t, passwd, p, "chunk %d", chunk)
	}
}

func TestRecordingConnIgnoresExpiredResponse(t *testing.T) {
	book := &sessionBook{}
	rc := &recordingConn{book: book}
	rc.observe(connectResponseFrame(0, 0, make([]byte, 16)))
	_, ok := book.lookup(0)
	assert.False(t, ok)
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"TestX":                 "TestX",
		"TestX/sub case#1":      "TestX_sub_case_1",
		"..":                    "test",
		"Test/é":                "Test__",
		strings.Repeat("a", 99): strings.Repeat("a", 64),
	} {
		assert.Equal(t, want, sanitize(in), "sanitize(%q)", in)
	}
}

func TestAvailableNamesInstallCommand(t *testing.T) {
	t.Run("no ZooKeeper in ZOOKEEPER_HOME", func(t *testing.T) {
		t.Setenv("ZOOKEEPER_HOME", t.TempDir())
		err := Available()
		require.Error(t, err)
		assert.Contains(t, err.Error(), installHint)
	})
	t.Run("no java", func(t *testing.T) {
		t.Setenv("JAVA_HOME", "")
		t.Setenv("PATH", t.TempDir())
		err := Available()
		require.Error(t, err)
		assert.Contains(t, err.Error(), installHint)
	})
}

func TestExternalCluster(t *testing.T) {
	c := externalCluster([]string{"10.0.0.1:2181", " 10.0.0.2:2181"})
	assert.Equal(t, []string{"10.0.0.1:2181", "10.0.0.2:2181"}, c.Servers())
	assert.Equal(t, 2, c.Size())
	assert.False(t, c.Member(1).Running())
	assert.False(t, c.disposable())
}

// A start that finds its client port taken reports errPortInUse (so
// startCluster retries on fresh ports) with the server log.
func TestStartDetectsPortInUse(t *testing.T) {
	t.Parallel()
	Require(t)
	inst, err := findInstall()
	require.NoError(t, err)
	// Take the port the cluster was given; another process may have taken
	// that free port first (tests run in parallel), then choose again.
	var c *Cluster
	var l net.Listener
	for try := 0; l == nil && try < 10; try++ {
		c, err = newCluster(inst, t.TempDir(), 1)
		require.NoError(t, err)
		l, _ = net.Listen("tcp", c.members[0].addr)
	}
	require.NotNil(t, l, "no free port could be held")
	defer l.Close()

	err = c.startAll()
	c.kill()
	require.ErrorIs(t, err, errPortInUse)
	assert.Contains(t, err.Error(), "Address already in use", "the error carries the log tail")
}
