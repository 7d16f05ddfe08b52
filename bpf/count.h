/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Counting, shared by the product programs (netctl.c) and the benchmark-only programs
 * (bench.c): the totals and stats maps, and the flow updates for a per-CPU flow map and
 * for a shared (one value for all CPUs) flow map. Every helper here is
 * __always_inline, so a map passed as a pointer is a constant after inlining.
 */
#ifndef NETCTL_COUNT_H
#define NETCTL_COUNT_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "netctl.h"
#include "parse.h"

#ifndef EEXIST
#define EEXIST 17
#endif

/* Per-interface totals, the exact counters, per CPU (no atomics). The array is the
 * fast path: its lookup is inlined by the verifier into an address computation, where
 * the hash costs a jhash of the key (about 4 ns of the 45 ns budget, measured with
 * BenchmarkProgram/part_totals_only). 2 × 16384 slots × 16 B = 512 KiB per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * NC_TOTALS_ARRAY_IFINDEXES);
	__type(key, __u32);
	__type(value, struct nc_totals_value);
} totals_by_index SEC(".maps");

/* The slow path, for ifindexes past the array: 16384 (ifindex, direction) keys. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct nc_totals_key);
	__type(value, struct nc_totals_value);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NC_STAT_MAX);
	__type(key, __u32); /* enum nc_stat: an array key must be an int in BTF */
	__type(value, __u64);
} stats SEC(".maps");

/* Not inlined: it is off the common path, and as a function it carries enum nc_stat
 * into the object's BTF, where the Go side reads the enum's values from. */
static __noinline void nc_stat_inc(enum nc_stat stat)
{
	__u32 key = stat;
	__u64 *v = bpf_map_lookup_elem(&stats, &key);

	if (v)
		(*v)++;
}

/* Adds one packet of len bytes to key's value in a per-CPU hash, inserting the key when
 * it is new. Only a full map (or, for an LRU map, nothing) makes it lose the packet. */
static __always_inline void nc_count_hash(void *map, void *key, __u32 len)
{
	struct nc_totals_value *v = bpf_map_lookup_elem(map, key);

	if (v) {
		v->packets++;
		v->bytes += len;
		return;
	}
	struct nc_totals_value first = { .packets = 1, .bytes = len };

	if (bpf_map_update_elem(map, key, &first, BPF_NOEXIST) == 0)
		return;
	/* Another CPU inserted the key first. */
	v = bpf_map_lookup_elem(map, key);
	if (v) {
		v->packets++;
		v->bytes += len;
	}
}

/* Counted for every packet before any parsing, so nothing a parser does can make the
 * totals wrong. Only a full totals map (16384 keys) could lose a packet here. */
static __always_inline void nc_count_totals(__u32 ifindex, enum nc_direction dir, __u32 len)
{
	if (ifindex < NC_TOTALS_ARRAY_IFINDEXES) {
		__u32 idx = ifindex * 2 + dir;
		struct nc_totals_value *t = bpf_map_lookup_elem(&totals_by_index, &idx);

		if (t) { /* always: idx is in range */
			t->packets++;
			t->bytes += len;
		}
		return;
	}
	/* Two 32-bit stores, for the reason given at union nc_key in parse.h. */
	struct nc_totals_key k = { .ifindex = ifindex, .direction = dir };

	nc_count_hash(&totals, &k, len);
}

/*
 * The time for first/last seen: bpf_ktime_get_coarse_ns, CLOCK_MONOTONIC at tick
 * resolution (1-4 ms). It reads the timekeeper's last tick instead of the clock source,
 * so it costs a few ns where bpf_ktime_get_ns costs more (on a VM, reading the
 * clocksource can even trap); flows are shown at second resolution, so a tick is plenty.
 */
static __always_inline __u64 nc_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/*
 * A per-CPU flow map: this CPU's copy is updated with plain adds. A new key's value is
 * written to this CPU's slot and zeroed on the others, so a CPU that meets the flow
 * later finds packets == 0 and first_seen_ns == 0 and sets first_seen_ns itself.
 * User space sums packets and bytes, takes the min first_seen_ns and max last_seen_ns
 * over the slots whose packets are not 0, and ORs the tcp flags.
 */
