package ctl

import (
	"context"
	"errors"
	"flag"
	"path"
	"strings"
	"time"
)

func importCmd() command {
	return command{
		name:    "import",
		args:    "-f FILE | --from-java-root ROOT",
		summary: "import task types and strategies from our export, the Java console's export, or a live Java root",
		help: `
The format is detected (--format auto): the Java console's export has one
JSON record per line, {"rootPath","configType","name","value"} (or the later
console's TASK{...}/STRATEGY{...} lines); anything else is read as our
format (see apply). The encoding is detected (--encoding auto): UTF-8, with
or without a byte order mark, else GBK (the Java console's), else the file
is refused naming the line; nothing is decoded into U+FFFD. The target is
always the root given to tbsctl, never the rootPath inside the file.

--from-java-root reads the task types and strategies of a running
TBSchedule deployment straight from its root (on the -zk servers, or on
--java-zk), with reads only: the Java root is left exactly as it was.

Records written by TBSchedule are mapped to what they did there (each
mapping is printed under its object): a strategy with a null, empty or
blank IPList ran nowhere and is imported paused with no host; IPList
entries are trimmed; kind Java becomes kind Bean under the class name (a Go
task of that name must be registered); assignNum 0 stays 0 (runs nowhere);
task types get the time zone their crons ran in: --time-zone, else this
machine's zone (TZ, /etc/localtime), printed; never UTC by default.

Each object is reported: created, updated, unchanged, or skipped with the
reasons (invalid, a field it does not know, an existing object that differs
without --force, a strategy whose task type is skipped). When one is
skipped nothing is written, unless --partial: then the others are written.
The exit code is 1 when anything was skipped. --dry-run shows the same
report and writes nothing.`,
		example: `  tbsctl -root /orders-go import --from-java-root /taobao-pamirs-schedule/orders --time-zone Asia/Shanghai --dry-run
  tbsctl import -f tbschedule-console-export.txt --time-zone Asia/Shanghai --dry-run
  tbsctl import -f tbschedule-console-export.txt --time-zone Asia/Shanghai --partial
  tbsctl -root /orders-copy import -f backup.json --force`,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			file := fs.String("f", "", "the file to import (- for standard input)")
			format := fs.String("format", formatAuto, "auto, ours or java")
			enc := fs.String("encoding", encAuto, "auto, utf-8 or gbk")
			zone := fs.String("time-zone", "", "the zone the Java crons ran in (default: this machine's zone)")
			force := fs.Bool("force", false, "overwrite existing objects that differ")
			partial := fs.Bool("partial", false, "write the valid objects even if some are skipped")
			dry := fs.Bool("dry-run", false, "validate and show what would change, write nothing")
			javaRoot := fs.String("from-java-root", "", "read TBSchedule's task types and strategies from this root of a live Java deployment (read only)")
			javaZK := fs.String("java-zk", "", "with --from-java-root: the ZooKeeper servers of the Java root (default: those of -zk)")
			return func(ctx context.Context, c *cli, args []string) error {
				var es []entry
				var perr, err error
				if *javaRoot != "" {
					es, perr, err = c.readJavaSource(ctx, args, *file, *javaRoot, *javaZK)
				} else {
					es, perr, err = c.readImportFile(args, *file, *enc, *format)
				}
				if err != nil {
					return err
				}
				if err := c.mapJava(es, *zone); err != nil {
					return err
				}
				return c.importEntries(ctx, es, perr, importOpts{dryRun: *dry, force: *force, partial: *partial})
			}
		},
	}
}

// readImportFile reads and decodes the file to import: the records read,
// the records that could not be read (unread, each skipped), and err when
// the file cannot be imported at all.
func (c *cli) readImportFile(args []string, file, enc, format string) (es []entry, unread, err error) {
	raw, err := c.readFileArg("import", args, file)
	if err != nil {
		return nil, nil, err
	}
	data, gotEnc, err := decodeText(file, raw, enc)
	if err != nil {
		return nil, nil, err
	}
	es, got, unread := readEntries(file, data, format)
	var ue *usageError
	if errors.As(unread, &ue) {
		return nil, nil, unread
	}
	c.out("importing %d object(s) (%s format, %s) into %s\n", len(es), got, gotEnc, c.g.root)
	return es, unread, nil
}

// readJavaSource reads the configuration of a live Java root (never
// writing to it) for import: the records read, the records that could not
// be read (unread, each skipped), and err when nothing can be imported.
// The Java root must not be the target root, nor hold it or lie inside it,
// on the same ZooKeeper.
func (c *cli) readJavaSource(ctx context.Context, args []string, file, javaRoot, javaZK string) (es []entry, unread, err error) {
	if err := needArgs("import", args, 0, 0, "no arguments"); err != nil {
		return nil, nil, err
	}
	if file != "" {
		return nil, nil, usagef("import: give -f FILE or --from-java-root ROOT, not both")
	}
	if !strings.HasPrefix(javaRoot, "/") || path.Clean(javaRoot) != javaRoot || javaRoot == "/" {
		return nil, nil, usagef("import: --from-java-root %q: must be an absolute path such as /taobao-pamirs-schedule/app", javaRoot)
	}
	if javaZK == "" && (within(javaRoot, c.g.root) || within(c.g.root, javaRoot)) {
		return nil, nil, usagef("import: --from-java-root %s and the target root %s overlap: import into a root of its own", javaRoot, c.g.root)
	}
	r, closeConn, err := c.javaConn(ctx, javaZK)
	if err != nil {
		return nil, nil, err
	}
	defer closeConn()
	es, perr := readJavaRoot(r, javaRoot)
	if len(es) == 0 && perr != nil && !isUnreadable(perr) {
		return nil, nil, perr
	}
	from := javaRoot
	if javaZK != "" {
		from = javaZK + javaRoot
	}
	c.out("importing %d object(s) (Java root %s, read only) into %s\n", len(es), from, c.g.root)
	return es, perr, nil
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// isUnreadable reports whether err holds only unreadable records.
func isUnreadable(err error) bool {
	for _, e := range recordErrors(err) {
		if _, ok := e.(*unreadable); !ok {
			return false
		}
	}
	return true
}

// mapJava applies javaSemantics to the entries written by TBSchedule,
// with the zone their crons ran in (printed) when one needs it.
func (c *cli) mapJava(es []entry, flagZone string) error {
	need := false
	for _, e := range es {
		need = need || (e.java && e.tt != nil && !e.hasTimeZone && e.tt.TimeZone == "")
	}
	zone := ""
	if need {
		z, from, err := importZone(flagZone, c.io.Getenv, osReadlink)
		if err != nil {
			return err
		}
		zone = z
		c.out("Java task types: crons run in %s (from %s)\n", zoneOffsetNow(z, time.Now()), from)
	}
	for i := range es {
		if es[i].java {
			es[i].notes = javaSemantics(&es[i], zone)
		}
	}
	return nil
}
