package probe

import (
	"encoding/binary"
	"fmt"
)

// The Go mirrors of bpf/netctl.h, the ABI between the tc programs and user space.
// abi_test.go fails when a struct's fields, offsets or sizes or an enum's values
// drift from the C side.

// Direction is the way a packet crosses the interface a program is attached to,
// from that interface's point of view. Values match enum nc_direction.
type Direction uint32

const (
	// Ingress is a packet received by the interface.
	Ingress Direction = 0
	// Egress is a packet transmitted by the interface.
	Egress Direction = 1
)

// String returns "ingress" or "egress".
func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return fmt.Sprintf("direction(%d)", uint32(d))
}

// Stat indexes the per-CPU stats map. Values match enum nc_stat.
type Stat uint32

const (
	// StatFlowInsertFailed counts new flows that could not be stored (map full,
	// out of memory); their packets are still in the totals.
	StatFlowInsertFailed Stat = 0
	// StatNotParsed counts IP packets with no flow: headers malformed, cut short or
	// not in the linear data, or behind more IPv6 extension headers than the
	// programs skip. Their packets are still in the totals.
	StatNotParsed Stat = 1
	// NumStats is the number of stats (the map's size).
	NumStats = 2
	// TotalsArrayIfindexes mirrors NC_TOTALS_ARRAY_IFINDEXES: interfaces with a smaller
	// ifindex are counted in the totals_by_index array, the others in the totals hash.
	TotalsArrayIfindexes = 16384
)

// DefaultFlowEntries is the size of the flow table the object declares (bpf/netctl.c),
// used when Options.FlowEntries is 0.
const DefaultFlowEntries = 65536

// Bounds of Options.FlowEntries. The table is a per-CPU LRU hash, so its memory grows
// with the number of CPUs: 4Mi entries already take gigabytes on a large host. A tiny
// table is allowed (tests make the kernel evict with one) but evicts all the time.
const (
	MinFlowEntries = 16
	MaxFlowEntries = 1 << 22
)

// CheckFlowEntries checks a --flow-entries value; 0 (the object's size) is valid.
func CheckFlowEntries(n uint32) error {
	if n != 0 && (n < MinFlowEntries || n > MaxFlowEntries) {
		return fmt.Errorf("invalid --flow-entries %d: want %d to %d", n, MinFlowEntries, MaxFlowEntries)
	}
	return nil
}

// String returns the stat's name, e.g. "flow_insert_failed".
func (s Stat) String() string {
	switch s {
	case StatFlowInsertFailed:
		return "flow_insert_failed"
	case StatNotParsed:
		return "not_parsed"
	}
	return fmt.Sprintf("stat(%d)", uint32(s))
}

// TotalsKey identifies one counter: an interface (by ifindex, in the namespace where
// the program was attached) and a direction. Its layout matches struct nc_totals_key.
type TotalsKey struct {
	Ifindex uint32
	Dir     Direction
}

// Totals are the packets and bytes (skb->len, Ethernet header included) counted
// under one TotalsKey. Its layout matches struct nc_totals_value.
type Totals struct {
	Packets uint64
	Bytes   uint64
}

// Add returns the sum of t and o.
func (t Totals) Add(o Totals) Totals {
	return Totals{Packets: t.Packets + o.Packets, Bytes: t.Bytes + o.Bytes}
}

// FlowKey identifies one flow as seen on one interface in one direction. Its layout
// matches struct nc_flow_key: addresses and ports as on the wire (source = sender);
// an IPv4 address fills the first 4 bytes of its array, the rest are zero; ports are
// in host byte order; for ICMP and ICMPv6 Sport is type<<8|code and Dport the echo
// identifier (echo request and reply) or 0; a non-first fragment has ports 0.
type FlowKey struct {
	Ifindex uint32
	Dir     uint8 // a Direction
	Proto   uint8 // IPPROTO_* of the transport header, after IPv6 extension headers
	Family  uint8 // 4 or 6
	Pad     uint8
	Sport   uint16
	Dport   uint16
	Saddr   [16]byte
	Daddr   [16]byte
}

