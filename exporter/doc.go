// Package exporter will hold the Prometheus collector over probe snapshots, the
// asymmetric-flow detection and the HTTP server of `netctl serve` (issue 5). It is empty
// until then; see ../shared/design/contract.md for the metric names it must serve.
package exporter
