//go:build unix

package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"go.uber.org/goleak"

	"github.com/tbschedule/tbschedule-go/internal/fence"
	"github.com/tbschedule/tbschedule-go/processor"
	"github.com/tbschedule/tbschedule-go/schedule"
	"github.com/tbschedule/tbschedule-go/strategy"
	"github.com/tbschedule/tbschedule-go/zkstore"
)

// Names shared by the driver and the workers.
const (
	TaskName     = "chaos"      // the task type (and its BASE runtime)
	StrategyName = "chaos-s"    // its Schedule strategy
	DealName     = "chaos-deal" // the deal bean
	AuthUser     = "chaos"      // digest identity of the application
	AuthPassword = "secret"
)

// WorkerConfig is the configuration of one worker process.
type WorkerConfig struct {
	Name           string        // incarnation name, e.g. "w2.3"; Host is its factory host name
	Host           string        // factory host name ("w2"): stable across restarts
	ZK             []string      // ZooKeeper servers (a fault proxy's addresses)
	Root           string        // root path of the application
	SessionTimeout time.Duration // ZooKeeper session timeout
	Log            string        // the execution log (appended)
	DB             string        // the shared database directory
	Origin         int64         // Mono() of record 0
	Period         time.Duration // time between records of an item
	// Skew shifts the wall clock the library sees (schedule.Clock and the
	// store's clock) by this much; the monotonic reading is kept, so only
	// code that wrongly trusts local wall time is affected. Test-only.
	Skew time.Duration
	// NoSelfFencing switches the managers' self-fencing off
	// (ManagerConfig.FaultTest = fence.NoSelfFencing()) and the lock delay
	// with it (LockDelay < 0, so that the leader does not
	// wait out the deals the process no longer fences): the deliberately
	// broken build. Test-only.
	NoSelfFencing bool
	Seed          uint64 // for the deal's random durations
}

// Validate reports every missing or bad field at once.
func (c WorkerConfig) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("chaos: worker: "+format, a...)) }
	if c.Name == "" {
		bad("Name is required")
	}
	if c.Host == "" {
		bad("Host is required")
	}
	if len(c.ZK) == 0 {
		bad("ZK (servers) is required")
	}
	if !strings.HasPrefix(c.Root, "/") {
		bad("Root %q must be an absolute path", c.Root)
	}
	if c.SessionTimeout <= 0 {
		bad("SessionTimeout (%v) must be positive", c.SessionTimeout)
	}
	if c.Log == "" || c.DB == "" {
		bad("Log and DB are required")
	}
	if c.Period <= 0 {
		bad("Period (%v) must be positive", c.Period)
	}
	return errors.Join(errs...)
}

// skewedClock is the system clock with its wall reading moved by skew.
type skewedClock struct {
	schedule.Clock
	skew time.Duration
}

// Now keeps the monotonic reading (Add does), so durations are unaffected.
func (c skewedClock) Now() time.Time { return c.Clock.Now().Add(c.skew) }

// record is one record of an item, as the deal sees it.
type record struct {
	item  string
	epoch int64
	n     int64
}

// claimRecords is the deal's SelectTasks: it claims every item of req
// under its epoch and returns a fair share of FetchNum per item of the
// records not done, so no item starves behind the backlog of another. It
// logs the start of the fetch per item (F), and each claim the database
// granted once it returned (C): a claim can wait for the item's lock, held
// for as long as its holder runs (a frozen worker holds it until its
// SIGCONT), and only a granted claim makes the database refuse commits
// under older epochs.
func claimRecords(db *DB, line func(kind string, at int64, args ...any), req processor.SelectRequest) ([]record, error) {
	now := Mono()
	for _, it := range req.Items {
		line("F", now, it.ID, it.Epoch)
	}
	share := max(1, (req.FetchNum+len(req.Items)-1)/len(req.Items))
	var out []record
	for _, it := range req.Items {
		recs, stale, err := db.Claim(it.ID, it.Epoch, now, share)
		if err != nil {
			return out, err
		}
		if !stale {
			line("C", Mono(), it.ID, it.Epoch)
		}
		for _, n := range recs {
			out = append(out, record{item: it.ID, epoch: it.Epoch, n: n})
		}
	}
	return out, nil
}