static __always_inline void nc_count_flow_percpu_at(void *map, struct nc_flow_key *key,
						    struct nc_flow_value *v, __u32 len, __u8 tcp_flags,
						    __u64 now)
{
	if (!v) {
		struct nc_flow_value first = {
			.packets = 1,
			.bytes = len,
			.first_seen_ns = now,
			.last_seen_ns = now,
			.tcp_flags = tcp_flags,
			.flags = (tcp_flags & 0x12) == 0x02 ? NC_FLOW_SYN_NOACK : 0, /* SYN, no ACK */
		};
		long err = bpf_map_update_elem(map, key, &first, BPF_NOEXIST);

		if (err == 0)
			return;
		if (err != -EEXIST) {
			nc_stat_inc(NC_STAT_FLOW_INSERT_FAILED);
			return;
		}
		/* Another CPU inserted it first. */
		v = bpf_map_lookup_elem(map, key);
		if (!v) {
			nc_stat_inc(NC_STAT_FLOW_INSERT_FAILED);
			return;
		}
	}
	if (!v->first_seen_ns)
		v->first_seen_ns = now;
	v->packets++;
	v->bytes += len;
	v->last_seen_ns = now;
	v->tcp_flags |= tcp_flags;
}

/* nc_count_flow_percpu_at, looking the key up itself. */
static __always_inline void nc_count_flow_percpu(void *map, struct nc_flow_key *key, __u32 len,
						 __u8 tcp_flags, __u64 now)
{
	nc_count_flow_percpu_at(map, key, bpf_map_lookup_elem(map, key), len, tcp_flags, now);
}

/*
 * Flows: an LRU per-CPU hash behind a per-CPU flow cache, both chosen by measurement
 * (BENCHMARKS.md; bpf/bench.c has the same code with the maps swapped).
 *
 * The hash. ns per packet under BPF_PROG_TEST_RUN, median of 5 rounds of 2M packets, one
 * run, before the cache (BenchmarkFlowMap, BenchmarkFlowMapTwoCPUs; `empty` = 15):
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
 * The cache (flow_cache, below) takes the hashing off the common path. The program as a
 * multiple of the empty one, paired rounds (BenchmarkProgramRatio; another machine,
 * `empty` = 19-20 ns), ipv4 udp / tcp 1500 / ipv6 tcp / vlan:
 *
 *   without the cache (the hash on every packet)   2.94 / 2.96 / 2.99 / 2.96   (57-59 ns)
 *   with it, ingress                               1.63 / 1.61 / 1.64 / 1.64   (31-32 ns)
 *   with it, egress (+ the flood check's MAC)      1.78 / 1.75 / 1.77 / 1.77   (33-34 ns)
 *   same flow on 2 CPUs: 32 ns with, 57 without (24 and 43 where `empty` = 15); new
 *   flow every packet, map full: 0.99-1.03x without (BenchmarkFlowMapNewRatio; the
 *   slot's check, and at 4096 slots the miss on its line: 1.04-1.11x)
 *
 * The price of per-CPU is memory: values are preallocated for every CPU, 65536 x 40
 * bytes = 2.5 MiB per CPU (5 MiB here, 160 MiB on a 64-CPU host), and 52 KiB per CPU
 * for the cache.
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

/*
 * The flow cache in front of a per-CPU flow hash: a per-CPU array of slots, each one
 * flow's full key and this CPU's cumulative counts (struct nc_flow_slot, netctl.h). A
 * packet whose flow is in its slot (the common case: a flow sends many packets) costs a
 * multiply, an array lookup the kernel inlines, a compare of three words (six for IPv6),
 * the adds, and a load of the jiffies: no hashing of the key, no bucket walk, no clock
 * read but once a tick. Otherwise (nc_flow_miss) the packet's flow looks itself up in
 * the hash, and:
 *
 *   - the slot is empty: the flow takes it, with the counts the hash holds for it on
 *     this CPU, if any;
 *   - the slot's flow sent within nc_flow_cache_idle_ticks, or the packet's flow is not in
 *     the hash (its first packet): the packet is counted in the hash as without a cache.
 *     Two busy flows that share a slot never take it from each other, and a flood of
 *     one-packet flows (a port scan) never evicts: it costs a lookup and an insert, as
 *     before, plus the slot's check;
 *   - else (a flow seen before, a quiet slot) the slot's flow is written back to the
 *     hash (this CPU's value becomes the slot's) and the slot takes the packet's flow.
 *
 * Nothing is lost: a flow's counts on a CPU are in its slot (cumulative, never less than
 * the hash's copy) or in the hash. A reader reads every slot first, then the hash, and
 * takes per flow and CPU the value with more packets; a write-back between the two
 * reads only makes the hash's copy newer.
 */

