package tbsprom

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// perServer sums a per-server value over the servers (thread groups) of a
// runtime in this process: a process may run several of one runtime, and
// each reports its own. A server that reports zero is forgotten, so servers
// of ended sessions do not accumulate.
type perServer struct {
	gauge *prometheus.GaugeVec
	mu    sync.Mutex // guards vals
	vals  map[string]map[schedule.ServerID]int
}

func newPerServer(g *prometheus.GaugeVec) *perServer {
	return &perServer{gauge: g, vals: map[string]map[schedule.ServerID]int{}}
}

// set records server's value n and sets the runtime's gauge to the sum.
func (p *perServer) set(runtime string, server schedule.ServerID, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.vals[runtime]
	if m == nil {
		m = map[schedule.ServerID]int{}
		p.vals[runtime] = m
	}
	if n == 0 {
		delete(m, server)
	} else {
		m[server] = n
	}
	sum := 0
	for _, v := range m {
		sum += v
	}
	p.gauge.WithLabelValues(runtimeLabels(runtime)).Set(float64(sum))
}
