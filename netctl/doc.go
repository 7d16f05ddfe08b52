//go:build linux

// Package netctl manages a container's extra NICs: it resolves a container reference to
// its network namespace (opened once, kept as an fd), builds a plan of steps each with its
// undo, and applies it through netlink handles bound to the host and container namespaces,
// rolling back on the first failure. It does what the seed's manual procedure did
// (`ip link add … type veth`, `brctl addif`, `ip netns exec … ip addr/route`), plus an ARP
// guard and optional source-based routing, and it records what it changed so that
// `nic del` restores it exactly from any later process.
//
// Needs Linux with veth and bridge support, and CAP_NET_ADMIN + CAP_SYS_ADMIN (entering
// another namespace for its sysctls).
package netctl
