// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * netctl's tc programs: per-interface totals and per-flow counters, for TCX or legacy
 * clsact. They observe and never decide a packet's fate: every path returns TCX_NEXT
 * (== TC_ACT_UNSPEC), so the next program or the default action applies.
 *
 * SKELETON: totals only. Parsing and flows are being written (issue 4).
 */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "netctl_compat.h"
#include "netctl.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct nc_totals_key);
	__type(value, struct nc_totals_value);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nc_flow_key);
	__type(value, struct nc_flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NC_STAT_MAX);
	__type(key, enum nc_stat);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count_totals(struct __sk_buff *skb, enum nc_direction dir)
{
	struct nc_totals_key key = { .ifindex = skb->ifindex, .direction = dir };
	struct nc_totals_value *v = bpf_map_lookup_elem(&totals, &key);

	if (v) {
		v->packets++;
		v->bytes += skb->len;
		return;
	}
	struct nc_totals_value first = { .packets = 1, .bytes = skb->len };

	if (bpf_map_update_elem(&totals, &key, &first, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(&totals, &key);
	if (v) {
		v->packets++;
		v->bytes += skb->len;
	}
}

SEC("tc")
int netctl_ingress(struct __sk_buff *skb)
{
	count_totals(skb, NC_DIR_INGRESS);
	return TCX_NEXT;
}

SEC("tc")
int netctl_egress(struct __sk_buff *skb)
{
	count_totals(skb, NC_DIR_EGRESS);
	return TCX_NEXT;
}

/* Baseline for benchmarks: the cost of running any tc program at all. */
SEC("tc")
int empty(struct __sk_buff *skb)
{
	return TCX_NEXT;
}

char __license[] SEC("license") = "Dual MIT/GPL";
