/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Packet parsing shared by netctl's tc programs: from the Ethernet header to the
 * transport ports, with direct packet access (skb->data .. skb->data_end), so only the
 * linear part of the skb is read and nothing is ever written or pulled.
 *
 * The wire structs are declared here with explicit byte layouts rather than taken from
 * <linux/ip.h> and friends: those need <asm/byteorder.h> for their bitfields, and
 * explicit bytes read the same as the Go reference parser in probe/parse_test.go.
 */
#ifndef NETCTL_PARSE_H
#define NETCTL_PARSE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "netctl.h"

#define NC_ETH_P_IP 0x0800
#define NC_ETH_P_IPV6 0x86dd
#define NC_ETH_P_8021Q 0x8100
#define NC_ETH_P_8021AD 0x88a8

#define NC_IPPROTO_HOPOPTS 0
#define NC_IPPROTO_ICMP 1
#define NC_IPPROTO_TCP 6
#define NC_IPPROTO_UDP 17
#define NC_IPPROTO_ROUTING 43
#define NC_IPPROTO_FRAGMENT 44
#define NC_IPPROTO_AH 51
#define NC_IPPROTO_ICMPV6 58
#define NC_IPPROTO_DSTOPTS 60

/* At most this many IPv6 extension headers are skipped; a longer chain is counted in
 * the totals and in stats[NC_STAT_NOT_PARSED], with no flow. Real traffic rarely has
 * more than two (hop-by-hop + fragment, say). */
#define NC_IPV6_MAX_EXT 6

struct nc_eth {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
};

struct nc_vlan {
	__be16 tci;
	__be16 proto; /* the encapsulated ethertype */
};

struct nc_ipv4 {
	__u8 version_ihl; /* version << 4 | header length in 32-bit words */
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off; /* flags (DF 0x4000, MF 0x2000) | offset in 8-byte units (0x1fff) */
	__u8 ttl;
	__u8 protocol;
	__be16 check;
	__u32 addrs[2]; /* source, destination */
};

struct nc_ipv6 {
	__be32 version_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 addrs[8]; /* source (4 words), destination (4 words) */
};

/* Hop-by-hop, routing and destination options: length in 8-byte units, not counting
 * the first 8 bytes. AH has the same first two bytes, its length in 4-byte units, not
 * counting the first 8 bytes (RFC 4302). */
struct nc_ipv6_opt {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct nc_ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3 | M flag */
	__be32 id;
};

/* The first 4 bytes of TCP and UDP. */
struct nc_ports {
	__be16 sport;
	__be16 dport;
};

#define NC_TCP_HDR_MIN 20
#define NC_TCP_FLAGS_OFF 13
#define NC_UDP_HDR_LEN 8
#define NC_ICMP_HDR_LEN 8 /* type, code, checksum, then (echo) identifier, sequence */

enum nc_parse_result {
	NC_PARSE_NOT_IP, /* neither IPv4 nor IPv6 (ARP, LLDP, a runt, two VLAN tags): totals only */
	NC_PARSE_FLOW,   /* key and tcp flags filled in */
	NC_PARSE_FAILED, /* IP, but its headers are malformed, cut short, not in the linear
			  * data, or behind more than NC_IPV6_MAX_EXT extension headers */
};

/*
 * The flow key as the 64-bit words it is built with (little-endian layout; only bpfel is
 * built):
 *
 *   w[0] = ifindex | direction << 32 | proto << 40 | family << 48   (pad = 0)
 *   w[1] = sport | dport << 16 | saddr[0..3] << 32
 *   w[2] = saddr[4..11], w[3] = saddr[12..15] | daddr[0..3] << 32, w[4] = daddr[4..11]
 *   w[5] = daddr[12..15], upper half 0 (past the 44-byte key: the flow cache's pad)
 *
 * Whole 64-bit stores, because the common path reads the key back as these six words
 * (the flow cache's slot and compare, count.h), and a load that is exactly one earlier
 * store is forwarded from the store buffer where one assembled from several stores
 * stalls. The flows hash reads the key as 32-bit words (jhash2); halves of a 64-bit
 * store cost it 1-2 ns, on the cache's miss path only.
 */
