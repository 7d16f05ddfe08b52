package exporter

import "github.com/prometheus/client_golang/prometheus"

// NewReattachCounter returns netctl_reattach_total, read from count: how many times
// serve found its programs or pins removed or replaced and attached again.
func NewReattachCounter(count func() uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "netctl_reattach_total",
		Help: "Times serve found its programs or pinned maps removed or replaced, and attached again.",
	}, func() float64 { return float64(count()) })
}
