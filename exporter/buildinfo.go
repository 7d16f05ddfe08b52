package exporter

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// NewBuildInfo returns the netctl_build_info gauge: always 1, labelled with the version,
// the revision it was built from and the Go version, as the Prometheus exporter guide
// recommends.
func NewBuildInfo(version, revision string) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "netctl_build_info",
		Help:        "A metric with a constant '1' value labeled by version, revision and goversion from which netctl was built.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	}, func() float64 { return 1 })
}
