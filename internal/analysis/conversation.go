package analysis

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

// DefaultIdle is how long a conversation stays active without traffic, unless told
// otherwise: DetectAsymmetric's idle for `netctl flows --asymmetric` and the exporter's
// flow idle timeout.
const DefaultIdle = 5 * time.Minute

// Initiator values.
const (
	InitiatorRemote = "remote"
	InitiatorLocal  = "local"
)

// Verdict is what the analysis says of one conversation (Judge).
type Verdict struct {
	// ServicePort is the port every flow of the conversation folds to (ServiceIsLocal over
	// all of them); -1 for protocols without ports and for non-first fragments.
	ServicePort int
	// Initiator is InitiatorRemote or InitiatorLocal; "" for ICMP other than echo.
	Initiator string
	// Asymmetric: among its flows active within idle, the container received some and
	// sent some, and no interface did both. In and Out are then the interfaces (Rec.Iface)
	// with the most bytes each way (ties: the lower number), InBytes the bytes received on
	// every interface, OutBytes those sent on Out.
	Asymmetric        bool
	In, Out           uint32
	InBytes, OutBytes uint64
	Last              int64 // the latest Last of its active flows
}

// ifaceBytes is one interface's bytes each way within a conversation.
type ifaceBytes struct {
	iface         uint32
	in, out       uint64
	hasIn, hasOut bool
}

// Judge decides a conversation: members are the indexes in recs of all its flows (as
// Grouper.Each gives them), now and idle on the recs' clock (idle ≤ 0: every flow is
// active). Flows without packets are ignored. It is pure and allocates nothing for
// conversations seen on up to 8 interfaces.
func Judge(recs []Rec, members []int32, now, idle int64) Verdict {
	var in, out Side
	var small [8]ifaceBytes
	ifs := small[:0]
	var v Verdict
	for _, m := range members {
		r := &recs[m]
		if r.Packets == 0 {
			continue
		}
		if r.Receive {
			in.add(r)
		} else {
			out.add(r)
		}
		if !r.active(now, idle) {
			continue
		}
		v.Last = max(v.Last, r.Last)
		i := 0
		for i < len(ifs) && ifs[i].iface != r.Iface {
			i++
		}
		if i == len(ifs) {
			ifs = append(ifs, ifaceBytes{iface: r.Iface})
		}
		if r.Receive {
			ifs[i].in += r.Bytes
			ifs[i].hasIn = true
		} else {
			ifs[i].out += r.Bytes
			ifs[i].hasOut = true
		}
	}
	k := keyOf(&recs[members[0]])
	v.ServicePort = -1
	switch {
	case probe.HasPorts(k.proto):
		local := ServiceIsLocal(k.proto, k.lport, k.rport, in, out)
		v.Initiator = InitiatorLocal
		if local {
			v.Initiator = InitiatorRemote
		}
		if k.lport != 0 || k.rport != 0 {
			v.ServicePort = int(k.rport)
			if local {
				v.ServicePort = int(k.lport)
			}
		}
	case k.initiator == initRemote:
		v.Initiator = InitiatorRemote
	case k.initiator == initLocal:
		v.Initiator = InitiatorLocal
	}

	var inTop, outTop *ifaceBytes
	for i := range ifs {
		f := &ifs[i]
		if f.hasIn && f.hasOut {
			return v // an interface carries both ways: symmetric
		}
		if f.hasIn {
			v.InBytes += f.in
			if inTop == nil || f.in > inTop.in || (f.in == inTop.in && f.iface < inTop.iface) {
				inTop = f
			}
		}
		if f.hasOut && (outTop == nil || f.out > outTop.out || (f.out == outTop.out && f.iface < outTop.iface)) {
			outTop = f
		}
	}
	if inTop == nil || outTop == nil {
		return v
	}
	v.Asymmetric, v.In, v.Out, v.OutBytes = true, inTop.iface, outTop.iface, outTop.out
	return v
}

// NewConversation returns the Conversation of an asymmetric verdict: r is any flow of
// the conversation, the names are the caller's (of r.Container, v.In and v.Out), last is
// v.Last as a time. Reason and NetnsPath are left to the caller.
func NewConversation(r *Rec, v Verdict, container, inIface, outIface string, last time.Time) Conversation {
	k := keyOf(r)
	c := Conversation{Container: container, Proto: k.proto, Local: r.addr(&k.local), LocalPort: k.lport,
		Remote: r.addr(&k.remote), RemotePort: k.rport, Initiator: v.Initiator,
		InInterface: inIface, OutInterface: outIface, InBytes: v.InBytes, OutBytes: v.OutBytes, LastSeen: last}
	return c
}

// DetectAsymmetric finds the asymmetric conversations among flows active within idle of
// now: Judge over the flows grouped by KeyOf, per container (see Verdict). This covers
// both senses: a peer connecting in (request in eth0, reply out eth1) and the container
// connecting out (request out eth1, reply in eth0). The initiator follows the ICMP echo
// type, or, for TCP and UDP, ServiceIsLocal over all the conversation's flows (the side
// that does not own the service port initiated), the rule the flow series' port label
// uses. It is pure.
//
// The result is sorted by container, local, remote, protocol, ports and initiator.
func DetectAsymmetric(flows []probe.Flow, now time.Time, idle time.Duration) []Conversation {
	t := recsOf(flows)
	var g Grouper
	var out []Conversation
	g.Each(t.recs, func(m []int32) {
		v := Judge(t.recs, m, now.UnixNano(), int64(idle))
		if !v.Asymmetric {
			return
		}
		r := &t.recs[m[0]]
		c := NewConversation(r, v, t.containers[r.Container], t.ifaces[v.In][1], t.ifaces[v.Out][1], time.Unix(0, v.Last))
		c.NetnsPath = t.netns[r.Container]
		out = append(out, c)
	})
	SortConversations(out)
	return out
}

// SortConversations sorts by container, local, remote, protocol, ports and initiator.
func SortConversations(cs []Conversation) {
	slices.SortFunc(cs, func(a, b Conversation) int {
		return cmp.Or(cmp.Compare(a.Container, b.Container), a.Local.Compare(b.Local), a.Remote.Compare(b.Remote),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.LocalPort, b.LocalPort), cmp.Compare(a.RemotePort, b.RemotePort),
			cmp.Compare(a.Initiator, b.Initiator))
	})
}
