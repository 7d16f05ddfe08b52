/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Flooded frames: a frame delivered to an interface whose destination MAC is unicast
 * and not that interface's own. A bridge floods a frame to every port when it has no
 * FDB entry for the destination (the MAC aged out because its interface transmits
 * nothing, the seed's eth0 after the second NIC): the container's other interface and
 * every other container get a copy, which their kernels drop. Such a copy is in the
 * totals (the kernel's rx counters count it too) and in the flooded counters, and never
 * in the flows: a copy is not traffic of the container that got it.
 *
 * Where the frame is delivered depends on where the programs run (NC_RX_*):
 * on a bridge port, at tc egress towards the container's interface, whose MAC user space
 * wrote into rx_ports; on the container's own interface, at tc ingress, where the
 * kernel has already compared the destination with the interface's MAC
 * (skb->pkt_type, set by eth_type_trans), so no MAC needs to be kept there.
 */
#ifndef NETCTL_FLOOD_H
#define NETCTL_FLOOD_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "netctl.h"
#include "parse.h"
#include "count.h"

#define NC_PACKET_OTHERHOST 3 /* <linux/if_packet.h>: to another host's MAC */
#define NC_MAC_MASK 0xffffffffffffULL

/* The interfaces' rx checks: a plain array by ifindex (read-only here; the kernel
 * inlines its lookup), a hash for ifindexes past the array, as the totals. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NC_TOTALS_ARRAY_IFINDEXES);
	__type(key, __u32);
	__type(value, struct nc_rx_port);
} rx_ports_by_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct nc_rx_port);
} rx_ports SEC(".maps");

/* Flooded frames per receiving interface, exact, per CPU: slot ifindex (only one
 * direction of an interface delivers), a hash keyed by ifindex past the array. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NC_TOTALS_ARRAY_IFINDEXES);
	__type(key, __u32);
	__type(value, struct nc_totals_value);
} flooded_by_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct nc_totals_value);
} flooded SEC(".maps");

/* Flooded copies per (bridge, destination MAC): who the bridge floods for, and when it
 * last did. LRU, so MACs that stopped being flooded make room by themselves; a symptom,
 * not an exact account (the per-interface counters above are the exact one). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct nc_flood_key);
	__type(value, struct nc_flood_value);
} flooded_macs SEC(".maps");

/* The verifier inlines an array lookup only at a call site that sees one map. Left
 * alone, clang merges the two lookups below into one call on a map chosen at run time
 * (measured: 4-5 ns more per packet); the empty asm after the array's keeps them apart. */
#define nc_keep_call(p) asm volatile("" : "+r"(p))

static __always_inline struct nc_rx_port *nc_rx_port(__u32 ifindex)
{
	struct nc_rx_port *p;

	if (ifindex < NC_TOTALS_ARRAY_IFINDEXES) {
		p = bpf_map_lookup_elem(&rx_ports_by_index, &ifindex);
		nc_keep_call(p);
		return p;
	}
	return bpf_map_lookup_elem(&rx_ports, &ifindex);
}

/* Adds one flooded copy of len bytes to key's value in flooded_macs, with the time. */
static __always_inline void nc_count_flood_mac(struct nc_flood_key *key, __u32 len)
{
	__u64 now = nc_now();
	struct nc_flood_value *v = bpf_map_lookup_elem(&flooded_macs, key);

	if (!v) {
		struct nc_flood_value first = { .packets = 1, .bytes = len, .last_seen_ns = now };

		if (bpf_map_update_elem(&flooded_macs, key, &first, BPF_NOEXIST) == 0)
			return;
		v = bpf_map_lookup_elem(&flooded_macs, key); /* another CPU inserted it first */
		if (!v)
			return;
	}
	v->packets++;
	v->bytes += len;
	v->last_seen_ns = now;
}

/*
 * nc_flooded reports whether the frame was flooded to the interface it is delivered to,
 * and if so counts it in the flooded counters. Per packet on the common path: one
 * inlined array lookup and, on a bridge port's egress, the destination MAC compared as
 * one 64-bit word (little-endian layout: only bpfel is built).
 */
static __always_inline int nc_flooded(struct __sk_buff *skb, __u32 ifindex, enum nc_direction dir,
				      __u32 len)
{
	struct nc_rx_port *p = nc_rx_port(ifindex);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct nc_eth *eth = data;
	__u64 port, dst;

	if (!p)
		return 0;
	port = *(__u64 *)p; /* mac | check << 48 */
	if (dir == NC_DIR_EGRESS) {
		if ((port >> 48 & 0xff) != NC_RX_PEER)
			return 0;
	} else if ((port >> 48 & 0xff) != NC_RX_SELF || skb->pkt_type != NC_PACKET_OTHERHOST) {
		return 0;
	}
	if ((void *)(eth + 1) > data_end)
		return 0;
	dst = *(__u64 *)eth->dst & NC_MAC_MASK; /* one load: the header is 14 bytes */
	if (dir == NC_DIR_EGRESS && (dst == (port & NC_MAC_MASK) || (dst & 1)))
		return 0; /* the peer's own MAC (the common case, tested first), or broadcast,
			   * multicast */

	if (ifindex < NC_TOTALS_ARRAY_IFINDEXES) {
		struct nc_totals_value *t = bpf_map_lookup_elem(&flooded_by_index, &ifindex);

		nc_keep_call(t);
		if (t) {
			t->packets++;
			t->bytes += len;
		}
	} else {
		nc_count_hash(&flooded, &ifindex, len);
	}

	/* 32-bit stores only (see union nc_key in parse.h). */
	union {
		struct nc_flood_key key;
		__u32 w[3];
	} k;
	volatile __u32 *w = k.w;

	w[0] = p->bridge;
	w[1] = (__u32)dst;
	w[2] = dst >> 32;
	nc_count_flood_mac(&k.key, len);
	return 1;
}

#endif /* NETCTL_FLOOD_H */
