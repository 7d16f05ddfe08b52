//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

// Package daemon is `netctl serve`: it keeps the counters attached (the bridges' ports
// as containers come and go), serves them to Prometheus through the exporter, answers
// /flows with internal/analysis (route lookups included) and keeps the collector's
// memory across restarts. With the Docker engine it follows the engine's events (one
// docker.View): ports are named as containers start and are renamed, the bridges of
// Docker networks are watched as networks are created and removed, and the NICs of
// `nic add --persist` are put back when their container starts again. The command
// parses flags and calls New and Run.
package daemon
