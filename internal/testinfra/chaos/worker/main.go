//go:build unix

// Command worker is one worker process of the chaos suite (package
// internal/testinfra/chaos): a strategy.Factory on ZooKeeper whose deal processes the
// records of the shared test database and logs every execution. The driver
// starts it; SIGTERM stops it gracefully (exit 0), anything else is a
// failure (exit 1 with the error on stderr).
//
//	worker -name w1.1 -host w1 -zk 127.0.0.1:2181 -root /chaos -session 2s \
//	       -log w1.1.log -db db -origin <mono ns> -period 250ms [-skew 5m] [-no-self-fencing]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/chaos"
)

func main() {
	var cfg chaos.WorkerConfig
	var zk, slogPath string
	flag.StringVar(&cfg.Name, "name", "", "incarnation name (w2.3)")
	flag.StringVar(&cfg.Host, "host", "", "factory host name (w2)")
	flag.StringVar(&zk, "zk", "", "comma-separated ZooKeeper servers")
	flag.StringVar(&cfg.Root, "root", "", "application root path")
	flag.DurationVar(&cfg.SessionTimeout, "session", 0, "ZooKeeper session timeout")
	flag.StringVar(&cfg.Log, "log", "", "execution log (appended)")
	flag.StringVar(&cfg.DB, "db", "", "shared database directory")
	flag.Int64Var(&cfg.Origin, "origin", 0, "CLOCK_MONOTONIC ns of record 0")
	flag.DurationVar(&cfg.Period, "period", 0, "time between records of an item")
	flag.DurationVar(&cfg.Skew, "skew", 0, "test only: shift the wall clock the library sees")
	flag.BoolVar(&cfg.NoSelfFencing, "no-self-fencing", false, "test only: the deliberately broken build")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the deal's random durations")
	flag.StringVar(&slogPath, "slog", "", "library log file (default stderr)")
	flag.Parse()
	if zk != "" {
		cfg.ZK = strings.Split(zk, ",")
	}
	out := os.Stderr
	if slogPath != "" {
		f, err := os.OpenFile(slogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		out = f
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})).With("worker", cfg.Name)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := chaos.RunWorker(ctx, cfg, logger); err != nil {
		logger.Error("worker failed", "err", err)
		fmt.Fprintln(os.Stderr, "worker", cfg.Name+":", err)
		stop()
		os.Exit(1)
	}
}
