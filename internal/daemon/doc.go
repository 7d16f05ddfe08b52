//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

// Package daemon is `netctl serve`: it keeps the counters attached (the bridge's ports
// as containers come and go), serves them to Prometheus through the exporter, answers
// /flows with internal/analysis (route lookups included) and keeps the collector's
// memory across restarts. The command parses flags and calls New and Run.
package daemon
