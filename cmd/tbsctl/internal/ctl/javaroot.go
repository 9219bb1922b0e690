package ctl

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// javaReader is the part of a ZooKeeper connection that reading a Java
// root uses: reads only, so the Java root cannot be written.
type javaReader interface {
	Children(path string) ([]string, *zk.Stat, error)
	Get(path string) ([]byte, *zk.Stat, error)
}

// readJavaRoot reads the task types (root/baseTaskType/<name>) and the
// strategies (root/strategy/<name>) of a TBSchedule root, each node's data
// being the record's JSON in the JVM's charset (UTF-8 or GBK, detected as
// for a file). The runtimes, servers, items and factories under them are
// not read: they are the Java processes' state, not configuration. A node
// that cannot be read is one error (the record is skipped); the others are
// returned.
func readJavaRoot(r javaReader, root string) ([]entry, error) {
	data, _, err := r.Get(root)
	if err != nil {
		return nil, fmt.Errorf("java root %s: %w", root, err)
	}
	if v := strings.TrimSpace(string(data)); strings.Contains(v, "tbschedule-go") {
		return nil, fmt.Errorf("java root %s: its data %q says it is a tbschedule-go root, not TBSchedule's: use export and import", root, v)
	}
	var es []entry
	var errs []error
	found := false
	for _, d := range []struct{ dir, kind string }{{"baseTaskType", "taskType"}, {"strategy", "strategy"}} {
		dir := path.Join(root, d.dir)
		names, _, err := r.Children(dir)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("java root: list %s: %w", dir, err)
		}
		found = true
		sort.Strings(names)
		for _, name := range names {
			p := path.Join(dir, name)
			e, err := readJavaNode(r, p, d.kind, name)
			if err != nil {
				errs = append(errs, &unreadable{err})
				continue
			}
			es = append(es, e)
		}
	}
	if !found {
		return nil, fmt.Errorf("java root %s: neither %s/baseTaskType nor %s/strategy exists: is it TBSchedule's root?", root, root, root)
	}
	return es, errors.Join(errs...)
}

// readJavaNode reads one task type or strategy node.
func readJavaNode(r javaReader, p, kind, name string) (entry, error) {
	raw, _, err := r.Get(p)
	if err != nil {
		return entry{}, fmt.Errorf("%s: %w", p, err)
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return entry{}, fmt.Errorf("%s: no data (the Java console never finished writing it?)", p)
	}
	text, _, err := decodeText(p, raw, encAuto)
	if err != nil {
		return entry{}, err
	}
	return javaRecord(p, kind, name, text)
}

// javaConn connects to the ZooKeeper holding the Java root: servers (a
// comma-separated list) when given, else the one of -zk, through the same
// read-only plain connection as tree and doctor.
func (c *cli) javaConn(ctx context.Context, servers string) (javaReader, func(), error) {
	if strings.TrimSpace(servers) == "" {
		conn, err := c.rawConn(ctx)
		return conn, func() {}, err
	}
	var list []string
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	conn, events, err := zk.Connect(list, 10*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", servers, err)
	}
	for connected := false; !connected; {
		select {
		case <-ctx.Done():
			conn.Close()
			return nil, nil, fmt.Errorf("connect to %s: %w", servers, ctx.Err())
		case ev := <-events:
			connected = ev.State == zk.StateHasSession
		}
	}
	go func() { // keep the event channel drained
		for range events {
		}
	}()
	return conn, conn.Close, nil
}
