/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The ABI between the tc programs (bpf/netctl.c) and user space (probe/): map layouts,
 * keys, values and enums. probe/types.go mirrors every struct and enum here, and a test
 * fails when the two drift (the generated Go types are compared with the hand-written
 * ones, and the enum values are read from the object's BTF).
 */
#ifndef NETCTL_H
#define NETCTL_H

#include <linux/types.h>

/* Direction of a packet from the point of view of the interface the program is
 * attached to (tc ingress = received by that interface). */
enum nc_direction {
	NC_DIR_INGRESS = 0,
	NC_DIR_EGRESS = 1,
};

/* Index of the per-CPU stats array. */
enum nc_stat {
	NC_STAT_FLOW_INSERT_FAILED = 0, /* a new flow could not be stored (map full, ENOMEM) */
	NC_STAT_NOT_PARSED = 1,         /* IP packet with no flow: headers malformed, cut short or
					 * not in the linear part, or more than 6 IPv6 extension
					 * headers (bpf/parse.h) */
	NC_STAT_MAX = 2,
};

/* Per-interface totals: every packet, IP or not. The exact counters. Interfaces whose
 * ifindex is below NC_TOTALS_ARRAY_IFINDEXES are counted in the per-CPU array
 * totals_by_index at ifindex * 2 + direction (the kernel inlines an array lookup: no
 * hashing); larger ifindexes, which a host reaches after tens of thousands of veths,
 * in the per-CPU hash totals under struct nc_totals_key. */
#define NC_TOTALS_ARRAY_IFINDEXES 16384

struct nc_totals_key {
	__u32 ifindex; /* skb->ifindex: the interface the program is attached to */
	enum nc_direction direction; /* 4 bytes */
};

struct nc_totals_value {
	__u64 packets;
	__u64 bytes; /* skb->len: includes the Ethernet header, as the kernel's counters */
};

/* One flow as seen on one interface in one direction. Addresses and ports are as on the
 * wire (source = sender). IPv4 addresses fill the first 4 bytes, the rest are zero.
 * Ports are in host byte order. ICMP and ICMPv6: sport = type << 8 | code, dport = the
 * echo identifier for echo request/reply, else 0. Non-first fragments have ports 0. */
struct nc_flow_key {
	__u32 ifindex;
	__u8 direction; /* enum nc_direction */
	__u8 proto;     /* IPPROTO_* of the transport header (after IPv6 extension headers) */
	__u8 family;    /* 4 or 6 */
	__u8 pad;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct nc_flow_value {
	__u64 packets;
	__u64 bytes;
	__u64 first_seen_ns; /* bpf_ktime_get_coarse_ns (CLOCK_MONOTONIC, coarse) */
	__u64 last_seen_ns;
	__u8 tcp_flags; /* OR of the TCP flags seen (FIN 0x01 … CWR 0x80) */
	__u8 flags;     /* NC_FLOW_* bits */
	__u8 pad[6];
};

/*
 * One slot of the flow cache (bpf/count.h, map flow_cache): a per-CPU array in front of
 * the flows hash. The slot holds one flow's full key and this CPU's cumulative counts of
 * it; the hash holds the same flow's counts as of the last time the slot was written
 * back (or none, for a flow only ever seen in the cache). A reader takes, per flow and
 * CPU, the value with more packets of the two; reading the cache before the hash, what
 * it reports never goes down. A slot whose key's first word is zero is empty (a key's
 * family, in that word, never is: parse.h).
 *
 * When the slot changes flows, the program adds 1 to gen_begun before it writes the new
 * flow and 1 to gen_done after (atomic adds: ordered on every architecture). A reader's
 * copy (the kernel copies the slot word by word, first to last) whose gen_done and
 * gen_begun differ was taken during a change: its key and counts may belong to two
 * flows, and it must be read again.
 */
struct nc_flow_slot {
	__u64 gen_done;  /* changes of flow finished (read first) */
	struct nc_flow_key key;
	__u32 tick;      /* low 32 bits of the jiffies when value.last_seen_ns was last read */
	struct nc_flow_value value;
	__u64 gen_begun; /* changes of flow begun (read last) */
};

/* The cache's size: a power of two, 512 slots x 104 bytes = 52 KiB per CPU (why so few:
 * at nc_flow_cache_idle_ticks in count.h). */
#define NC_FLOW_CACHE_BITS 9
#define NC_FLOW_CACHE_SLOTS (1 << NC_FLOW_CACHE_BITS)

/* The slot of a flow: the key's six 64-bit words (the last one's upper half zero)
 * folded by XOR, times the 64-bit golden ratio, top NC_FLOW_CACHE_BITS bits.
 * probe/flowcache.go mirrors it. */
#define NC_FLOW_CACHE_MULT 0x9E3779B97F4A7C15ULL

/*
 * What the programs know of the interface a packet is delivered to, written by user
 * space when it attaches (and, for a bridge port, whenever the container's interface
 * changes its MAC): rx_ports_by_index[ifindex] below NC_TOTALS_ARRAY_IFINDEXES, the
 * hash rx_ports above. A frame delivered to that interface whose destination MAC is
 * unicast and not the interface's own was flooded to it (by a bridge that does not know
 * where the MAC is): the programs count it in the totals as the kernel does, and in the
 * flooded counters too, and keep it out of the flows. probe/types.go mirrors the NC_RX_*
 * values; probe's table tests run the programs with each.
 */
#define NC_RX_NONE 0 /* no check (an interface netctl did not describe) */
#define NC_RX_PEER 1 /* a bridge port: frames leaving it (tc egress) go to the container's
		      * interface at the veth's other end, whose MAC is mac */
#define NC_RX_SELF 2 /* the container's own interface: frames arriving (tc ingress) that
		      * the kernel marked PACKET_OTHERHOST (unicast, not for its MAC) */

struct nc_rx_port {
	__u8 mac[6];  /* NC_RX_PEER: the MAC of the interface the frames are delivered to */
	__u8 check;   /* NC_RX_* */
	__u8 pad;
	__u32 bridge; /* NC_RX_PEER: ifindex of the port's bridge (flooded_macs' key) */
};

/* Flooded frames by destination: the bridge of the port that received a flooded copy
 * and the destination MAC the bridge did not know (flooded_macs). Every copy counts. */
struct nc_flood_key {
	__u32 bridge; /* 0 for an interface inside a container */
	__u8 mac[6];
	__u8 pad[2];
};

struct nc_flood_value {
	__u64 packets;
	__u64 bytes;
	__u64 last_seen_ns; /* bpf_ktime_get_coarse_ns: whether the flooding goes on */
};

/* nc_flow_value.flags: a TCP SYN without ACK created the flow's copy on some CPU (its
 * entry in the hash, or its slot in the cache while the hash had none), i.e. this
 * direction is a client's connection request. The OR of the TCP flags cannot tell a
 * SYN from a SYN-ACK once the ACKs follow; this bit, set only when a copy is created
 * (no cost on the per-packet hit path), tells who connected. */
#define NC_FLOW_SYN_NOACK 0x01

#endif /* NETCTL_H */
