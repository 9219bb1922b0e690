package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// Environment variables read by tbsctl.
const (
	// EnvZK is the default of -zk: comma-separated "host:port" servers.
	EnvZK = "TBSCTL_ZK"
	// EnvRoot is the default of -root.
	EnvRoot = "TBSCTL_ROOT"
	// EnvAuth holds the digest credentials "user:password". There is no flag
	// for them, so they never show in a process listing.
	EnvAuth = "TBSCTL_AUTH"
)

// Exit codes of Main.
const (
	// ExitOK: the command succeeded (doctor: nothing needs a person; holds
	// and warnings may be listed).
	ExitOK = 0
	// ExitFailed: the command failed, or doctor found a problem that needs
	// a person.
	ExitFailed = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
)

// IO is what a run of tbsctl reads and writes: its streams and its
// environment.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// Getenv reads the environment (os.Getenv in the binary).
	Getenv func(string) string
}

// usageError is a wrong command line: Main prints it with a hint and exits
// with ExitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errSilent makes Main exit with ExitFailed without printing more (the
// command has explained itself already).
var errSilent = errors.New("failed")

// globals are the connection flags, accepted before or after the command.
type globals struct {
	zk      string
	root    string
	timeout time.Duration
	session time.Duration
	verbose bool
}

// cli is one run: the streams, the flags and the lazily opened connections.
type cli struct {
	io    IO
	g     globals
	log   *slog.Logger
	store *zkstore.Store
	// storeRO: store was opened read-only (readStore).
	storeRO bool
	conn    *zk.Conn
	admin   *strategy.Admin
}

// command is one subcommand. setup registers its flags on fs and returns
// the function that runs it with the positional arguments.
type command struct {
	name    string
	args    string
	summary string
	help    string
	example string
	setup   func(fs *flag.FlagSet) func(ctx context.Context, c *cli, args []string) error
	// serves: the command runs until interrupted (console); -timeout
	// bounds each command it runs instead of the whole run.
	serves bool
}

func commands() []command {
	return []command{
		treeCmd(), statusCmd(), factoriesCmd(), strategiesCmd(),
		applyCmd(), getCmd(), deleteCmd(),
		pauseCmd(), resumeCmd(), runNowCmd(), stopCmd(), startCmd(), drainCmd(),
		exportCmd(), importCmd(), doctorCmd(), createRootCmd(), deleteRootCmd(),
		consoleCmd(),
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// Main runs tbsctl with args (without the program name) and returns the
// exit code. It is the whole command, callable in-process by tests.
func Main(ctx context.Context, args []string, stdio IO) int {
	if stdio.Getenv == nil {
		stdio.Getenv = func(string) string { return "" }
	}
	if stdio.In == nil {
		stdio.In = strings.NewReader("")
	}
	c := &cli{io: stdio}
	err := c.run(ctx, args)
	c.close()
	return c.exitCode(err)
}

// exitCode prints err as Main does and returns the exit code for it.
func (c *cli) exitCode(err error) int {
	stdio := c.io
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stdio.Err, "tbsctl: %v\n(run \"tbsctl help\" or \"tbsctl COMMAND --help\")\n", ue.msg)
		return ExitUsage
	case errors.Is(err, errSilent):
		return ExitFailed
	default:
		fmt.Fprintf(stdio.Err, "tbsctl: %v\n", c.explain(err))
		return ExitFailed
	}
}

