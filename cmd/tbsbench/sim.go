package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/sim"
)

// simulate runs internal/testinfra/sim: 1,000 servers × 100,000 items (quick: 200 ×
// 10,000), start, crash of 10%, join, graceful stop.
func simulate(ctx context.Context, quick bool) (Section, error) {
	cfg := sim.Config{Servers: 1000, Items: 100000}
	if quick {
		cfg = sim.Config{Servers: 200, Items: 10000}
	}
	sec := Section{Name: "sim",
		Columns: []string{"event", "servers after", "rounds", "of which held", "items moved", "item writes", "writes / moved", "full item reads (modelled)", "store ops", "fake-clock wait", "balanced", "real time"},
		Note:    fmt.Sprintf("memstore + fake clock, %d servers × %d items; schedule.Manager's own planners (internal/plan), in rounds; a held round waits for the lock delay", cfg.Servers, cfg.Items)}
	res, err := sim.Run(ctx, cfg)
	if err != nil {
		return sec, err
	}
	for _, r := range res {
		ratio := "–"
		if r.Moved > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.Writes)/float64(r.Moved))
		}
		sec.row(r.Event, strconv.Itoa(r.Servers), strconv.Itoa(r.Rounds), strconv.Itoa(r.HeldRounds), strconv.Itoa(r.Moved), strconv.Itoa(r.Writes), ratio,
			strconv.Itoa(r.Reads), strconv.FormatInt(r.StoreOps, 10), r.SimTime.String(), strconv.FormatBool(r.Balanced), secs(r.Elapsed))
		key := strings.NewReplacer(" ", "_", "%", "pct").Replace(strings.Fields(r.Event)[0])
		sec.set(key+"_rounds", float64(r.Rounds))
		sec.set(key+"_held_rounds", float64(r.HeldRounds))
		sec.set(key+"_moved", float64(r.Moved))
		sec.set(key+"_writes", float64(r.Writes))
	}
	return sec, nil
}
