package probe

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Port is an interface netctl counts, and who is behind it. For a port of the bridge
// the programs run on the host-side veth (HostIfindex in the host namespace) and see
// the container's traffic mirrored: tc ingress there is what the container transmitted.
// For an interface attached inside a container (--iface NAME@CONTAINER) they run on the
// container's own interface and keep its sense.
type Port struct {
	Container     string `json:"container"`                // Docker name, netns name, or netns:<inode>; "host" for the host's own
	Interface     string `json:"interface"`                // name inside the container (eth0, eth1)
	HostInterface string `json:"host_interface"`           // host-side veth; "" when attached inside the container
	Bridge        string `json:"bridge"`                   // bridge of the host-side veth, if any
	BridgeIndex   int    `json:"bridge_ifindex,omitempty"` // the bridge's ifindex in the host namespace
	NSInode       uint64 `json:"netns_inode"`              // namespace of the attached interface's map set (0: the host namespace)
	Ifindex       int    `json:"ifindex"`                  // ifindex of the attached interface, in its namespace
	InContainer   bool   `json:"in_container"`             // attached to the container's interface itself
	Mode          string `json:"mode,omitempty"`           // tcx or tc
	// NetnsPath opens the container's namespace (to look up its routes), if known.
	NetnsPath string `json:"netns_path,omitempty"`
	// MAC is the container interface's MAC (as `ip link` prints it), if known: frames
	// delivered to the interface for another unicast MAC were flooded to it.
	MAC string `json:"mac,omitempty"`
}

// mirrored reports whether the port's tc directions are the container's reversed.
func (p Port) mirrored() bool { return !p.InContainer }

// InterfaceCounters are the exact per-interface counters, from the container's point of
// view: receive = into the container.
type InterfaceCounters struct {
	Port
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	// RxFloodedPackets and RxFloodedBytes are the part of RxPackets and RxBytes that were
	// frames for another MAC, flooded to the interface by a bridge (bpf/flood.h): the
	// container's kernel drops them. They are in no flow.
	RxFloodedPackets uint64 `json:"rx_flooded_packets"`
	RxFloodedBytes   uint64 `json:"rx_flooded_bytes"`
}

// FlowDirection is a flow's direction from the container's point of view.
type FlowDirection string

// Flow directions.
const (
	Receive  FlowDirection = "receive"
	Transmit FlowDirection = "transmit"
)

// Flow is one flow on one interface in one direction. Src and Dst are as on the wire.
type Flow struct {
	Container     string        `json:"container"`
	NetnsPath     string        `json:"netns_path,omitempty"` // opens the container's namespace, if known
	Interface     string        `json:"interface"`
	HostInterface string        `json:"host_interface,omitempty"`
	Direction     FlowDirection `json:"direction"`
	Proto         uint8         `json:"proto"`
	Src           netip.Addr    `json:"src"`
	Dst           netip.Addr    `json:"dst"`
	SrcPort       uint16        `json:"src_port"` // ICMP: type<<8 | code
	DstPort       uint16        `json:"dst_port"` // ICMP echo: identifier
	Packets       uint64        `json:"packets"`
	Bytes         uint64        `json:"bytes"`
	FirstSeen     time.Time     `json:"first_seen"`
	LastSeen      time.Time     `json:"last_seen"`
	TCPFlags      uint8         `json:"tcp_flags,omitempty"`
	// TCPSynNoAck: this direction began with a SYN without ACK (a client connecting).
	TCPSynNoAck bool `json:"tcp_syn_noack,omitempty"`
}

// Snapshot is everything the maps held at one moment, in plain values.
type Snapshot struct {
	Time         time.Time           `json:"time"`
	Interfaces   []InterfaceCounters `json:"interfaces"`
	Flows        []Flow              `json:"flows"`
	FlowEntries  int                 `json:"flow_entries"`
	FlowCapacity int                 `json:"flow_capacity"`
	InsertFailed uint64              `json:"flow_insert_failed"`
	NotParsed    uint64              `json:"not_parsed"`
	Bridges      []BridgeStatus      `json:"bridges,omitempty"`
	// Flooded is what the watched bridges flooded, by destination (FloodedDestinations).
	Flooded []FloodedDest `json:"flooded,omitempty"`
}

// BridgeStatus says how many ports of a watched bridge carry no counters of netctl's:
// traffic through them is invisible (0 is the normal state).
type BridgeStatus struct {
	Name       string `json:"name"`
	Ports      int    `json:"ports"`
	Unobserved int    `json:"unobserved"`
}