func (c *cli) run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("tbsctl")
	// Help is printed once, below, to standard output: the flag package
	// would print it to the flag set's Usage first.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.mainHelp(c.io.Out)
			return err
		}
		return usagef("%v", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		c.mainHelp(c.io.Err)
		return usagef("no command given")
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		if len(rest) == 0 {
			c.mainHelp(c.io.Out)
			return nil
		}
		cmd, ok := findCommand(rest[0])
		if !ok {
			return usagef("unknown command %q", rest[0])
		}
		cfs := c.newFlagSet("tbsctl " + cmd.name)
		cmd.setup(cfs)
		c.commandHelp(c.io.Out, cmd, cfs)
		return nil
	}
	cmd, ok := findCommand(name)
	if !ok {
		return usagef("unknown command %q", name)
	}
	cfs := c.newFlagSet("tbsctl " + cmd.name)
	runner := cmd.setup(cfs)
	cfs.Usage = func() {}
	pos, err := parseInterspersed(cfs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.commandHelp(c.io.Out, cmd, cfs)
			return err
		}
		return usagef("%s: %v", cmd.name, err)
	}
	level := slog.LevelError
	if c.g.verbose {
		level = slog.LevelDebug
	}
	c.log = slog.New(slog.NewTextHandler(c.io.Err, &slog.HandlerOptions{Level: level}))
	if c.g.timeout > 0 && !cmd.serves {
		timeout := c.g.timeout
		// A command's own --wait comes on top of the connection timeout.
		if f := cfs.Lookup("wait"); f != nil {
			if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 0 {
				timeout += d
			}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return runner(ctx, c, pos)
}

// newFlagSet returns a flag set with the connection flags on it, so they
// may be given before or after the command.
func (c *cli) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.g.zk == "" {
		c.g.zk = c.io.Getenv(EnvZK)
	}
	if c.g.root == "" {
		c.g.root = c.io.Getenv(EnvRoot)
	}
	if c.g.timeout == 0 {
		c.g.timeout = 2 * time.Minute
	}
	fs.StringVar(&c.g.zk, "zk", c.g.zk, "ZooKeeper servers, comma-separated host:port (env "+EnvZK+")")
	fs.StringVar(&c.g.root, "root", c.g.root, "root path of the application's tree, such as /orders-app (env "+EnvRoot+")")
	fs.DurationVar(&c.g.timeout, "timeout", c.g.timeout, "give up the whole command after this long (plus the command's --wait, if it has one)")
	fs.DurationVar(&c.g.session, "session-timeout", c.g.session, "ZooKeeper session timeout (0: the store's default)")
	fs.BoolVar(&c.g.verbose, "v", c.g.verbose, "log the store's debug messages to stderr")
	return fs
}

// parseInterspersed parses flags that may come after positional arguments
// ("delete strategy s1 --force").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *cli) mainHelp(w io.Writer) {
	fmt.Fprint(w, `tbsctl inspects and edits the ZooKeeper tree of tbschedule-go.

Usage: tbsctl [connection flags] COMMAND [flags] [args]

Commands:
`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, `
Connection flags (accepted before or after the command):
  -zk servers        ZooKeeper servers, comma-separated host:port (env %s)
  -root path         root of the application's tree, such as /orders-app (env %s)
  -timeout d         give up the whole command after d (default 2m; a command's
                     --wait comes on top)
  -session-timeout d ZooKeeper session timeout
  -v                 log the store's debug messages to stderr
Digest credentials "user:password" come only from the environment (%s).

Example:
  export %s=zk1:2181,zk2:2181 %s=/orders-app
  tbsctl status orders
  tbsctl help apply
`, EnvZK, EnvRoot, EnvAuth, EnvZK, EnvRoot)
}

func (c *cli) commandHelp(w io.Writer, cmd command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: tbsctl %s [flags] %s\n\n%s\n", cmd.name, cmd.args, cmd.summary)
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.help))
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nExample:\n%s\n", strings.TrimRight(cmd.example, "\n"))
}

