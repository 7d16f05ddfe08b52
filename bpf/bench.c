// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Benchmark-only programs (object bench, in probe/internal/benchprog: loaded by probe's
 * tests and benchmarks, never by the product): `empty`, the baseline, and
 * netctl_ingress with the flow map swapped for another map type (or with no flow cache in
 * front of it), each of them also in a variant that makes every packet a new flow, to
 * measure inserts and, once the map is full, eviction or failure. Parsing and counting are the very code of netctl.c
 * (parse.h, count.h).
 */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "netctl_compat.h"
#include "netctl.h"
#include "parse.h"
#include "count.h"

#define FLOW_MAP(name, maptype)                          \
	struct {                                         \
		__uint(type, maptype);                   \
		__uint(max_entries, 65536);              \
		__type(key, struct nc_flow_key);         \
		__type(value, struct nc_flow_value);     \
	} name SEC(".maps")

FLOW_MAP(bench_flows_lru_percpu, BPF_MAP_TYPE_LRU_PERCPU_HASH);
FLOW_MAP(bench_flows_percpu, BPF_MAP_TYPE_PERCPU_HASH);
FLOW_MAP(bench_flows_lru, BPF_MAP_TYPE_LRU_HASH);
FLOW_MAP(bench_flows_hash, BPF_MAP_TYPE_HASH);

enum { PERCPU, SHARED, CACHED };

/* What a variant leaves out or changes, to see what each part costs. */
enum {
	NEWFLOW = 1,  /* random ports: every packet is a new flow */
	NOCLOCK = 2,  /* time stamps 0 instead of bpf_ktime_get_coarse_ns */
	NOFLOW = 4,   /* totals and parse only, no flow map */
	NOPARSE = 8,  /* totals only */
};

static __always_inline int bench_run(struct __sk_buff *skb, void *map, int kind, int variant)
{
	union nc_key key;
	__u32 len = skb->len;
	__u32 ifindex = skb->ifindex;
	__u8 tcp_flags;
	int res;

	nc_count_totals(ifindex, NC_DIR_INGRESS, len);
	if (variant & NOPARSE)
		return TCX_NEXT;

	res = nc_parse(skb, ifindex, NC_DIR_INGRESS, &key, &tcp_flags);
	if (res == NC_PARSE_FLOW) {
		/* The cached kind reads the clock itself, once a tick. */
		__u64 now = (variant & NOCLOCK) || kind == CACHED ? 0 : nc_now();

		if (variant & NOFLOW) {
			/* Keep the key: the compiler must not drop the parse. */
			asm volatile("" : : "r"(&key) : "memory");
			return TCX_NEXT;
		}
		if (variant & NEWFLOW) /* new ports (one 64-bit store, as the parse's) */
			key.w[1] = (key.w[1] & ~0xffffffffULL) | bpf_get_prandom_u32();
		if (kind == CACHED)
			nc_count_flow_cached(&key, len, tcp_flags); /* flow_cache and flows, count.h */
		else if (kind == PERCPU)
			nc_count_flow_percpu(map, &key.key, len, tcp_flags, now);
		else
			nc_count_flow_shared(map, &key.key, len, tcp_flags, now);
	} else if (res == NC_PARSE_FAILED) {
		nc_stat_inc(NC_STAT_NOT_PARSED);
	}
	return TCX_NEXT;
}

#define BENCH_PROG(name, map, kind, variant)             \
	SEC("tc")                                        \
	int name(struct __sk_buff *skb)                  \
	{                                                \
		return bench_run(skb, &map, kind, variant); \
	}

BENCH_PROG(bench_lru_percpu, bench_flows_lru_percpu, PERCPU, 0)
BENCH_PROG(bench_percpu, bench_flows_percpu, PERCPU, 0)
BENCH_PROG(bench_lru, bench_flows_lru, SHARED, 0)
BENCH_PROG(bench_hash, bench_flows_hash, SHARED, 0)
BENCH_PROG(bench_lru_percpu_new, bench_flows_lru_percpu, PERCPU, NEWFLOW)
BENCH_PROG(bench_percpu_new, bench_flows_percpu, PERCPU, NEWFLOW)
BENCH_PROG(bench_lru_new, bench_flows_lru, SHARED, NEWFLOW)
BENCH_PROG(bench_hash_new, bench_flows_hash, SHARED, NEWFLOW)
BENCH_PROG(bench_cached, flows, CACHED, 0)
BENCH_PROG(bench_cached_new, flows, CACHED, NEWFLOW)

