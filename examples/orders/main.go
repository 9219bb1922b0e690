// Command orders is the canonical TBSchedule use on tbschedule-go: orders in
// a SQL database (SQLite through a pure-Go driver), processed by several
// worker processes coordinated through ZooKeeper, per environment (ownSign).
//
// The table orders has id, own_sign and status. The task type "orders" has
// 10 task items; a thread group's SelectTasks picks the new orders of its
// ownSign whose id mod 10 is one of its items, and Execute marks one done in
// a transaction fenced by the item's epoch (a stale owner's write is
// refused), recording every attempt so the check can count.
//
// Subcommands (each has -h):
//
//	orders seed   -db orders.db -base 2000 -test 500       create the table and new orders
//	orders setup  -zk 127.0.0.1:2181 -root /orders-app     apply the task type and the strategies
//	orders work   -zk 127.0.0.1:2181 -root /orders-app -db orders.db -name w1
//	orders check  -db orders.db                            every order processed exactly once?
//
// setup writes the strategies "orders-base" (taskName orders, ownSign BASE,
// 3 thread groups, at most one per worker, on the workers named by
// -base-workers, default w1,w2,w3) and "orders-test" (taskName
// orders$TEST, one thread group on -test-workers, default t1). A worker's
// -name is its host name as the strategies' IPList sees it. A worker runs
// until SIGINT or SIGTERM, then hands its items over and exits.
//
// This directory is its own Go module, so the library's go.mod does not
// carry the SQLite driver. Its test (go test ./... here) starts ZooKeeper,
// three BASE workers and one TEST worker as processes, kills one BASE
// worker with SIGKILL halfway, and checks every order; another deletes the
// task type (delete --force) while workers run and applies it again. The
// database keeps the highest epoch per item forever: that is sound because
// epochs never restart, not even when the task type is deleted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// Names of the example's configuration.
const (
	taskType     = "orders"
	dealName     = "orderDeal"
	baseStrategy = "orders-base"
	testStrategy = "orders-test"
	testOwnSign  = "TEST"
	numItems     = 10
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs one subcommand and returns the exit code: 0 fine, 1 failed
// (or the check found a problem), 2 bad usage.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := "usage: orders seed|setup|work|check [flags]   (orders <cmd> -h for the flags)"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"seed": cmdSeed, "setup": cmdSetup, "work": cmdWork, "check": cmdCheck,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "orders: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "orders %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "orders %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a bad flag or argument.
type usageError struct{ error }

func flags(name, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: orders %s [flags]\nexample: %s\n", name, example)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func cmdSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("seed", "orders seed -db orders.db -base 2000 -test 500", stderr)
	path := fs.String("db", "", "SQLite database file (created if missing)")
	base := fs.Int("base", 2000, "new orders to add for ownSign BASE")
	test := fs.Int("test", 500, "new orders to add for ownSign TEST")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *base < 0 || *test < 0 {
		return usageError{fmt.Errorf("-base %d, -test %d: counts must not be negative", *base, *test)}
	}
	db, err := openDB(*path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := seed(ctx, db, schedule.DefaultOwnSign, *base); err != nil {
		return err
	}
	if err := seed(ctx, db, testOwnSign, *test); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d BASE and %d TEST orders into %s\n", *base, *test, *path)
	return nil
}

// zkFlags are the connection flags of setup and work.
type zkFlags struct {
	servers, root *string
	session       *time.Duration
}

func addZKFlags(fs *flag.FlagSet) zkFlags {
	return zkFlags{
		servers: fs.String("zk", "", "ZooKeeper servers, host:port[,host:port...] (required)"),
		root:    fs.String("root", "/orders-app", "root of the application's tree in ZooKeeper"),
		session: fs.Duration("session", 10*time.Second, "ZooKeeper session timeout: a dead worker's items move after about this long"),
	}
}

func (z zkFlags) open(ctx context.Context, log *slog.Logger) (*zkstore.Store, error) {
	if *z.servers == "" {
		return nil, usageError{errors.New("-zk: the ZooKeeper servers are required")}
	}
	return zkstore.Open(ctx, zkstore.Config{Servers: strings.Split(*z.servers, ","), Root: *z.root,
		SessionTimeout: *z.session}, zkstore.WithLogger(log))
}

func cmdSetup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("setup", "orders setup -zk 127.0.0.1:2181 -root /orders-app", stderr)
	z := addZKFlags(fs)
	baseWorkers := fs.String("base-workers", "w1,w2,w3", "worker names (-name) that run the BASE orders")
	testWorkers := fs.String("test-workers", "t1", "worker names (-name) that run the TEST orders")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := z.open(ctx, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer store.Close()
	admin := strategy.NewAdmin(store, strategy.AdminConfig{})
	tt := orderTaskType()
	base := schedule.DefaultStrategy(baseStrategy)
	base.TaskName, base.AssignNum, base.NumOfSingleServer = taskType, 3, 1
	base.IPList = strings.Split(*baseWorkers, ",")
	test := schedule.DefaultStrategy(testStrategy)
	test.TaskName, test.AssignNum, test.NumOfSingleServer = taskType+"$"+testOwnSign, 1, 1
	test.IPList = strings.Split(*testWorkers, ",")
	changed, err := admin.ApplyTaskType(ctx, tt)
	if err != nil {
		return fmt.Errorf("task type %s: %w", taskType, err)
	}
	fmt.Fprintf(stdout, "task type %s: changed=%v\n", taskType, changed)
	for _, s := range []schedule.Strategy{base, test} {
		changed, err := admin.ApplyStrategy(ctx, s)
		if err != nil {
			return fmt.Errorf("strategy %s: %w", s.StrategyName, err)
		}
		fmt.Fprintf(stdout, "strategy %s (%s on %s): changed=%v\n", s.StrategyName, s.TaskName,
			strings.Join(s.IPList, ","), changed)
	}
	return nil
}

// orderTaskType is the task type: 10 items, SLEEP processor, 3 goroutines
// per thread group, 50 orders per fetch.
func orderTaskType() schedule.TaskType {
	tt := schedule.DefaultTaskType(taskType)
	tt.DealBeanName = dealName
	tt.ThreadNumber = 3
	tt.FetchDataNumber = 50
	tt.SleepTimeNoData = 200 * time.Millisecond
	for i := range numItems {
		tt.TaskItems = append(tt.TaskItems, fmt.Sprint(i))
	}
	return tt
}

func cmdWork(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("work", "orders work -zk 127.0.0.1:2181 -root /orders-app -db orders.db -name w1", stderr)
	z := addZKFlags(fs)
	path := fs.String("db", "", "SQLite database file (required)")
	name := fs.String("name", "", "this worker's host name, as the strategies' IPList names it (required)")
	verbose := fs.Bool("v", false, "log at Info (default Warn)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError{errors.New("-name: the worker's name is required")}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("worker", *name)
	db, err := openDB(*path)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := z.open(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	cfg := strategy.DefaultConfig()
	cfg.IP, cfg.HostName = "127.0.0.1", *name
	f, err := strategy.NewFactory(store, cfg, strategy.WithLogger(log))
	if err != nil {
		return err
	}
	if err := f.RegisterDeal(dealName, processor.Single[order](orderDeal{db: db, worker: *name})); err != nil {
		return err
	}
	// Say when the factory is registered (the test waits for this line).
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if id := f.Status().Factory; id != "" {
					fmt.Fprintln(stdout, "ready", id)
					return
				}
			}
		}
	}()
	return f.Run(ctx)
}

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("check", "orders check -db orders.db", stderr)
	path := fs.String("db", "", "SQLite database file (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openDB(*path)
	if err != nil {
		return err
	}
	defer db.Close()
	reps, err := check(ctx, db)
	if err != nil {
		return err
	}
	if len(reps) == 0 {
		return fmt.Errorf("%s has no orders (run orders seed first)", *path)
	}
	bad := 0
	for _, r := range reps {
		fmt.Fprintln(stdout, r)
		if !r.OK() {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d ownSign(s) not processed exactly once", bad)
	}
	fmt.Fprintln(stdout, "every order processed exactly once")
	return nil
}
