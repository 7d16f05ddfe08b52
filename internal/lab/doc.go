//go:build linux

// Package lab builds the seed's starting point — two containers on a docker0 bridge and
// a host outside reached by routing — in network namespaces, for demos and tests.
//
// A lab with prefix P is four named network namespaces: P-host (bridge docker0,
// 172.17.0.1/16, IPv4 forwarding on), P-container1 and P-container2 (eth0 172.17.0.2/16
// and 172.17.0.3/16, each a veth whose host end veth-c1 / veth-c2 is a port of docker0,
// default route via 172.17.0.1) and P-outside (eth0 198.51.100.2/24, a veth to outside0
// 198.51.100.1/24 in P-host, route to 172.17.0.0/16 via the host, no NAT). IPv6 is
// disabled in every lab namespace unless the lab is made with IPv6, which adds
// fd17::/64 on the bridge and fd51::/64 outside.
//
// Nothing is ever changed in the caller's network namespace: every link, address, route
// and sysctl lives in the lab's namespaces, reached through netlink handles bound to them
// (nsutil.Handle) and through nsutil.Do for sysctls and sockets. Up records what it made
// in a folder of records (Options.Dir, by default DefaultDir: "lab" under the state
// root), and Down removes exactly that. Up needs no step engine: deleting the namespaces
// it made undoes all of it at once. Tests bring a lab up with labtest.New.
//
// Kernel features needed: network namespaces, veth, bridge, IPv4 (and IPv6 for labs made
// with it), raw ICMP sockets for the traffic generator. Every operation needs root
// (CAP_SYS_ADMIN and CAP_NET_ADMIN; CAP_NET_RAW for traffic).
package lab