union nc_key {
	struct nc_flow_key key;
	__u64 w[6];
};

_Static_assert(sizeof(struct nc_flow_key) == 44, "nc_flow_key layout");
_Static_assert(__builtin_offsetof(struct nc_flow_key, sport) == 8, "nc_flow_key layout");
_Static_assert(__builtin_offsetof(struct nc_flow_key, saddr) == 12, "nc_flow_key layout");

/* Word i of the key. */
static __always_inline void nc_key_set(union nc_key *k, int i, __u64 v)
{
	k->w[i] = v;
}

static __always_inline int nc_ipv6_is_ext(__u8 nexthdr)
{
	return nexthdr == NC_IPPROTO_HOPOPTS || nexthdr == NC_IPPROTO_ROUTING ||
	       nexthdr == NC_IPPROTO_FRAGMENT || nexthdr == NC_IPPROTO_DSTOPTS ||
	       nexthdr == NC_IPPROTO_AH;
}

/*
 * nc_parse fills the whole key (ifindex and direction as given) and *tcp_flags. It
 * never reads past data_end; every bound is checked before the read, which is also
 * what the verifier demands.
 */
static __always_inline int nc_parse(struct __sk_buff *skb, __u32 ifindex, enum nc_direction dir,
				    union nc_key *k, __u8 *tcp_flags)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct nc_eth *eth = data;
	__u32 off = sizeof(*eth);
	__be16 ethproto;
	__u64 family;
	__u32 saddr0; /* the first 4 bytes of the source address */
	__u32 ports = 0;
	__u8 proto, flags = 0;
	int has_ports = 1; /* 0 for a non-first fragment: its payload starts mid-stream */

	if ((void *)(eth + 1) > data_end)
		return NC_PARSE_NOT_IP;
	ethproto = eth->proto;
	if (ethproto == bpf_htons(NC_ETH_P_8021Q) || ethproto == bpf_htons(NC_ETH_P_8021AD)) {
		struct nc_vlan *vlan = data + off;

		if ((void *)(vlan + 1) > data_end)
			return NC_PARSE_NOT_IP;
		ethproto = vlan->proto;
		off += sizeof(*vlan);
	}

	if (ethproto == bpf_htons(NC_ETH_P_IP)) {
		struct nc_ipv4 *ip = data + off;
		__u32 ihl;

		if ((void *)(ip + 1) > data_end)
			return NC_PARSE_FAILED;
		if ((ip->version_ihl >> 4) != 4)
			return NC_PARSE_FAILED;
		ihl = (ip->version_ihl & 0xf) * 4;
		if (ihl < sizeof(*ip))
			return NC_PARSE_FAILED;
		off += ihl; /* options skipped */
		proto = ip->protocol;
		if (ip->frag_off & bpf_htons(0x1fff))
			has_ports = 0;
		family = 4;
		saddr0 = ip->addrs[0];
		nc_key_set(k, 2, 0);
		nc_key_set(k, 3, (__u64)ip->addrs[1] << 32);
		nc_key_set(k, 4, 0);
		nc_key_set(k, 5, 0);
	} else if (ethproto == bpf_htons(NC_ETH_P_IPV6)) {
		struct nc_ipv6 *ip6 = data + off;

		if ((void *)(ip6 + 1) > data_end)
			return NC_PARSE_FAILED;
		if ((*(__u8 *)ip6 >> 4) != 6)
			return NC_PARSE_FAILED;
		proto = ip6->nexthdr;
		off += sizeof(*ip6);
		family = 6;
		/* The addresses are as contiguous in the header as in the key. */
		saddr0 = ip6->addrs[0];
		nc_key_set(k, 2, *(__u64 *)&ip6->addrs[1]);
		nc_key_set(k, 3, *(__u64 *)&ip6->addrs[3]);
		nc_key_set(k, 4, *(__u64 *)&ip6->addrs[5]);
		nc_key_set(k, 5, ip6->addrs[7]);

		/* The common case (TCP, UDP, ICMPv6 right after the fixed header) leaves the
		 * loop at its first test. The last round only tests: a transport header
		 * after NC_IPV6_MAX_EXT extension headers is fine, one more is not. */
#pragma unroll
		for (int i = 0; i <= NC_IPV6_MAX_EXT; i++) {
			if (!nc_ipv6_is_ext(proto))
				goto ipv6_done;
			if (i == NC_IPV6_MAX_EXT)
				return NC_PARSE_FAILED; /* chain longer than NC_IPV6_MAX_EXT */
			if (proto == NC_IPPROTO_FRAGMENT) {
				struct nc_ipv6_frag *frag = data + off;

				if ((void *)(frag + 1) > data_end)
					return NC_PARSE_FAILED;
				proto = frag->nexthdr;
				off += sizeof(*frag);
				if (frag->frag_off & bpf_htons(0xfff8)) {
					has_ports = 0; /* proto is what the fragment carries */
					goto ipv6_done;
				}
				continue;
			}
			struct nc_ipv6_opt *opt = data + off;

			if ((void *)(opt + 1) > data_end)
				return NC_PARSE_FAILED;
			if (proto == NC_IPPROTO_AH)
				off += ((__u32)opt->hdrlen + 2) * 4;
			else
				off += ((__u32)opt->hdrlen + 1) * 8;
			proto = opt->nexthdr;
		}
ipv6_done:;
	} else {
		return NC_PARSE_NOT_IP;
	}

	/* The IP header (options, extension headers) must be whole, ports or not. */
	if (data + off > data_end)
		return NC_PARSE_FAILED;

	if (has_ports) {
		switch (proto) {
		case NC_IPPROTO_TCP: {
			struct nc_ports *p = data + off;

			if (data + off + NC_TCP_HDR_MIN > data_end)
				return NC_PARSE_FAILED;
			ports = bpf_ntohs(p->sport) | (__u32)bpf_ntohs(p->dport) << 16;
			flags = *(__u8 *)(data + off + NC_TCP_FLAGS_OFF);
			break;
		}
		case NC_IPPROTO_UDP: {
			struct nc_ports *p = data + off;

			if (data + off + NC_UDP_HDR_LEN > data_end)
				return NC_PARSE_FAILED;
			ports = bpf_ntohs(p->sport) | (__u32)bpf_ntohs(p->dport) << 16;
			break;
		}
		case NC_IPPROTO_ICMP:
		case NC_IPPROTO_ICMPV6: {
			__u8 *icmp = data + off;
			__u8 echo_req = 8, echo_reply = 0;

			/* ICMP in IPv6 or ICMPv6 in IPv4 is just another protocol. */
			if ((proto == NC_IPPROTO_ICMP) != (family == 4))
				break;
			if (data + off + NC_ICMP_HDR_LEN > data_end)
				return NC_PARSE_FAILED;
			if (proto == NC_IPPROTO_ICMPV6) {
				echo_req = 128;
				echo_reply = 129;
			}
			ports = (__u32)icmp[0] << 8 | icmp[1];
			if (icmp[0] == echo_req || icmp[0] == echo_reply)
				ports |= ((__u32)icmp[4] << 8 | icmp[5]) << 16;
			break;
		}
		}
	}

	nc_key_set(k, 0, ifindex | (__u64)dir << 32 | (__u64)proto << 40 | family << 48);
	nc_key_set(k, 1, ports | (__u64)saddr0 << 32);
	*tcp_flags = flags;
	return NC_PARSE_FLOW;
}

#endif /* NETCTL_PARSE_H */
