package zktest

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// FourLetterWord sends a four-letter-word command (ruok, srvr, stat, mntr,
// cons, dump, wchs...) to the server at addr and returns its whole answer.
// Servers started by this package accept every command.
func FourLetterWord(addr, cmd string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return string(b), err
}

// ruok reports whether the server at addr answers ruok with imok.
func ruok(addr string) error {
	out, err := FourLetterWord(addr, "ruok", flwTimeout)
	if err != nil {
		return fmt.Errorf("ruok: %w", err)
	}
	if out != "imok" {
		return fmt.Errorf("ruok: answered %q", out)
	}
	return nil
}

// serverMode returns the Mode line of srvr ("standalone", "leader",
// "follower", "observer"), or an error when the server does not answer or
// does not serve requests.
func serverMode(addr string) (string, error) {
	out, err := FourLetterWord(addr, "srvr", flwTimeout)
	if err != nil {
		return "", fmt.Errorf("srvr: %w", err)
	}
	for line := range strings.Lines(out) {
		if mode, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(mode), nil
		}
	}
	return "", fmt.Errorf("srvr: not serving: %q", strings.TrimSpace(out))
}

// servingMode reports whether a srvr mode means the server serves clients.
func servingMode(mode string) bool {
	switch mode {
	case "standalone", "leader", "follower", "observer":
		return true
	}
	return false
}

// logTail returns the last lines of the log at path, for error messages.
func logTail(path string) string {
	const maxBytes, maxLines = 8 << 10, 40
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		_, _ = f.Seek(-maxBytes, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