/* The cache's size, 512 slots (NC_FLOW_CACHE_BITS, netctl.h), is a compromise measured
 * on the port-scan case (a new flow every packet, the hash full): the slot's compare
 * then loads a line no packet used lately, and with 4096 slots (416 KiB per CPU) that
 * line came from beyond L2 and cost 1.04-1.11x the program without the cache; with 512
 * (52 KiB, more often in L2) 1.00-1.03x, with 256 0.94-1.02x. The cache is for the flows
 * that send many packets at once, a few per CPU on most hosts: with 100 flows busy on a
 * CPU, about 91 % of them have a slot of their own at 512 slots (44 % of 1000 flows); the
 * others are counted in the hash, as without a cache.
 *
 * How long a flow must have been quiet on this CPU before another flow may take its
 * slot, in ticks (jiffies): 25 is 25 ms at HZ=1000, 100 ms at HZ=250, 250 ms at HZ=100.
 * Ticks, because the slot's tick (the jiffies of its flow's last packet on this CPU)
 * sits next to its key, so a miss decides with the cache line the compare loaded. A
 * load-time constant (the tests set 0 to make every collision an eviction). */
volatile const __u32 nc_flow_cache_idle_ticks = 25;

union nc_slot {
	struct nc_flow_slot s;
	__u64 w[13]; /* w[1..6]: the key's words (parse.h), w[6]'s upper half the tick */
};

_Static_assert(sizeof(struct nc_flow_slot) == 104, "nc_flow_slot layout");
_Static_assert(__builtin_offsetof(struct nc_flow_slot, key) == 8, "nc_flow_slot layout");
_Static_assert(__builtin_offsetof(struct nc_flow_slot, value) == 56, "nc_flow_slot layout");

/* Whether key k is IPv6. An IPv4 key's words 2, 4 and 5 are 0 (parse.h), in the packet's
 * key as in a slot's (a slot holds a key the parse built, or zeros). */
static __always_inline int nc_key_v6(const union nc_key *k)
{
	return (k->w[0] >> 48) != 4; /* family */
}

/* The slot of key k (NC_FLOW_CACHE_MULT in netctl.h): the XOR of its words, skipping an
 * IPv4 key's zero words. */
static __always_inline __u32 nc_flow_slot_of(const union nc_key *k)
{
	__u64 h = k->w[0] ^ k->w[1] ^ k->w[3];

	if (nc_key_v6(k))
		h ^= k->w[2] ^ k->w[4] ^ k->w[5];
	return (h * NC_FLOW_CACHE_MULT) >> (64 - NC_FLOW_CACHE_BITS);
}

/* Whether slot c holds key k: words 0, 1 and 3 (ifindex, direction, protocol, family,
 * ports, the IPv4 addresses), and for IPv6 the rest (the last word's upper half is the
 * slot's tick, not the key's). */
static __always_inline int nc_slot_holds(const union nc_slot *c, const union nc_key *k)
{
	if (c->w[1] != k->w[0] || c->w[2] != k->w[1] || c->w[4] != k->w[3])
		return 0;
	return !nc_key_v6(k) ||
	       ((c->w[3] ^ k->w[2]) | (c->w[5] ^ k->w[4]) | (__u32)(c->w[6] ^ k->w[5])) == 0;
}

/* Writes a slot's flow back to the hash: this CPU's value becomes the slot's. Returns 0,
 * or an error (the hash full of busy flows, out of memory, a bucket lock taken): then the
 * flow stays in its slot. */
static __always_inline long nc_flow_write_back(void *map, struct nc_flow_slot *s)
{
	struct nc_flow_value *v = bpf_map_lookup_elem(map, &s->key);

	if (!v) {
		long err = bpf_map_update_elem(map, &s->key, &s->value, BPF_NOEXIST);

		if (err != -EEXIST)
			return err;
		v = bpf_map_lookup_elem(map, &s->key); /* another CPU inserted it first */
		if (!v)
			return -EEXIST;
	}
	*v = s->value;
	return 0;
}

/* The cache's miss: the slot holds another flow, or none. The flow takes the slot when
 * the slot is empty, or when its flow has been quiet for nc_flow_cache_idle_ticks and
 * this one is in the hash already (it has been seen before): a flow of one packet, as in
 * a port scan, never evicts another, and such a flood costs what it cost without the
 * cache (a lookup and an insert) plus the slot's compare. Only the slot's key and tick
 * decide (an empty slot's key is zero: a key's family never is), so a busy slot's counts
 * are not loaded (a line fewer, unless the 8-byte-aligned slot puts them on the key's or
 * tick's line). Otherwise the packet is counted in the hash.
 * Not inlined: it is off the common path, and apart it leaves the hit path fewer values
 * to keep in registers. */
