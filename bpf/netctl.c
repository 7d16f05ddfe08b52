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
		nc_count_flow_cached(&key, len, tcp_flags);
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
