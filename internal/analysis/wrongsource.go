package analysis

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/netctl/netctl/probe"
)

// WrongSource is a conversation a container answers from another of its addresses than
// the one the requests were sent to: the seed's UDP server bound to 0.0.0.0, asked at
// 172.17.0.2 and answering from 172.17.0.99 (eth1's preferred source). The client
// drops such replies: they come from an address it did not ask.
type WrongSource struct {
	Container   string     `json:"container"`
	Proto       uint8      `json:"proto"`
	Requested   netip.Addr `json:"requested"`    // the container's address the requests were sent to
	RepliedFrom netip.Addr `json:"replied_from"` // the container's address the replies came from
	// LocalPort is the container's port the requests were sent to and the replies came
	// from; for ICMP echo the identifier, as RemotePort.
	LocalPort      uint16     `json:"local_port"`
	Remote         netip.Addr `json:"remote"`
	RemotePort     uint16     `json:"remote_port"`
	InInterface    string     `json:"in_interface"`  // where the requests arrived (the busiest flow's)
	OutInterface   string     `json:"out_interface"` // where the replies left (the busiest flow's)
	RequestPackets uint64     `json:"request_packets"`
	ReplyPackets   uint64     `json:"reply_packets"` // replies sent from RepliedFrom
	ReplyBytes     uint64     `json:"reply_bytes"`
	LastSeen       time.Time  `json:"last_seen"`
	Reason         string     `json:"reason,omitempty"` // the route that chose the source, and the fix (WrongSourceReason)
	NetnsPath      string     `json:"-"`
}

// WrongPair is one wrong-source pair JudgeWrongSource finds in a group: the local
// address asked and the one that answered, in the recs' terms.
type WrongPair struct {
	Requested, RepliedFrom [16]byte
	In, Out                uint32 // Rec.Iface of the busiest request and reply flows
	RequestPackets         uint64
	ReplyPackets           uint64
	ReplyBytes             uint64
	Last                   int64 // the latest Last of the pair's flows
}

// wsAddr is one local address's active flows of one direction in a group.
type wsAddr struct {
	addr           [16]byte
	packets, bytes uint64
	busiest        uint64 // packets of the busiest flow
	iface          uint32 // its interface
	last           int64
}

// maxAddrs bounds the local addresses JudgeWrongSource tells apart per direction of a
// group (a container rarely owns more; the rest are left out).
const maxAddrs = 8

// JudgeWrongSource calls fn with each wrong-source pair among the members of one group
// of a Grouper with ByRemote (a container's flows with one protocol, remote address and
// port, and local port), counting only flows active within idle of now (idle ≤ 0: all).
// A is requested but unanswered when the container received packets to A and sent none
// from A; B answers unasked when it sent packets from B and received none to B; each
// such (A, B) is a pair. A server that answers each address from itself has no
// unanswered address, however many it owns; a client that talks to the remote from two
// addresses has both directions on each. ICMP other than echo and non-first fragments
// (no ports) are left out. It is pure and allocates nothing.
func JudgeWrongSource(recs []Rec, members []int32, now, idle int64, fn func(WrongPair)) {
	k := keyOf(&recs[members[0]])
	if probe.IsICMP(k.proto) && k.initiator == 0 || probe.HasPorts(k.proto) && k.lport == 0 && k.rport == 0 {
		return
	}
	var in, out [maxAddrs]wsAddr
	nin, nout := 0, 0
	for _, m := range members {
		r := &recs[m]
		if r.Packets == 0 || !r.active(now, idle) {
			continue
		}
		local, _, _, _ := r.Ends()
		side, n := in[:], &nin
		if !r.Receive {
			side, n = out[:], &nout
		}
		i := 0
		for i < *n && side[i].addr != *local {
			i++
		}
		if i == *n {
			if *n == maxAddrs {
				continue
			}
			side[i] = wsAddr{addr: *local}
			*n++
		}
		a := &side[i]
		a.packets += r.Packets
		a.bytes += r.Bytes
		a.last = max(a.last, r.Last)
		if r.Packets > a.busiest {
			a.busiest, a.iface = r.Packets, r.Iface
		}
	}
	has := func(side []wsAddr, addr [16]byte) bool {
		return slices.ContainsFunc(side, func(a wsAddr) bool { return a.addr == addr })
	}
	for _, a := range in[:nin] {
		if has(out[:nout], a.addr) {
			continue
		}
		for _, b := range out[:nout] {
			if has(in[:nin], b.addr) {
				continue
			}
			fn(WrongPair{Requested: a.addr, RepliedFrom: b.addr, In: a.iface, Out: b.iface, RequestPackets: a.packets,
				ReplyPackets: b.packets, ReplyBytes: b.bytes, Last: max(a.last, b.last)})
		}
	}
}

// NewWrongSource returns the WrongSource of a pair: r is any flow of its group, the
// names are the caller's (of r.Container, p.In and p.Out), last is p.Last as a time.
// Reason and NetnsPath are left to the caller.
func NewWrongSource(r *Rec, p WrongPair, container, inIface, outIface string, last time.Time) WrongSource {
	k := keyOf(r)
	return WrongSource{Container: container, Proto: k.proto, Requested: r.addr(&p.Requested), RepliedFrom: r.addr(&p.RepliedFrom),
		LocalPort: k.lport, Remote: r.addr(&k.remote), RemotePort: k.rport, InInterface: inIface, OutInterface: outIface,
		RequestPackets: p.RequestPackets, ReplyPackets: p.ReplyPackets, ReplyBytes: p.ReplyBytes, LastSeen: last}
}

// DetectWrongSource finds, among flows active within idle of now (idle ≤ 0: all), the
// conversations a container answers from another address than the one asked:
// JudgeWrongSource over the flows grouped by KeyOf without the local address. It is
// pure. The result is sorted by container, requested, replied from, remote, protocol
// and ports.
func DetectWrongSource(flows []probe.Flow, now time.Time, idle time.Duration) []WrongSource {
	t := recsOf(flows)
	g := Grouper{ByRemote: true}
	var out []WrongSource
	g.Each(t.recs, func(m []int32) {
		JudgeWrongSource(t.recs, m, now.UnixNano(), int64(idle), func(p WrongPair) {
			r := &t.recs[m[0]]
			w := NewWrongSource(r, p, t.containers[r.Container], t.ifaces[p.In][1], t.ifaces[p.Out][1], time.Unix(0, p.Last))
			w.NetnsPath = t.netns[r.Container]
			out = append(out, w)
		})
	})
	slices.SortFunc(out, func(a, b WrongSource) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), a.Requested.Compare(b.Requested), a.RepliedFrom.Compare(b.RepliedFrom),
			a.Remote.Compare(b.Remote), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.LocalPort, b.LocalPort), cmp.Compare(a.RemotePort, b.RemotePort))
	})
	return out
}
