package exporter

import "github.com/prometheus/client_golang/prometheus"

// NICReapply counts, per container, the NICs of `nic add --persist` that `netctl serve`
// put back when their container started again, and the attempts that failed. A
// container's series go when it is removed (Forget).
type NICReapply struct {
	ok, failed *prometheus.CounterVec
}

// NewNICReapply returns the two counters, with no series yet.
func NewNICReapply() *NICReapply {
	return &NICReapply{
		ok: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "netctl_nic_reapplied_total",
			Help: "NICs of nic add --persist that serve put back when their container started again."}, []string{"container"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "netctl_nic_reapply_errors_total",
			Help: "Attempts to put back a persisted NIC on a started container that failed."}, []string{"container"}),
	}
}

// Track starts the container's series at 0, so that the first NIC put back is an
// increase that rate() and increase() see.
func (r *NICReapply) Track(container string) {
	r.ok.WithLabelValues(container)
	r.failed.WithLabelValues(container)
}

// Reapplied counts a NIC put back.
func (r *NICReapply) Reapplied(container string) { r.ok.WithLabelValues(container).Inc() }

// Failed counts an attempt that failed.
func (r *NICReapply) Failed(container string) { r.failed.WithLabelValues(container).Inc() }

// Forget drops the container's series (it was removed, or renamed).
func (r *NICReapply) Forget(container string) {
	r.ok.DeleteLabelValues(container)
	r.failed.DeleteLabelValues(container)
}

// Describe implements prometheus.Collector.
func (r *NICReapply) Describe(ch chan<- *prometheus.Desc) {
	r.ok.Describe(ch)
	r.failed.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *NICReapply) Collect(ch chan<- prometheus.Metric) {
	r.ok.Collect(ch)
	r.failed.Collect(ch)
}
