package analysis

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/netctl/netctl/probe"
)

// Rec is one flow in the fixed-size form the conversation analysis works on: no strings,
// no pointers, so a caller can keep hundreds of thousands in one reused buffer (the
// exporter) and the analysis allocates nothing per flow. Container and Iface are the
// caller's numbers: recs of one container share Container, recs of one interface share
// Iface (unique across containers).
type Rec struct {
	Src, Dst       [16]byte // as on the wire; an IPv4 address fills the first 4 bytes
	Packets, Bytes uint64
	// First and Last are when the flow was first and last seen, on any one clock that all
	// recs share (and now and idle in the same unit); 0 is unknown.
	First, Last      int64
	Container, Iface uint32
	SrcPort, DstPort uint16 // ICMP: type<<8|code and the echo identifier
	Proto            uint8
	V4               bool
	Receive          bool  // into the container (else transmitted by it)
	TCPFlags         uint8 // OR of the TCP flags seen
	SynNoAck         bool  // this direction began with a SYN without ACK
}

// addr returns one of a rec's addresses as a netip.Addr.
func (r *Rec) addr(b *[16]byte) netip.Addr {
	if r.V4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(*b)
}

// Ends returns the rec's addresses and ports from the container's side.
func (r *Rec) Ends() (local, remote *[16]byte, lport, rport uint16) {
	if r.Receive {
		return &r.Dst, &r.Src, r.DstPort, r.SrcPort
	}
	return &r.Src, &r.Dst, r.SrcPort, r.DstPort
}

// LocalAddr and RemoteAddr are the container's address and its peer's.
func (r *Rec) LocalAddr() netip.Addr {
	l, _, _, _ := r.Ends()
	return r.addr(l)
}

// RemoteAddr is the peer's address (see LocalAddr).
func (r *Rec) RemoteAddr() netip.Addr {
	_, rm, _, _ := r.Ends()
	return r.addr(rm)
}

// active reports whether the rec had traffic within idle of now (idle ≤ 0: always).
func (r *Rec) active(now, idle int64) bool {
	return idle <= 0 || (r.Last != 0 && now-r.Last <= idle)
}

// recTable turns snapshot flows into recs: containers and interfaces are numbered in
// the order of their names, so ties between interfaces go to the first name.
type recTable struct {
	recs       []Rec
	containers []string
	ifaces     [][2]string // container, interface
	netns      map[uint32]string
}

func recsOf(flows []probe.Flow) recTable {
	var t recTable
	for _, f := range flows {
		t.containers = append(t.containers, f.Container)
		t.ifaces = append(t.ifaces, [2]string{f.Container, f.Interface})
	}
	slices.Sort(t.containers)
	t.containers = slices.Compact(t.containers)
	slices.SortFunc(t.ifaces, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	t.ifaces = slices.Compact(t.ifaces)
	t.netns = map[uint32]string{}
	t.recs = make([]Rec, len(flows))
	for i, f := range flows {
		c, _ := slices.BinarySearch(t.containers, f.Container)
		ifc, _ := slices.BinarySearchFunc(t.ifaces, [2]string{f.Container, f.Interface}, func(a, b [2]string) int {
			return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
		})
		t.recs[i] = RecOf(f, uint32(c), uint32(ifc))
		if f.NetnsPath != "" {
			t.netns[uint32(c)] = f.NetnsPath
		}
	}
	return t
}

// RecOf returns the rec of a snapshot flow, with the caller's container and interface
// numbers; times are Unix nanoseconds.
func RecOf(f probe.Flow, container, iface uint32) Rec {
	r := Rec{Container: container, Iface: iface, Proto: f.Proto, V4: f.Src.Is4() || f.Dst.Is4(),
		Receive: f.Direction == probe.Receive, SrcPort: f.SrcPort, DstPort: f.DstPort,
		Packets: f.Packets, Bytes: f.Bytes, TCPFlags: f.TCPFlags, SynNoAck: f.TCPSynNoAck,
		First: unixNano(f.FirstSeen.UnixNano(), f.FirstSeen.IsZero()), Last: unixNano(f.LastSeen.UnixNano(), f.LastSeen.IsZero())}
	r.Src, r.Dst = addr16(f.Src), addr16(f.Dst)
	return r
}

func unixNano(ns int64, zero bool) int64 {
	if zero {
		return 0
	}
	return ns
}

// addr16 is an address as the flow tables keep it: IPv4 in the first 4 bytes.
func addr16(a netip.Addr) [16]byte {
	if a.Is4() {
		var b [16]byte
		a4 := a.As4()
		copy(b[:], a4[:])
		return b
	}
	return a.As16()
}