static __noinline void nc_flow_miss(union nc_slot *c, union nc_key *k, __u32 len, __u32 tcp_flags)
{
	__u64 now = nc_now();
	struct nc_flow_value *v = bpf_map_lookup_elem(&flows, &k->key);

	if (c->w[1]) { /* taken */
		if (!v || (__u32)bpf_jiffies64() - c->s.tick < nc_flow_cache_idle_ticks ||
		    nc_flow_write_back(&flows, &c->s) != 0) {
			nc_count_flow_percpu_at(&flows, &k->key, v, len, tcp_flags, now);
			return;
		}
		/* The write-back may have evicted v's entry from the full LRU hash and
		 * reused it for the slot's flow: look again. */
		v = bpf_map_lookup_elem(&flows, &k->key);
	}
	__sync_fetch_and_add(&c->s.gen_begun, 1); /* a reader's copy from now on is torn */
	if (v) {
		c->s.value = *v; /* zero if this CPU has not met the flow yet */
	} else {
		struct nc_flow_value first = {
			.flags = (tcp_flags & 0x12) == 0x02 ? NC_FLOW_SYN_NOACK : 0, /* SYN, no ACK */
		};
		c->s.value = first;
	}
	if (!c->s.value.first_seen_ns)
		c->s.value.first_seen_ns = now;
	c->w[1] = k->w[0];
	c->w[2] = k->w[1];
	c->w[3] = k->w[2];
	c->w[4] = k->w[3];
	c->w[5] = k->w[4];
	c->w[6] = k->w[5];
	c->s.tick = bpf_jiffies64();
	c->s.value.packets++;
	c->s.value.bytes += len;
	c->s.value.last_seen_ns = now;
	c->s.value.tcp_flags |= tcp_flags;
	__sync_fetch_and_add(&c->s.gen_done, 1); /* whole again */
}

/* Counts one packet of len bytes in slot c, which holds its flow k. */
static __always_inline void nc_flow_hit(union nc_slot *c, union nc_key *k, __u32 len, __u8 tcp_flags)
{
	/* The coarse clock moves once a tick, as the jiffies do, and the kernel inlines
	 * bpf_jiffies64 into a load: read the clock once a tick per slot, not once a
	 * packet. (Between a tick's jiffies update and its clock update, the time read
	 * can be the last tick's: last_seen_ns stays within a tick, its resolution.) */
	__u32 tick = bpf_jiffies64();

	c->s.value.packets++;
	c->s.value.bytes += len;
	c->s.value.tcp_flags |= tcp_flags;
	if (__builtin_expect(c->s.tick != tick, 0)) {
		c->s.tick = tick;
		c->s.value.last_seen_ns = nc_now();
		/* Once a tick, a lookup of the flow's hash entry, if any: the LRU then
		 * sees it used, and does not evict a busy flow's other copies first. */
		bpf_map_lookup_elem(&flows, &k->key);
	}
}

/* Counts one packet of len bytes in flow k: in its slot of flow_cache, or (nc_flow_miss)
 * in flows. */
static __always_inline void nc_count_flow_cached(union nc_key *k, __u32 len, __u8 tcp_flags)
{
	__u32 idx = nc_flow_slot_of(k);
	union nc_slot *c = bpf_map_lookup_elem(&flow_cache, &idx);

	if (!c) { /* never: idx is in range */
		nc_count_flow_percpu(&flows, &k->key, len, tcp_flags, nc_now());
		return;
	}
	if (__builtin_expect(nc_slot_holds(c, k), 1)) {
		nc_flow_hit(c, k, len, tcp_flags);
		return;
	}
	nc_flow_miss(c, k, len, tcp_flags);
}

/*
 * A shared flow map (one value for every CPU): atomic adds for the counters; the
 * timestamps and flags are plain stores (a racing CPU can only write an equally recent
 * time; a lost flag bit reappears with the flow's next packet carrying it).
 */
static __always_inline void nc_count_flow_shared(void *map, struct nc_flow_key *key, __u32 len,
						 __u8 tcp_flags, __u64 now)
{
	struct nc_flow_value *v = bpf_map_lookup_elem(map, key);

	if (!v) {
		struct nc_flow_value first = {
			.packets = 1,
			.bytes = len,
			.first_seen_ns = now,
			.last_seen_ns = now,
			.tcp_flags = tcp_flags,
			.flags = (tcp_flags & 0x12) == 0x02 ? NC_FLOW_SYN_NOACK : 0, /* SYN, no ACK */
		};
		long err = bpf_map_update_elem(map, key, &first, BPF_NOEXIST);

		if (err == 0)
			return;
		if (err != -EEXIST) {
			nc_stat_inc(NC_STAT_FLOW_INSERT_FAILED);
			return;
		}
		v = bpf_map_lookup_elem(map, key);
		if (!v) {
			nc_stat_inc(NC_STAT_FLOW_INSERT_FAILED);
			return;
		}
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, len);
	if (v->last_seen_ns != now)
		v->last_seen_ns = now;
	if ((v->tcp_flags | tcp_flags) != v->tcp_flags)
		v->tcp_flags |= tcp_flags;
}

#endif /* NETCTL_COUNT_H */
