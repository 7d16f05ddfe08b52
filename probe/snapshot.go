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
	NSCookie      uint64 `json:"netns_cookie"`             // cookie of the namespace of the attached interface's map set (0: the host namespace)
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

// Counters are the part of a snapshot that costs the same however many flows there are
// and needs no lookup but in the maps: the interface counters and the datapath's own
// counts. A scrape reads them every time; the flow tables (Entry) and what needs netlink
// (the bridges' coverage) are read apart (FlowRead).
type Counters struct {
	Time         time.Time           `json:"time"`
	Interfaces   []InterfaceCounters `json:"interfaces"`
	FlowCapacity int                 `json:"flow_capacity"`
	InsertFailed uint64              `json:"flow_insert_failed"`
	NotParsed    uint64              `json:"not_parsed"`
	// Flooded is what the watched bridges flooded, by destination (FloodedDestinations).
	Flooded []FloodedDest `json:"flooded,omitempty"`
}

// Entry is one flow table entry as the kernel keeps it, per-CPU copies merged, in
// fixed-size form (no strings, no pointers): what a reader that keeps many of them in
// reused buffers takes. Key is in the kernel's terms: the tc direction on the attached
// interface, addresses and ports as on the wire (see FlowKey).
type Entry struct {
	NSCookie uint64 // the namespace of the entry's map set (0: the host namespace)
	Key      FlowKey
	Packets  uint64
	Bytes    uint64
	FirstNs  uint64 // CLOCK_MONOTONIC (coarse)
	LastNs   uint64
	TCPFlags uint8 // OR of the TCP flags seen
	Flags    uint8 // FlowSynNoAck
}

// Addrs returns the entry's source and destination addresses.
func (e *Entry) Addrs() (src, dst netip.Addr) {
	if e.Key.Family == 6 {
		return netip.AddrFrom16(e.Key.Saddr), netip.AddrFrom16(e.Key.Daddr)
	}
	return netip.AddrFrom4([4]byte(e.Key.Saddr[:4])), netip.AddrFrom4([4]byte(e.Key.Daddr[:4]))
}

// FlowRead is what a read of the flow tables says besides its entries: the ports behind
// the interfaces, the watched bridges' coverage and the two clocks as the read began.
type FlowRead struct {
	Ports    []Port
	Bridges  []BridgeStatus
	Mono     uint64    // CLOCK_MONOTONIC, the clock of the entries' stamps
	Time     time.Time // the wall clock at the same moment
	Entries  int       // entries of the flows hashes (flows found only in a flow cache not counted)
	Capacity int       // the tables' capacity
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
	NSCookie uint64
	Ifindex  int
	Dir      Direction
	Totals   Totals
}

// RawFlow is one flow entry as the kernel keeps it, per-CPU copies merged.
type RawFlow struct {
	NSCookie  uint64
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

// PortMap finds who is behind an interface of a map set. An interface counted both on
// its host-side veth and inside the container is taken from the host side: its entries
// inside the container are left out, so nothing is counted twice.
type PortMap struct {
	Ports []Port
	byKey map[portKey]int
}

// NewPortMap indexes ports.
func NewPortMap(ports []Port) PortMap {
	m := PortMap{Ports: ports, byKey: make(map[portKey]int, len(ports))}
	hostSide := map[[2]string]bool{} // (container, interface) counted on a host veth
	for _, p := range ports {
		if !p.InContainer {
			hostSide[[2]string{p.Container, p.Interface}] = true
		}
	}
	for i, p := range ports {
		if p.InContainer && hostSide[[2]string{p.Container, p.Interface}] {
			continue
		}
		m.byKey[portKey{p.NSCookie, p.Ifindex}] = i
	}
	return m
}

// Find returns the index in Ports of the interface ifindex of the map set of namespace
// ns, or false when it is unknown or left out.
func (m PortMap) Find(ns uint64, ifindex int) (int, bool) {
	i, ok := m.byKey[portKey{ns, ifindex}]
	return i, ok
}

// BuildSnapshot turns raw map contents into per-container counters and flows. Directions
// become the container's (a bridge port's tc ingress is the container's transmit). An
// interface counted both on its host-side veth and inside the container is reported
// once, from the host side. Entries of unknown ports are left out. monoNow and now
// convert the kernel's monotonic stamps to wall time. It is pure.
func BuildSnapshot(ports []Port, totals []RawTotals, flows []RawFlow, monoNow uint64, now time.Time) Snapshot {
	pm := NewPortMap(ports)
	snap := Snapshot{Time: now, Interfaces: Interfaces(pm, totals), Flows: make([]Flow, 0, len(flows))}
	for _, f := range flows {
		i, ok := pm.Find(f.NSCookie, f.Ifindex)
		if !ok {
			continue
		}
		p := ports[i]
		snap.Flows = append(snap.Flows, Flow{
			Container: p.Container, NetnsPath: p.NetnsPath, Interface: p.Interface, HostInterface: p.HostInterface,
			Direction: p.ContainerDir(f.Dir), Proto: f.Proto, Src: f.Src, Dst: f.Dst,
			SrcPort: f.Sport, DstPort: f.Dport, Packets: f.Packets, Bytes: f.Bytes,
			FirstSeen: MonoToWall(f.FirstNs, monoNow, now), LastSeen: MonoToWall(f.LastNs, monoNow, now),
			TCPFlags: f.TCPFlags, TCPSynNoAck: f.SynNoAck,
		})
	}
	return snap
}

// Interfaces returns the counters of every port of pm (traffic or not) from the raw
// totals, in the container's directions, sorted by container, interface and host
// interface. Totals of unknown or left-out interfaces are ignored. It is pure.
func Interfaces(pm PortMap, totals []RawTotals) []InterfaceCounters {
	out := make([]InterfaceCounters, 0, len(pm.byKey))
	at := make(map[int]int, len(pm.byKey)) // port index → index in out
	for i, p := range pm.Ports {
		if j, ok := pm.Find(p.NSCookie, p.Ifindex); ok && j == i {
			at[i] = len(out)
			out = append(out, InterfaceCounters{Port: p})
		}
	}
	for _, t := range totals {
		i, ok := pm.Find(t.NSCookie, t.Ifindex)
		if !ok {
			continue
		}
		c := &out[at[i]]
		if c.ContainerDir(t.Dir) == Receive {
			c.RxPackets += t.Totals.Packets
			c.RxBytes += t.Totals.Bytes
		} else {
			c.TxPackets += t.Totals.Packets
			c.TxBytes += t.Totals.Bytes
		}
	}
	slices.SortFunc(out, func(a, b InterfaceCounters) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.HostInterface, b.HostInterface))
	})
	return out
}

// ContainerDir maps a tc direction on the port to the container's direction.
func (p Port) ContainerDir(d Direction) FlowDirection {
	in := d == Ingress
	if p.mirrored() {
		in = !in
	}
	if in {
		return Receive
	}
	return Transmit
}

// MonoToWall converts a CLOCK_MONOTONIC stamp of the programs to wall time, given the two
// clocks now (0 stays the zero time).
func MonoToWall(ns, monoNow uint64, now time.Time) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return now.Add(-time.Duration(int64(monoNow) - int64(ns)))
}
