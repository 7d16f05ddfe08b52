// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Per-interface packet and byte counters for tc (TCX or legacy clsact).
 *
 * counter_ingress and counter_egress count every packet they see, by (ifindex,
 * direction), and always return TCX_NEXT: they observe, they never decide a
 * packet's fate (TCX_NEXT == TC_ACT_UNSPEC, so under legacy tc the next filter or
 * the default action applies). empty returns TCX_NEXT and nothing else: it is the
 * baseline for per-packet cost.
 *
 * Bytes are skb->len, which at tc includes the Ethernet header, as the kernel's
 * own interface byte counters do.
 */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "netctl_compat.h"

/* Direction of a packet from the point of view of the interface the program is
 * attached to. The Go side (probe.Direction) mirrors these values; a test fails
 * if they drift. */
enum counter_direction {
	COUNTER_DIR_INGRESS = 0,
	COUNTER_DIR_EGRESS = 1,
};

struct counter_key {
	__u32 ifindex;                    /* skb->ifindex: the interface attached to */
	enum counter_direction direction; /* 4 bytes, no padding */
};

struct counter_value {
	__u64 packets;
	__u64 bytes;
};

/*
 * Per-CPU hash: each CPU updates its own copy of the value without atomics or
 * contention, and user space sums the copies when it reads. A hash rather than an
 * array because ifindexes are sparse and keep growing as containers come and go.
 * Entries are removed by user space when an interface goes away. 2 entries per
 * interface, so 8192 entries cover 4096 interfaces; when the map is full a new
 * interface is not counted (the packet still passes).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct counter_key);
	__type(value, struct counter_value);
} counters SEC(".maps");

static __always_inline int count(struct __sk_buff *skb, enum counter_direction dir)
{
	struct counter_key key = {
		.ifindex = skb->ifindex,
		.direction = dir,
	};
	struct counter_value *v = bpf_map_lookup_elem(&counters, &key);

	if (v) {
		/* This CPU's copy: no other CPU writes it, and tc runs with bottom
		 * halves disabled, so a plain add is safe. */
		v->packets++;
		v->bytes += skb->len;
		return TCX_NEXT;
	}

	/* First packet of this key on any CPU, or another CPU raced us to create
	 * it. NOEXIST so a racing insert is never overwritten: if it fails, the
	 * entry now exists and this CPU's copy is zero, so add to it. */
	struct counter_value first = { .packets = 1, .bytes = skb->len };

	if (bpf_map_update_elem(&counters, &key, &first, BPF_NOEXIST) == 0)
		return TCX_NEXT;
	v = bpf_map_lookup_elem(&counters, &key);
	if (v) {
		v->packets++;
		v->bytes += skb->len;
	}
	return TCX_NEXT;
}

/*
 * Section "tc" rather than "tcx/ingress": the program loads as SchedCLS with no
 * expected attach type, so the same object attaches with TCX (Linux 6.6) and with
 * legacy clsact on older kernels.
 */
SEC("tc")
int counter_ingress(struct __sk_buff *skb)
{
	return count(skb, COUNTER_DIR_INGRESS);
}

SEC("tc")
int counter_egress(struct __sk_buff *skb)
{
	return count(skb, COUNTER_DIR_EGRESS);
}

/* Baseline for benchmarks: the cost of running any tc program at all. */
SEC("tc")
int empty(struct __sk_buff *skb)
{
	return TCX_NEXT;
}

/* Only non-GPL-only helpers are used (map lookup/update); "Dual MIT/GPL" is GPL
 * compatible to the kernel, so GPL-only helpers would be allowed later too. */
char __license[] SEC("license") = "Dual MIT/GPL";
