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
	InInterface    string     `json:"in_interface"`  // where the requests arrived (most packets)
	OutInterface   string     `json:"out_interface"` // where the replies left (most packets)
	RequestPackets uint64     `json:"request_packets"`
	ReplyPackets   uint64     `json:"reply_packets"` // replies sent from RepliedFrom
	ReplyBytes     uint64     `json:"reply_bytes"`
	LastSeen       time.Time  `json:"last_seen"`
	Reason         string     `json:"reason,omitempty"` // the route that chose the source, and the fix (WrongSourceReason)
	NetnsPath      string     `json:"-"`
}

// wsGroup is the flows of one container that answer one remote endpoint from one local
// port, whatever the local address.
type wsGroup struct {
	requests, replies map[netip.Addr]*wsSide // by local address
	netnsPath         string
}

// wsSide is one local address's flows of a direction.
type wsSide struct {
	packets, bytes uint64
	ifaces         map[string]uint64 // packets per interface
	last           time.Time
}

func (s *wsSide) add(f probe.Flow) {
	s.packets += f.Packets
	s.bytes += f.Bytes
	s.ifaces[f.Interface] += f.Packets
	if f.LastSeen.After(s.last) {
		s.last = f.LastSeen
	}
}

// DetectWrongSource finds, among flows active within idle of now (idle ≤ 0: all), the
// conversations a container answers from another address than the one asked. It is
// pure.
//
// Per container, flows are grouped by KeyOf without the local address: the protocol,
// the remote address and port, the local port (ICMP: echo requests and replies by
// identifier; other ICMP and non-first fragments are left out). In a group, A is
// requested but unanswered when the container received packets to A and sent none from
// A; B answers unasked when the container sent packets from B and received none to B.
// Each such pair (A, B) is a wrong-source conversation. A server that answers each
// address from itself has no unanswered address, however many it owns; a client that
// talks to the remote from two addresses has both directions on each.
//
// The result is sorted by container, requested, replied from, remote, protocol and ports.
func DetectWrongSource(flows []probe.Flow, now time.Time, idle time.Duration) []WrongSource {
	groups := map[Key]*wsGroup{}
	for _, f := range flows {
		if f.Packets == 0 || idle > 0 && (f.LastSeen.IsZero() || now.Sub(f.LastSeen) > idle) {
			continue
		}
		k := KeyOf(f)
		if probe.IsICMP(k.Proto) && k.Initiator == "" || probe.HasPorts(k.Proto) && k.LocalPort == 0 && k.RemotePort == 0 {
			continue // ICMP other than echo, fragments: nothing to pair
		}
		local := k.Local
		k.Local = netip.Addr{}
		g := groups[k]
		if g == nil {
			g = &wsGroup{requests: map[netip.Addr]*wsSide{}, replies: map[netip.Addr]*wsSide{}}
			groups[k] = g
		}
		if f.NetnsPath != "" {
			g.netnsPath = f.NetnsPath
		}
		side := g.replies
		if f.Direction == probe.Receive {
			side = g.requests
		}
		s := side[local]
		if s == nil {
			s = &wsSide{ifaces: map[string]uint64{}}
			side[local] = s
		}
		s.add(f)
	}
	var out []WrongSource
	for k, g := range groups {
		for a, req := range g.requests {
			if g.replies[a] != nil {
				continue
			}
			for b, rep := range g.replies {
				if g.requests[b] != nil {
					continue
				}
				in, _ := top(req.ifaces)
				outIf, _ := top(rep.ifaces)
				last := req.last
				if rep.last.After(last) {
					last = rep.last
				}
				out = append(out, WrongSource{
					Container: k.Container, Proto: k.Proto, Requested: a, RepliedFrom: b,
					LocalPort: k.LocalPort, Remote: k.Remote, RemotePort: k.RemotePort,
					InInterface: in, OutInterface: outIf, RequestPackets: req.packets, ReplyPackets: rep.packets, ReplyBytes: rep.bytes,
					LastSeen: last, NetnsPath: g.netnsPath,
				})
			}
		}
	}
	slices.SortFunc(out, func(a, b WrongSource) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), a.Requested.Compare(b.Requested), a.RepliedFrom.Compare(b.RepliedFrom),
			a.Remote.Compare(b.Remote), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.LocalPort, b.LocalPort), cmp.Compare(a.RemotePort, b.RemotePort))
	})
	return out
}