// RunWorker runs one worker until ctx ends (graceful stop) and returns nil
// after a clean stop. It prints "ready <factory id>" and "session <id>"
// lines on stdout for the driver. The log gets every execution.
func RunWorker(ctx context.Context, cfg WorkerConfig, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	lg, err := CreateLog(cfg.Log)
	if err != nil {
		return err
	}
	defer lg.Close()
	if err := lg.Line("W", cfg.Name, os.Getpid()); err != nil {
		return err
	}
	db, err := OpenDB(cfg.DB, cfg.Origin, int64(cfg.Period))
	if err != nil {
		return err
	}
	clock := schedule.SystemClock()
	if cfg.Skew != 0 {
		clock = skewedClock{Clock: clock, skew: cfg.Skew}
	}
	zcfg := zkstore.Config{Servers: cfg.ZK, Root: cfg.Root, SessionTimeout: cfg.SessionTimeout,
		Auth: zkstore.Digest(AuthUser, AuthPassword), CalibrationInterval: 10 * time.Second}
	store, err := zkstore.Open(ctx, zcfg, zkstore.WithLogger(logger), zkstore.WithClock(clock))
	if err != nil {
		return err
	}
	fcfg := strategy.DefaultConfig()
	fcfg.IP, fcfg.HostName = "127.0.0.1", cfg.Host
	fcfg.RefreshInterval = 5 * time.Second
	fcfg.RetryMin, fcfg.RetryMax = 50*time.Millisecond, time.Second
	fcfg.ShutdownTimeout = 20 * time.Second
	fcfg.ManagerConfig.ShutdownTimeout = 3 * time.Second
	if cfg.NoSelfFencing {
		fcfg.ManagerConfig.FaultTest = fence.NoSelfFencing()
		fcfg.LockDelay, fcfg.ManagerConfig.LockDelay = -1, -1
	}
	f, err := strategy.NewFactory(store, fcfg, strategy.WithLogger(logger), strategy.WithClock(clock))
	if err != nil {
		_ = store.Close()
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(os.Getpid())))
	var rngMu = make(chan struct{}, 1)
	duration := func() time.Duration {
		rngMu <- struct{}{}
		defer func() { <-rngMu }()
		if rng.IntN(20) == 0 { // one record in twenty is slow: it spans faults
			return time.Duration(200+rng.IntN(700)) * time.Millisecond
		}
		return time.Duration(5+rng.IntN(40)) * time.Millisecond
	}
	var logErr error
	line := func(kind string, at int64, args ...any) {
		if err := lg.LineAt(kind, at, args...); err != nil && logErr == nil {
			logErr = err
			logger.Error("execution log failed", "err", err)
		}
	}
	deal := processor.SingleFunc(
		func(ctx context.Context, req processor.SelectRequest) ([]record, error) {
			return claimRecords(db, line, req)
		},
		func(ctx context.Context, r record, _ string) error {
			line("B", Mono(), r.item, r.epoch, r.n)
			t := time.NewTimer(duration())
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			// The execution ends here, when the work is done and the
			// commit is asked for: the commit is atomic at the database,
			// which waits for its lock (its holder may be a frozen worker).
			end := Mono()
			if ctx.Err() != nil {
				line("E", end, r.item, r.epoch, r.n, OutcomeCancelled)
				return ctx.Err()
			}
			ok, err := db.Commit(r.item, r.epoch, r.n)
			switch {
			case err != nil:
				line("E", end, r.item, r.epoch, r.n, OutcomeError)
				return err
			case !ok:
				line("E", end, r.item, r.epoch, r.n, OutcomeStale)
			default:
				line("E", end, r.item, r.epoch, r.n, OutcomeDone)
			}
			return nil
		},
		processor.WithKey(func(r record) string { return fmt.Sprintf("%s/%d", r.item, r.n) }),
	)
	if err := f.RegisterDeal(DealName, deal); err != nil {
		_ = store.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { // tell the driver who we are, and every new session
		defer close(done)
		ready := false
		var last int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if id := f.Status().Factory; id != "" && !ready {
				fmt.Println("ready", id)
				ready = true
			}
			sctx, scancel := context.WithTimeout(runCtx, time.Second)
			if s, err := store.Session(sctx); err == nil && s.ID() != last {
				last = s.ID()
				fmt.Printf("session %d\n", last)
			}
			scancel()
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	runErr := f.Run(ctx)
	cancel()
	<-done
	closeErr := store.Close()
	if err := errors.Join(runErr, closeErr, logErr); err != nil {
		return err
	}
	leaked := 0
	if err := goleak.Find(); err != nil {
		leaked = strings.Count(err.Error(), "Goroutine ")
		logger.Error("goroutines left after a graceful stop", "err", err)
	}
	return lg.Line("X", leaked)
}
