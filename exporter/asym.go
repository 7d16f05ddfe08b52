package exporter

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/netctl/netctl/probe"
)

// Conversation is one conversation of a container whose packets arrive on one
// interface while its replies leave on another: the seed's eth0-in / eth1-out.
type Conversation struct {
	Container string     `json:"container"`
	Proto     uint8      `json:"proto"`
	Local     netip.Addr `json:"local"` // the container's side
	// LocalPort and RemotePort are the TCP/UDP ports; for ICMP echo both hold the
	// identifier, for other ICMP both are 0.
	LocalPort    uint16     `json:"local_port"`
	Remote       netip.Addr `json:"remote"`
	RemotePort   uint16     `json:"remote_port"`
	Initiator    string     `json:"initiator"`     // "remote" (a peer connected in), "local" (the container connected out), "" for ICMP other than echo
	InInterface  string     `json:"in_interface"`  // where the container receives the conversation's packets
	OutInterface string     `json:"out_interface"` // where its packets leave (≠ InInterface)
	InBytes      uint64     `json:"in_bytes"`      // bytes received, on every interface
	OutBytes     uint64     `json:"out_bytes"`     // bytes that left on OutInterface
	LastSeen     time.Time  `json:"last_seen"`
	Reason       string     `json:"reason,omitempty"` // the route that sends the replies out (see RouteReason)
	NetnsPath    string     `json:"-"`
}

// Initiator values.
const (
	InitiatorRemote = "remote"
	InitiatorLocal  = "local"
)

// EphemeralPortStart is where the service-port rule puts the ephemeral range: Linux's
// default ip_local_port_range starts at 32768 (IANA's at 49152 lies inside it).
const EphemeralPortStart = 32768

// IP protocol numbers and TCP flag bits the rules look at.
const (
	cvProtoICMP   = 1
	cvProtoTCP    = 6
	cvProtoUDP    = 17
	cvProtoICMPv6 = 58
	cvTCPSYN      = 0x02
	cvTCPACK      = 0x10
)

// cvHasPorts reports whether the protocol's flows carry real ports.
func cvHasPorts(proto uint8) bool { return proto == cvProtoTCP || proto == cvProtoUDP }

func cvIsICMP(proto uint8) bool { return proto == cvProtoICMP || proto == cvProtoICMPv6 }

// cvEcho classifies an ICMP flow: request reports whether it is an echo request, ok
// whether it is an echo at all (request or reply). ICMP flows carry type<<8|code in
// SrcPort.
func cvEcho(proto uint8, srcPort uint16) (request, ok bool) {
	typ := srcPort >> 8
	switch {
	case proto == cvProtoICMP && typ == 8, proto == cvProtoICMPv6 && typ == 128:
		return true, true
	case proto == cvProtoICMP && typ == 0, proto == cvProtoICMPv6 && typ == 129:
		return false, true
	}
	return false, false
}

// cvEnds returns a flow's addresses and ports from the container's side.
func cvEnds(f probe.Flow) (local, remote netip.Addr, lport, rport uint16) {
	if f.Direction == probe.Receive {
		return f.Dst, f.Src, f.DstPort, f.SrcPort
	}
	return f.Src, f.Dst, f.SrcPort, f.DstPort
}

// Side is what the flows of one direction of a conversation (in: into the container,
// out: out of it; on any of its interfaces) say about who started it.
type Side struct {
	Seen     bool
	SYN, ACK bool      // TCP flags seen in this direction
	SynNoAck bool      // this direction began with a SYN without ACK: the client's
	First    time.Time // earliest FirstSeen (zero: unknown)
}

// Add folds one flow of this direction into s.
func (s *Side) Add(f probe.Flow) {
	s.Seen = true
	s.SYN = s.SYN || f.TCPFlags&cvTCPSYN != 0
	s.ACK = s.ACK || f.TCPFlags&cvTCPACK != 0
	s.SynNoAck = s.SynNoAck || f.TCPSynNoAck
	if !f.FirstSeen.IsZero() && (s.First.IsZero() || f.FirstSeen.Before(s.First)) {
		s.First = f.FirstSeen
	}
}

// cvEarlier reports whether a is known and strictly before b (or b is unknown).
func cvEarlier(a, b time.Time) bool { return !a.IsZero() && (b.IsZero() || a.Before(b)) }

