package tbsprom

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// durationHistVec is a histogram of durations by task type and ownSign,
// lighter on the hot path than prometheus.HistogramVec: an observation is
// a bucket search and two atomic adds (the bucket's count, the sum in
// nanoseconds). Collect builds constant histograms from them; a scrape
// racing observations may see the sum of an observation whose bucket it
// missed, or the reverse (the count is always the buckets' total).
type durationHistVec struct {
	desc   *prometheus.Desc
	bounds []time.Duration // upper bounds, ascending
	mu     sync.Mutex      // guards hists
	hists  map[[2]string]*durationHist
}

type durationHist struct {
	labels [2]string
	bounds []time.Duration
	counts []atomic.Uint64 // per bucket, the last for +Inf
	sumNs  atomic.Int64
}

func newDurationHistVec(sub, name, help string, bounds []float64) *durationHistVec {
	v := &durationHistVec{
		desc:  prometheus.NewDesc(prometheus.BuildFQName(namespace, sub, name), help, runtimeLabelNames, nil),
		hists: map[[2]string]*durationHist{},
	}
	for _, b := range bounds {
		v.bounds = append(v.bounds, time.Duration(b*float64(time.Second)))
	}
	return v
}

// with returns the histogram of one task type and ownSign, created on first use.
func (v *durationHistVec) with(taskType, ownSign string) *durationHist {
	k := [2]string{taskType, ownSign}
	v.mu.Lock()
	defer v.mu.Unlock()
	h := v.hists[k]
	if h == nil {
		h = &durationHist{labels: k, bounds: v.bounds, counts: make([]atomic.Uint64, len(v.bounds)+1)}
		v.hists[k] = h
	}
	return h
}

func (h *durationHist) observe(d time.Duration) {
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// Describe implements prometheus.Collector.
func (v *durationHistVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements prometheus.Collector.
func (v *durationHistVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	hists := make([]*durationHist, 0, len(v.hists))
	for _, h := range v.hists {
		hists = append(hists, h)
	}
	v.mu.Unlock()
	for _, h := range hists {
		buckets := make(map[float64]uint64, len(h.bounds))
		var cum uint64
		for i, b := range h.bounds {
			cum += h.counts[i].Load()
			buckets[b.Seconds()] = cum
		}
		cum += h.counts[len(h.bounds)].Load()
		sum := time.Duration(h.sumNs.Load()).Seconds()
		ch <- prometheus.MustNewConstHistogram(v.desc, cum, sum, buckets, h.labels[0], h.labels[1])
	}
}
