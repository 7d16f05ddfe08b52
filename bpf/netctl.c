// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * netctl's tc programs: per-interface totals and per-flow counters, for TCX or legacy
 * clsact. They observe and never decide a packet's fate: every path returns TCX_NEXT
 * (== TC_ACT_UNSPEC), so the next program or the default action applies. They never
 * write to the packet or pull it (no bpf_skb_pull_data): headers outside the linear
 * data are counted in stats[NC_STAT_NOT_PARSED] instead.
 *
 * Per packet: totals first (every packet, IP or not, before anything can bail out),
 * then whether the frame was flooded to the interface (flood.h: counted apart, and no
 * flow), then the parse (parse.h), then, for IP, one flow lookup that in the common
 * case hits and is updated in place.
 */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "netctl_compat.h"
#include "netctl.h"
#include "parse.h"
#include "count.h"
#include "flood.h"

/*
 * Flows: an LRU per-CPU hash, chosen by measurement. ns per packet under
 * BPF_PROG_TEST_RUN, median of 5 rounds of 2M packets, one run (BENCHMARKS.md;
 * BenchmarkFlowMap and BenchmarkFlowMapTwoCPUs, the same program with only the flow map
 * swapped, bpf/bench.c; `empty` = 15):
 *
 *   flow map                        hit, one CPU      hit, same flow     new flow every packet,
 *                                   ipv4 udp / ipv6   on 2 CPUs at once  map full (ipv4 udp)
 *   LRU_PERCPU_HASH (this one)        43 / 45             46              449 (evicts the LRU one)
 *   PERCPU_HASH                       43 / 44             44              205 (insert fails: flow lost)
 *   LRU_HASH, atomic adds             43 / 45            178              355 (evicts)
 *   HASH, atomic adds                 44 / 44            171              240 (insert fails: flow lost)
 *
 * On a hit every type costs the same: the time goes to hashing and comparing the
 * 44-byte key (perf: jhash, bucket walk, memcmp), not to the map type. Per-CPU wins
 * as soon as two CPUs update the same flow (a veth packet is handled on the CPU its
 * sender runs on, and senders move between CPUs; a NIC spreads by RSS/RPS): a shared
 * value's cache line bounces and the atomic adds wait for it, 3-4x slower. LRU because a full
 * map must make room by itself (flows come and go with containers and nothing else
 * garbage-collects them); an eviction costs more than a failed insert, but only when
 * the map is full of flows that are all alive.
 *
 * The price of per-CPU is memory: values are preallocated for every CPU, 65536 x 40
 * bytes = 2.5 MiB per CPU (5 MiB here, 160 MiB on a 64-CPU host).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nc_flow_key);
	__type(value, struct nc_flow_value);
} flows SEC(".maps");

/* The flow cache in front of flows (bpf/count.h, nc_count_flow_cached). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NC_FLOW_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct nc_flow_slot);
} flow_cache SEC(".maps");

static __always_inline int nc_run(struct __sk_buff *skb, enum nc_direction dir)
{
	union nc_key key;
	__u32 len = skb->len;
	__u32 ifindex = skb->ifindex;
	__u8 tcp_flags;
	int res;

	nc_count_totals(ifindex, dir, len);
	if (nc_flooded(skb, ifindex, dir, len))
		return TCX_NEXT; /* a copy for another MAC: not the container's traffic */

	res = nc_parse(skb, ifindex, dir, &key, &tcp_flags);
	if (res == NC_PARSE_FLOW)
		nc_count_flow_cached(&flow_cache, &flows, &key, len, tcp_flags, nc_now());
	else if (res == NC_PARSE_FAILED)
		nc_stat_inc(NC_STAT_NOT_PARSED);
	return TCX_NEXT;
}

SEC("tc")
int netctl_ingress(struct __sk_buff *skb)
{
	return nc_run(skb, NC_DIR_INGRESS);
}

SEC("tc")
int netctl_egress(struct __sk_buff *skb)
{
	return nc_run(skb, NC_DIR_EGRESS);
}

char __license[] SEC("license") = "Dual MIT/GPL";
