// Package exporter serves netctl's counters to Prometheus: a prometheus.Collector over
// probe snapshots, the asymmetric-flow detection and the HTTP server of `netctl serve`
// (issue 5). Metric names are fixed by ../shared/design/contract.md; dashboards and
// alert rules depend on them.
package exporter