// FlowKeySize is the size of struct nc_flow_key, the bytes FlowKey.Bytes returns.
const FlowKeySize = 44

// Bytes returns k as the programs lay it out in memory (little-endian, no padding).
func (k *FlowKey) Bytes() [FlowKeySize]byte {
	var b [FlowKeySize]byte
	binary.LittleEndian.PutUint32(b[0:], k.Ifindex)
	b[4], b[5], b[6], b[7] = k.Dir, k.Proto, k.Family, k.Pad
	binary.LittleEndian.PutUint16(b[8:], k.Sport)
	binary.LittleEndian.PutUint16(b[10:], k.Dport)
	copy(b[12:28], k.Saddr[:])
	copy(b[28:44], k.Daddr[:])
	return b
}

// FlowSynNoAck mirrors NC_FLOW_SYN_NOACK: the flow entry was created by a TCP SYN without
// ACK, so this direction is a client's connection request.
const FlowSynNoAck = 0x01

// FlowValue is one CPU's counters of a flow. Its layout matches struct nc_flow_value.
// The flows map is per-CPU: a CPU that never saw the flow has an all-zero value.
type FlowValue struct {
	Packets     uint64
	Bytes       uint64 // skb->len, Ethernet header included
	FirstSeenNs uint64 // CLOCK_MONOTONIC (coarse: tick resolution)
	LastSeenNs  uint64
	TCPFlags    uint8 // OR of the TCP flags seen (FIN 0x01 … CWR 0x80)
	Flags       uint8 // FlowSynNoAck
	Pad         [6]uint8
}

// FlowSlot is one CPU's copy of one slot of the flow cache, the per-CPU array in front of
// the flows hash (bpf/count.h). Its layout matches struct nc_flow_slot. A slot whose
// Value.Packets is 0 is empty; a copy whose GenDone and GenBegun differ was taken while
// the slot changed flows, and is not to be trusted.
type FlowSlot struct {
	GenDone  uint64
	Key      FlowKey
	Tick     uint32 // low 32 bits of the jiffies when Value.LastSeenNs was last read
	Value    FlowValue
	GenBegun uint64
}

// FlowCacheSlots mirrors NC_FLOW_CACHE_SLOTS, the flow cache's size.
const FlowCacheSlots = 1 << flowCacheBits

// RxCheck says how the programs tell a frame flooded to an interface (one delivered to
// it whose destination MAC is unicast and not the interface's own) from one it
// receives. Values match NC_RX_* in bpf/netctl.h.
type RxCheck uint8

const (
	// RxNone: no check; every frame counts as received.
	RxNone RxCheck = 0
	// RxPeer: a bridge port (host-side veth); frames leaving it (tc egress) go to the
	// container's interface at the other end, whose MAC is RxPort.MAC.
	RxPeer RxCheck = 1
	// RxSelf: the container's own interface; frames arriving (tc ingress) that the
	// kernel marked PACKET_OTHERHOST.
	RxSelf RxCheck = 2
)

// RxPort is what the programs know of the interface an attached one delivers frames
// to. Its layout matches struct nc_rx_port.
type RxPort struct {
	MAC    [6]byte // RxPeer: the container interface's MAC
	Check  RxCheck
	Pad    uint8
	Bridge uint32 // RxPeer: ifindex of the port's bridge
}

// FloodKey is a bridge (by ifindex; 0 inside a container) and a destination MAC it
// flooded frames for. Its layout matches struct nc_flood_key.
type FloodKey struct {
	Bridge uint32
	MAC    [6]byte
	Pad    [2]byte
}

// FloodValue is one CPU's count of the copies flooded for a FloodKey. Its layout
// matches struct nc_flood_value.
type FloodValue struct {
	Packets    uint64
	Bytes      uint64
	LastSeenNs uint64 // CLOCK_MONOTONIC (coarse) of the last copy on this CPU
}

// sumPerCPU adds up the per-CPU copies of one value of a per-CPU map.
func sumPerCPU(perCPU []Totals) Totals {
	var sum Totals
	for _, v := range perCPU {
		sum = sum.Add(v)
	}
	return sum
}