// config returns the store configuration from the flags and environment.
func (c *cli) config() (zkstore.Config, error) {
	if strings.TrimSpace(c.g.zk) == "" {
		return zkstore.Config{}, usagef("no ZooKeeper servers: give -zk host:port[,host:port...] or set %s", EnvZK)
	}
	if c.g.root == "" {
		return zkstore.Config{}, usagef("no root: give -root /path or set %s", EnvRoot)
	}
	var servers []string
	for _, s := range strings.Split(c.g.zk, ",") {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	cfg := zkstore.Config{Servers: servers, Root: c.g.root, SessionTimeout: c.g.session}
	if a := c.io.Getenv(EnvAuth); a != "" {
		user, pass, ok := strings.Cut(a, ":")
		if !ok || user == "" || pass == "" {
			// Never show the value: it holds a password.
			return zkstore.Config{}, usagef("%s must be \"user:password\" with both parts non-empty", EnvAuth)
		}
		cfg.Auth = zkstore.Digest(user, pass)
	}
	if err := cfg.Validate(); err != nil {
		return zkstore.Config{}, usagef("%v", err)
	}
	return cfg, nil
}

// openStore opens the store for a command that writes: it creates the
// root if it is missing, as every client of the library does, and fails
// at once if ZooKeeper refuses the credentials of EnvAuth.
func (c *cli) openStore(ctx context.Context) (*zkstore.Store, error) {
	return c.open(ctx, false)
}

// readStore opens the store for a command that only reads: it creates
// nothing, and a missing root is an error naming it.
func (c *cli) readStore(ctx context.Context) (*zkstore.Store, error) {
	return c.open(ctx, true)
}

func (c *cli) open(ctx context.Context, readOnly bool) (*zkstore.Store, error) {
	if c.store != nil && c.storeRO == readOnly {
		return c.store, nil
	}
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	cfg.ReadOnly = readOnly
	s, err := zkstore.Open(ctx, cfg, zkstore.WithLogger(c.log))
	if err != nil {
		if readOnly && errors.Is(err, schedule.ErrNotFound) {
			return nil, fmt.Errorf("connect to %s root %s: %w (a new root is made on purpose with \"tbsctl create-root %s\")", c.g.zk, c.g.root, err, c.g.root)
		}
		return nil, fmt.Errorf("connect to %s root %s: %w", c.g.zk, c.g.root, err)
	}
	if c.store != nil {
		_ = c.store.Close()
	}
	c.store, c.storeRO = s, readOnly
	c.admin = strategy.NewAdmin(s, strategy.AdminConfig{})
	return s, nil
}

// adminAPI opens the store and returns the admin on it.
func (c *cli) adminAPI(ctx context.Context) (*strategy.Admin, *zkstore.Store, error) {
	s, err := c.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.admin, s, nil
}

// readAdmin opens the store read-only and returns the admin on it (for
// its reads only).
func (c *cli) readAdmin(ctx context.Context) (*strategy.Admin, *zkstore.Store, error) {
	s, err := c.readStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.admin, s, nil
}

// explain adds to a refusal by the ACL where tbsctl's credentials come
// from (the user, never the password).
func (c *cli) explain(err error) error {
	if !errors.Is(err, schedule.ErrPermission) && !errors.Is(err, zk.ErrNoAuth) {
		return err
	}
	a := c.io.Getenv(EnvAuth)
	if a == "" {
		return fmt.Errorf("%w\n(%s is not set: tbsctl wrote without credentials; set it to the tree's \"user:password\")", err, EnvAuth)
	}
	user, _, _ := strings.Cut(a, ":")
	return fmt.Errorf("%w\n(%s names user %q: check its password, or whether this tree belongs to another user)", err, EnvAuth, user)
}

func (c *cli) close() {
	if c.store != nil {
		_ = c.store.Close()
	}
	if c.conn != nil {
		c.conn.Close()
	}
}

func (c *cli) out(format string, args ...any) { fmt.Fprintf(c.io.Out, format, args...) }

// needArgs checks the number of positional arguments.
func needArgs(cmd string, args []string, min, max int, what string) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		return usagef("%s: expected %s, got %d argument(s): %q", cmd, what, len(args), args)
	}
	return nil
}

// outputFlag registers -o with the allowed formats.
func outputFlag(fs *flag.FlagSet, def string, allowed ...string) *string {
	return fs.String("o", def, "output format: "+strings.Join(allowed, ", "))
}

func checkOutput(cmd, got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usagef("%s: -o %q: must be one of %s", cmd, got, strings.Join(allowed, ", "))
}

// errNotFoundf wraps schedule.ErrNotFound with a message naming the object.
func errNotFoundf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), schedule.ErrNotFound)
}
