// Package probe loads netctl's tc programs (compiled from ../bpf by bpf2go), attaches
// them to interfaces and reads their maps into plain Go values.
//
// Kernel needs: eBPF with BTF, SchedCLS programs and per-CPU hash maps; attaching with
// TCX needs Linux 6.6 (CheckTCX tells whether it works here). The programs return
// TCX_NEXT (== TC_ACT_UNSPEC), so they also suit legacy tc clsact on older kernels.
// Loading and attaching need CAP_BPF and CAP_NET_ADMIN (or root).
//
// netctl is Linux-only, and the objects are little-endian only (amd64, arm64, ...): on
// other systems only the plain types and BuildSnapshot build, and cmd/netctl says it
// runs on Linux only.
package probe
