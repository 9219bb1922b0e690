package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// rawConn opens a plain ZooKeeper connection (for reading the tree as it
// is), authenticated like the store. It opens the read-only store first,
// which fails at once and says why on a wrong address or refused
// credentials (go-zookeeper alone retries in silence); a missing root or a
// root of another schema is left to the caller, which reads the tree as it
// is and explains it.
func (c *cli) rawConn(ctx context.Context) (*zk.Conn, error) {
	if c.conn != nil {
		return c.conn, nil
	}
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	if _, err := c.readStore(ctx); err != nil && !errors.Is(err, schedule.ErrSchema) && !errors.Is(err, schedule.ErrNotFound) {
		return nil, err
	}
	timeout := cfg.SessionTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	conn, events, err := zk.Connect(cfg.Servers, timeout, zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.g.zk, err)
	}
	c.conn = conn
	for connected := false; !connected; {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to %s: %w", c.g.zk, ctx.Err())
		case ev := <-events:
			connected = ev.State == zk.StateHasSession
			if ev.State == zk.StateAuthFailed {
				return nil, fmt.Errorf("connect to %s: authentication failed", c.g.zk)
			}
		}
	}
	go func() { // keep the event channel drained
		for range events {
		}
	}()
	if cfg.Auth != nil {
		if err := conn.AddAuth("digest", []byte(cfg.Auth.User+":"+cfg.Auth.Password)); err != nil {
			return nil, fmt.Errorf("authenticate as %s: %w", cfg.Auth, err)
		}
	}
	return conn, nil
}

// showHTMLChars undoes the \u003c, \u003e and \u0026 escapes Go's JSON
// encoder writes for <, > and & in compact JSON (an escaped backslash
// followed by "u003c" is left alone).
func showHTMLChars(s string) string {
	if !strings.Contains(s, `\u00`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == 'u' && i+6 <= len(s) {
			switch s[i+2 : i+6] {
			case "003c":
				b.WriteByte('<')
				i += 5
				continue
			case "003e":
				b.WriteByte('>')
				i += 5
				continue
			case "0026":
				b.WriteByte('&')
				i += 5
				continue
			}
		}
		b.WriteString(s[i : i+2]) // any other escape, kept whole
		i++
	}
	return b.String()
}

// decodeValue renders a node's data for people: compact JSON as is, text
// quoted, anything else as hex.
func decodeValue(data []byte) string {
	d := bytes.TrimSpace(data)
	if len(d) == 0 {
		return ""
	}
	if json.Valid(d) {
		var buf bytes.Buffer
		if json.Compact(&buf, d) == nil {
			// Go's encoder escapes <, > and & inside strings; show them.
			return showHTMLChars(buf.String())
		}
	}
	if utf8.Valid(d) {
		return fmt.Sprintf("%q", string(d))
	}
	return fmt.Sprintf("0x%x", d)
}

func treeCmd() command {
	return command{
		name:    "tree",
		args:    "[path]",
		summary: "the tree under the root with decoded values, like ls -R",
		help: `
path is relative to the root (or absolute inside it). Ephemeral nodes are
marked [E]; values are shown as compact JSON, quoted text, or hex.`,
		example: `  tbsctl tree
  tbsctl tree strategy
  tbsctl tree baseTaskType/orders --depth 2`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			depth := fs.Int("depth", -1, "levels below the path to show (-1: all)")
			noValues := fs.Bool("no-values", false, "show names only")
			return func(ctx context.Context, c *cli, args []string) error {
				if err := needArgs("tree", args, 0, 1, "at most one path"); err != nil {
					return err
				}
				if _, err := c.config(); err != nil {
					return err
				}
				p := c.g.root
				if len(args) == 1 && args[0] != "" && args[0] != "/" && args[0] != "." {
					a := args[0]
					if strings.HasPrefix(a, c.g.root+"/") || a == c.g.root {
						p = a
					} else {
						p = path.Join(c.g.root, strings.TrimPrefix(a, "/"))
					}
					if p != c.g.root && !strings.HasPrefix(p, c.g.root+"/") {
						return usagef("tree: path %q leaves the root %s", a, c.g.root)
					}
				}
				conn, err := c.rawConn(ctx)
				if err != nil {
					return err
				}
				t := &treeWalker{conn: conn, w: c.io.Out, values: !*noValues, depth: *depth}
				return t.walk(ctx, p, p, 0)
			}
		},
	}
}

type treeWalker struct {
	conn   *zk.Conn
	w      io.Writer
	values bool
	depth  int
}

func (t *treeWalker) walk(ctx context.Context, p, label string, level int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, stat, err := t.conn.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		if level == 0 {
			return fmt.Errorf("tree: node %s does not exist", p)
		}
		return nil // deleted while we walked
	}
	if err != nil {
		return fmt.Errorf("tree: get %s: %w", p, err)
	}
	line := strings.Repeat("  ", level) + label
	if stat.EphemeralOwner != 0 {
		line += " [E]"
	}
	if v := decodeValue(data); t.values && v != "" {
		line += "  " + v
	}
	fmt.Fprintln(t.w, line)
	if t.depth >= 0 && level >= t.depth {
		return nil
	}
	children, _, err := t.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tree: children of %s: %w", p, err)
	}
	sort.Strings(children)
	for _, ch := range children {
		if err := t.walk(ctx, p+"/"+ch, ch, level+1); err != nil {
			return err
		}
	}
	return nil
}
