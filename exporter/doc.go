// Package exporter turns netctl's counters into Prometheus metrics: a
// prometheus.Collector (and the faster Gatherer of /metrics) over a probe source and the
// conversations internal/analysis finds in its flow tables, netctl_build_info, and the
// HTTP endpoints of `netctl serve`. It keeps what counters need across scrapes and
// restarts (SaveState, LoadState) within bounds that do not depend on the traffic
// (flowState), and does no kernel lookups of its own. Metric names and labels are the
// ones docs/metrics.md lists; dashboards and alert rules depend on them.
package exporter
