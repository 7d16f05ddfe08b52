package analysis

import "github.com/netctl/netctl/probe"

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
	SYN, ACK bool  // TCP flags seen in this direction
	SynNoAck bool  // this direction began with a SYN without ACK: the client's
	First    int64 // earliest first-seen stamp, on the recs' clock (0: unknown)
}

// add folds one flow of this direction into s.
func (s *Side) add(r *Rec) {
	s.Seen = true
	s.SYN = s.SYN || r.TCPFlags&tcpSYN != 0
	s.ACK = s.ACK || r.TCPFlags&tcpACK != 0
	s.SynNoAck = s.SynNoAck || r.SynNoAck
	if r.First != 0 && (s.First == 0 || r.First < s.First) {
		s.First = r.First
	}
}

// earlier reports whether a is known and strictly before b (or b is unknown).
func earlier(a, b int64) bool { return a != 0 && (b == 0 || a < b) }

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
// the container), so all of them get the same port (Verdict.ServicePort). It is -1 where
// there is none: protocols other than TCP and UDP (ICMP's type, code and echo identifier
// are folded) and non-first fragments (both ports 0). It is pure.
func ServicePorts(flows []probe.Flow) []int {
	t := recsOf(flows)
	out := make([]int, len(flows))
	var g Grouper
	g.Each(t.recs, func(m []int32) {
		v := Judge(t.recs, m, 0, 0)
		for _, i := range m {
			out[i] = v.ServicePort
		}
	})
	return out
}