/* The product's program taken apart: totals only; totals and parse. */
BENCH_PROG(bench_totals_only, bench_flows_lru_percpu, PERCPU, NOPARSE)
BENCH_PROG(bench_parse_only, bench_flows_lru_percpu, PERCPU, NOFLOW | NOCLOCK)

/*
 * A measurement of a layout, not the product: the totals and the flow cache in plain
 * arrays indexed by CPU (bpf_get_smp_processor_id, which the kernel inlines) instead of
 * per-CPU arrays, so a lookup is one load of the value, not a load of the per-CPU
 * pointer table's entry and then the value; slots padded to 128 bytes in a page-aligned
 * array (BPF_F_MMAPABLE), two whole lines each. For up to BENCH_FLAT_CPUS CPUs; the miss
 * path only takes an empty slot, else counts in the hash. Compared with bench_cached,
 * which is the product's code without the flood check, in real traffic
 * (BenchmarkAttachedRunTime, NETCTL_RUNTIME_PROGRAMS).
 */
#define BENCH_FLAT_CPUS 8

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_FLAT_CPUS * 2 * NC_TOTALS_ARRAY_IFINDEXES);
	__type(key, __u32);
	__type(value, struct nc_totals_value);
} bench_flat_totals SEC(".maps");

struct bench_flat_slot {
	union nc_slot c;
	__u64 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_FLAT_CPUS * NC_FLOW_CACHE_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct bench_flat_slot);
} bench_flat_cache SEC(".maps");

SEC("tc")
int bench_flat(struct __sk_buff *skb)
{
	union nc_key key;
	__u32 len = skb->len;
	__u32 ifindex = skb->ifindex;
	__u32 cpu = bpf_get_smp_processor_id() & (BENCH_FLAT_CPUS - 1);
	__u8 tcp_flags;

	if (ifindex < NC_TOTALS_ARRAY_IFINDEXES) {
		__u32 idx = (cpu * NC_TOTALS_ARRAY_IFINDEXES + ifindex) * 2 + NC_DIR_INGRESS;
		struct nc_totals_value *t = bpf_map_lookup_elem(&bench_flat_totals, &idx);

		if (t) {
			t->packets++;
			t->bytes += len;
		}
	} else {
		nc_count_totals(ifindex, NC_DIR_INGRESS, len);
	}
	if (nc_parse(skb, ifindex, NC_DIR_INGRESS, &key, &tcp_flags) != NC_PARSE_FLOW)
		return TCX_NEXT;

	__u32 idx = cpu * NC_FLOW_CACHE_SLOTS + nc_flow_slot_of(&key);
	union nc_slot *c = bpf_map_lookup_elem(&bench_flat_cache, &idx);

	if (!c)
		return TCX_NEXT;
	if (__builtin_expect(nc_slot_holds(c, &key), 1)) {
		nc_flow_hit(c, &key, len, tcp_flags);
	} else if (!c->w[1]) {
		c->w[1] = key.w[0];
		c->w[2] = key.w[1];
		c->w[3] = key.w[2];
		c->w[4] = key.w[3];
		c->w[5] = key.w[4];
		c->w[6] = key.w[5];
		c->s.tick = bpf_jiffies64();
		c->s.value.packets = 1;
		c->s.value.bytes = len;
		c->s.value.first_seen_ns = c->s.value.last_seen_ns = nc_now();
	} else {
		nc_count_flow_percpu(&flows, &key.key, len, tcp_flags, nc_now());
	}
	return TCX_NEXT;
}

/* The baseline: the cost of running any tc program at all. */
SEC("tc")
int empty(struct __sk_buff *skb)
{
	return TCX_NEXT;
}

/* The random number alone, to subtract from the _new variants. */
SEC("tc")
int bench_prandom(struct __sk_buff *skb)
{
	return bpf_get_prandom_u32() == 0 ? TCX_NEXT : TCX_NEXT;
}

char __license[] SEC("license") = "Dual MIT/GPL";