// ServiceIsLocal is the service-port rule for TCP and UDP, the one rule behind both the
// flow series' port label (the ephemeral side folded) and the initiator of a
// conversation (the side that does not own the service port). It reports whether the
// local (container's) port is the service port. The flow tables keep the OR of the TCP
// flags and coarse (one tick) first-seen stamps, so "the side that received the SYN"
// is read as well as they allow, in order:
//
//   - TCP, both directions carry SYN (SYN and SYN-ACK): the earlier first-seen one is
//     the client's; a direction with SYN and never ACK while the other has no SYN is a
//     client's whose SYN went unanswered;
//   - otherwise (UDP, TCP joined late, equal stamps): when one port is below
//     EphemeralPortStart (32768) and the other is not, the lower one;
//   - otherwise the destination port of the direction seen first (or seen at all);
//   - otherwise the lower port (equal ports: local).
//
// It is pure.
func ServiceIsLocal(proto uint8, localPort, remotePort uint16, in, out Side) bool {
	if proto == cvProtoTCP {
		switch {
		case in.SynNoAck != out.SynNoAck: // the datapath saw who sent the bare SYN
			return in.SynNoAck
		case in.SYN && out.SYN && cvEarlier(in.First, out.First):
			return true
		case in.SYN && out.SYN && cvEarlier(out.First, in.First):
			return false
		case in.SYN && !in.ACK && !out.SYN:
			return true
		case out.SYN && !out.ACK && !in.SYN:
			return false
		}
	}
	lLow, rLow := localPort < EphemeralPortStart, remotePort < EphemeralPortStart
	if lLow != rLow {
		return lLow
	}
	switch {
	case in.Seen && (!out.Seen || cvEarlier(in.First, out.First)):
		return true // the remote sent first: the local port is its destination
	case out.Seen && (!in.Seen || cvEarlier(out.First, in.First)):
		return false
	}
	return localPort <= remotePort
}

// ServicePort folds a flow to its service: the container's address (local), the peer's
// (remote) and the service port by ServiceIsLocal. reverse is a flow of the opposite
// direction of the same conversation in the same container (any interface), or nil
// when unknown; FindReverses finds one. For protocols other than TCP and UDP the port
// is 0 (the ICMP type, code and echo identifier are folded). A caller that has every
// flow of the conversation should fold them all into two Sides and call
// ServiceIsLocal, as DetectAsymmetric does.
func ServicePort(f probe.Flow, reverse *probe.Flow) (local, remote netip.Addr, port uint16) {
	local, remote, lport, rport := cvEnds(f)
	if !cvHasPorts(f.Proto) {
		return local, remote, 0
	}
	var in, out Side
	for _, g := range []*probe.Flow{&f, reverse} {
		switch {
		case g == nil:
		case g.Direction == probe.Receive:
			in.Add(*g)
		default:
			out.Add(*g)
		}
	}
	if ServiceIsLocal(f.Proto, lport, rport, in, out) {
		return local, remote, lport
	}
	return local, remote, rport
}

// cvKey identifies a conversation within a container, from the container's side.
type cvKey struct {
	container     string
	proto         uint8
	local, remote netip.Addr
	lport, rport  uint16
	initiator     string // fixed by the ICMP echo type; "" otherwise (decided later)
}

// cvKeyOf returns the conversation of a flow.
func cvKeyOf(f probe.Flow) cvKey {
	local, remote, lport, rport := cvEnds(f)
	k := cvKey{container: f.Container, proto: f.Proto, local: local, remote: remote, lport: lport, rport: rport}
	if cvIsICMP(f.Proto) {
		k.lport, k.rport = 0, 0
		if request, ok := cvEcho(f.Proto, f.SrcPort); ok {
			k.lport, k.rport = f.DstPort, f.DstPort // the identifier
			// The request's sender initiated: a request we receive or a reply we send
			// means the remote did.
			if request == (f.Direction == probe.Receive) {
				k.initiator = InitiatorRemote
			} else {
				k.initiator = InitiatorLocal
			}
		}
	}
	return k
}

// FindReverses returns, for each flow, a flow of the opposite direction of the same
// conversation in the same container (on any interface), or nil. When several qualify
// (the reverse direction seen on two interfaces) it picks the one seen first. It is pure.
func FindReverses(flows []probe.Flow) []*probe.Flow {
	type side struct {
		k   cvKey
		dir probe.FlowDirection
	}
	first := map[side]int{}
	for i, f := range flows {
		s := side{cvKeyOf(f), f.Direction}
		if j, ok := first[s]; !ok || f.FirstSeen.Before(flows[j].FirstSeen) {
			first[s] = i
		}
	}
	out := make([]*probe.Flow, len(flows))
	for i, f := range flows {
		rev := probe.Receive
		if f.Direction == probe.Receive {
			rev = probe.Transmit
		}
		if j, ok := first[side{cvKeyOf(f), rev}]; ok {
			out[i] = &flows[j]
		}
	}
	return out
}