// RawTotals is one totals entry as the kernel keeps it: per (namespace map set, ifindex,
// tc direction), per-CPU copies already summed.
type RawTotals struct {
	NSInode uint64
	Ifindex int
	Dir     Direction
	Totals  Totals
}

// RawFlow is one flow entry as the kernel keeps it, per-CPU copies merged.
type RawFlow struct {
	NSInode   uint64
	Ifindex   int
	Dir       Direction
	Proto     uint8
	Src, Dst  netip.Addr
	Sport     uint16
	Dport     uint16
	Packets   uint64
	Bytes     uint64
	FirstNs   uint64 // CLOCK_MONOTONIC (coarse) ns
	LastNs    uint64
	TCPFlags  uint8
	SynNoAck  bool // created by a TCP SYN without ACK
	Untracked bool // no port known for it (interface gone, not yet cleaned)
}

type portKey struct {
	ns      uint64
	ifindex int
}

// BuildSnapshot turns raw map contents into per-container counters and flows. Directions
// become the container's (a bridge port's tc ingress is the container's transmit). An
// interface counted both on its host-side veth and inside the container is reported
// once, from the host side. Entries of unknown ports are left out. monoNow and now
// convert the kernel's monotonic stamps to wall time. It is pure.
func BuildSnapshot(ports []Port, totals []RawTotals, flows []RawFlow, monoNow uint64, now time.Time) Snapshot {
	byKey := make(map[portKey]Port, len(ports))
	hostSide := map[[2]string]bool{} // (container, interface) counted on a host veth
	for _, p := range ports {
		byKey[portKey{p.NSInode, p.Ifindex}] = p
		if !p.InContainer {
			hostSide[[2]string{p.Container, p.Interface}] = true
		}
	}
	skip := func(p Port) bool { return p.InContainer && hostSide[[2]string{p.Container, p.Interface}] }

	counters := map[portKey]*InterfaceCounters{}
	for _, p := range ports { // every port has a row, traffic or not
		if !skip(p) {
			counters[portKey{p.NSInode, p.Ifindex}] = &InterfaceCounters{Port: p}
		}
	}
	for _, t := range totals {
		k := portKey{t.NSInode, t.Ifindex}
		p, ok := byKey[k]
		if !ok || skip(p) {
			continue
		}
		c := counters[k]
		if containerDir(p, t.Dir) == Receive {
			c.RxPackets += t.Totals.Packets
			c.RxBytes += t.Totals.Bytes
		} else {
			c.TxPackets += t.Totals.Packets
			c.TxBytes += t.Totals.Bytes
		}
	}
	snap := Snapshot{Time: now, Interfaces: make([]InterfaceCounters, 0, len(counters)), Flows: make([]Flow, 0, len(flows))}
	for _, c := range counters {
		snap.Interfaces = append(snap.Interfaces, *c)
	}
	slices.SortFunc(snap.Interfaces, func(a, b InterfaceCounters) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.HostInterface, b.HostInterface))
	})
	for _, f := range flows {
		p, ok := byKey[portKey{f.NSInode, f.Ifindex}]
		if !ok || skip(p) {
			continue
		}
		snap.Flows = append(snap.Flows, Flow{
			Container: p.Container, NetnsPath: p.NetnsPath, Interface: p.Interface, HostInterface: p.HostInterface,
			Direction: containerDir(p, f.Dir), Proto: f.Proto, Src: f.Src, Dst: f.Dst,
			SrcPort: f.Sport, DstPort: f.Dport, Packets: f.Packets, Bytes: f.Bytes,
			FirstSeen: monoToWall(f.FirstNs, monoNow, now), LastSeen: monoToWall(f.LastNs, monoNow, now),
			TCPFlags: f.TCPFlags, TCPSynNoAck: f.SynNoAck,
		})
	}
	return snap
}

// containerDir maps a tc direction on a port to the container's direction.
func containerDir(p Port, d Direction) FlowDirection {
	in := d == Ingress
	if p.mirrored() {
		in = !in
	}
	if in {
		return Receive
	}
	return Transmit
}

// monoToWall converts a CLOCK_MONOTONIC stamp to wall time, given the two clocks now.
func monoToWall(ns, monoNow uint64, now time.Time) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return now.Add(-time.Duration(int64(monoNow) - int64(ns)))
}
