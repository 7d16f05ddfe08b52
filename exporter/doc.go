// Package exporter turns netctl's counters into Prometheus metrics: a
// prometheus.Collector over probe snapshots and the conversations internal/analysis
// finds in them, netctl_build_info, and the HTTP endpoints of `netctl serve`. It keeps
// what counters need across scrapes and restarts (SaveState, LoadState) and does no
// kernel lookups of its own. Metric names and labels are the ones docs/metrics.md
// lists; dashboards and alert rules depend on them.
package exporter