// cvAcc accumulates one conversation's flows.
type cvAcc struct {
	in, out       map[string]uint64 // bytes per interface, active flows only
	inObs, outObs Side              // every flow, for the initiator
	last          time.Time
	netnsPath     string
}

// DetectAsymmetric finds the asymmetric conversations among flows active within idle of
// now. It is pure.
//
// Per container, flows are grouped into conversations: a TCP/UDP 5-tuple and its
// reverse; an ICMP echo request and the replies with the same identifier (echo
// requests each way are two conversations); any other ICMP between the same two
// addresses. Flows whose LastSeen is more than idle before now are left out of the
// judgement (idle ≤ 0 keeps every flow): a conversation counts only if it is active,
// and only its active flows say where it arrives and leaves. It is asymmetric when the
// container received some of its packets and sent some, and no interface did both: its
// packets arrive on A and leave on B ≠ A, and not on A. This covers both senses: a peer
// connecting in (request in eth0, reply out eth1) and the container connecting out
// (request out eth1, reply in eth0). With more than one interface on a side, the one
// with the most bytes is named. The initiator follows the ICMP echo type, or, for TCP
// and UDP, ServiceIsLocal over all the conversation's flows (the side that does not own
// the service port initiated), the rule the flow series' port label uses.
//
// The result is sorted by container, local, remote, protocol, ports and initiator.
func DetectAsymmetric(flows []probe.Flow, now time.Time, idle time.Duration) []Conversation {
	convs := map[cvKey]*cvAcc{}
	for _, f := range flows {
		if f.Packets == 0 {
			continue
		}
		k := cvKeyOf(f)
		c := convs[k]
		if c == nil {
			c = &cvAcc{in: map[string]uint64{}, out: map[string]uint64{}}
			convs[k] = c
		}
		if f.Direction == probe.Receive {
			c.inObs.Add(f)
		} else {
			c.outObs.Add(f)
		}
		if idle > 0 && (f.LastSeen.IsZero() || now.Sub(f.LastSeen) > idle) {
			continue
		}
		if f.NetnsPath != "" {
			c.netnsPath = f.NetnsPath
		}
		if f.LastSeen.After(c.last) {
			c.last = f.LastSeen
		}
		if f.Direction == probe.Receive {
			c.in[f.Interface] += f.Bytes
		} else {
			c.out[f.Interface] += f.Bytes
		}
	}
	var out []Conversation
	for k, c := range convs {
		if len(c.in) == 0 || len(c.out) == 0 {
			continue
		}
		shared := false
		for ifc := range c.in {
			if _, ok := c.out[ifc]; ok {
				shared = true
				break
			}
		}
		if shared {
			continue
		}
		inIf, _ := cvTop(c.in)
		outIf, outBytes := cvTop(c.out)
		var inBytes uint64
		for _, b := range c.in {
			inBytes += b
		}
		initiator := k.initiator
		if cvHasPorts(k.proto) {
			initiator = InitiatorLocal
			if ServiceIsLocal(k.proto, k.lport, k.rport, c.inObs, c.outObs) {
				initiator = InitiatorRemote
			}
		}
		out = append(out, Conversation{
			Container: k.container, Proto: k.proto, Local: k.local, LocalPort: k.lport,
			Remote: k.remote, RemotePort: k.rport, Initiator: initiator,
			InInterface: inIf, OutInterface: outIf, InBytes: inBytes, OutBytes: outBytes,
			LastSeen: c.last, NetnsPath: c.netnsPath,
		})
	}
	slices.SortFunc(out, func(a, b Conversation) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), a.Local.Compare(b.Local), a.Remote.Compare(b.Remote),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.LocalPort, b.LocalPort), cmp.Compare(a.RemotePort, b.RemotePort),
			cmp.Compare(a.Initiator, b.Initiator))
	})
	return out
}

// cvTop returns the interface with the most bytes (ties: the first name).
func cvTop(m map[string]uint64) (string, uint64) {
	var name string
	var most uint64
	found := false
	for ifc, b := range m {
		if !found || b > most || (b == most && ifc < name) {
			name, most, found = ifc, b, true
		}
	}
	return name, most
}
