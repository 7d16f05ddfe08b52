package analysis

import (
	"net/netip"
	"time"

	"github.com/netctl/netctl/probe"
)

// EphemeralPortStart is where the service-port rule puts the ephemeral range: Linux's
// default ip_local_port_range starts at 32768 (IANA's at 49152 lies inside it).
const EphemeralPortStart = 32768

// TCP flag bits the service-port rule looks at.
const (
	tcpSYN = 0x02
	tcpACK = 0x10
)

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
	s.SYN = s.SYN || f.TCPFlags&tcpSYN != 0
	s.ACK = s.ACK || f.TCPFlags&tcpACK != 0
	s.SynNoAck = s.SynNoAck || f.TCPSynNoAck
	if !f.FirstSeen.IsZero() && (s.First.IsZero() || f.FirstSeen.Before(s.First)) {
		s.First = f.FirstSeen
	}
}

// earlier reports whether a is known and strictly before b (or b is unknown).
func earlier(a, b time.Time) bool { return !a.IsZero() && (b.IsZero() || a.Before(b)) }

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
	if proto == probe.ProtoTCP {
		switch {
		case in.SynNoAck != out.SynNoAck: // the datapath saw who sent the bare SYN
			return in.SynNoAck
		case in.SYN && out.SYN && earlier(in.First, out.First):
			return true
		case in.SYN && out.SYN && earlier(out.First, in.First):
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
	case in.Seen && (!out.Seen || earlier(in.First, out.First)):
		return true // the remote sent first: the local port is its destination
	case out.Seen && (!in.Seen || earlier(out.First, in.First)):
		return false
	}
	return localPort <= remotePort
}

// ServicePorts returns, for each flow, the service port of its conversation: the rule
// of ServiceIsLocal over every flow of the conversation (by KeyOf, on any interface of
// the container), so all of them get the same port. It is -1 where there is none:
// protocols other than TCP and UDP (ICMP's type, code and echo identifier are folded)
// and non-first fragments (both ports 0). It is pure.
func ServicePorts(flows []probe.Flow) []int {
	sides := map[Key]*[2]Side{} // [0] into the container, [1] out of it
	for _, f := range flows {
		if !probe.HasPorts(f.Proto) {
			continue
		}
		k := KeyOf(f)
		s := sides[k]
		if s == nil {
			s = &[2]Side{}
			sides[k] = s
		}
		if f.Direction == probe.Receive {
			s[0].Add(f)
		} else {
			s[1].Add(f)
		}
	}
	out := make([]int, len(flows))
	for i, f := range flows {
		k := KeyOf(f)
		if !probe.HasPorts(k.Proto) || (k.LocalPort == 0 && k.RemotePort == 0) {
			out[i] = -1
			continue
		}
		s := sides[k]
		out[i] = int(k.RemotePort)
		if ServiceIsLocal(k.Proto, k.LocalPort, k.RemotePort, s[0], s[1]) {
			out[i] = int(k.LocalPort)
		}
	}
	return out
}

// ServicePort folds one flow to its service: the container's address (local), the
// peer's (remote) and the service port by ServiceIsLocal. reverse is a flow of the
// opposite direction of the same conversation in the same container (any interface),
// or nil when unknown; FindReverses finds one. For protocols other than TCP and UDP the
// port is 0 (the ICMP type, code and echo identifier are folded). A caller that has
// every flow of the conversation should use ServicePorts, as the exporter does.
func ServicePort(f probe.Flow, reverse *probe.Flow) (local, remote netip.Addr, port uint16) {
	local, remote, lport, rport := ends(f)
	if !probe.HasPorts(f.Proto) {
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

// FindReverses returns, for each flow, a flow of the opposite direction of the same
// conversation in the same container (on any interface), or nil. When several qualify
// (the reverse direction seen on two interfaces) it picks the one seen first. It is pure.
func FindReverses(flows []probe.Flow) []*probe.Flow {
	type side struct {
		k   Key
		dir probe.FlowDirection
	}
	first := map[side]int{}
	for i, f := range flows {
		s := side{KeyOf(f), f.Direction}
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
		if j, ok := first[side{KeyOf(f), rev}]; ok {
			out[i] = &flows[j]
		}
	}
	return out
}
