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

// acc accumulates one conversation's flows.
type acc struct {
	in, out       map[string]uint64 // bytes per interface, active flows only
	inObs, outObs Side              // every flow, for the initiator
	last          time.Time
	netnsPath     string
}

// DetectAsymmetric finds the asymmetric conversations among flows active within idle of
// now. It is pure.
//
// Per container, flows are grouped into conversations by KeyOf. Flows whose LastSeen is more than idle before now are left out of the
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
	convs := map[Key]*acc{}
	for _, f := range flows {
		if f.Packets == 0 {
			continue
		}
		k := KeyOf(f)
		c := convs[k]
		if c == nil {
			c = &acc{in: map[string]uint64{}, out: map[string]uint64{}}
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
		inIf, _ := top(c.in)
		outIf, outBytes := top(c.out)
		var inBytes uint64
		for _, b := range c.in {
			inBytes += b
		}
		initiator := k.Initiator
		if probe.HasPorts(k.Proto) {
			initiator = InitiatorLocal
			if ServiceIsLocal(k.Proto, k.LocalPort, k.RemotePort, c.inObs, c.outObs) {
				initiator = InitiatorRemote
			}
		}
		out = append(out, Conversation{
			Container: k.Container, Proto: k.Proto, Local: k.Local, LocalPort: k.LocalPort,
			Remote: k.Remote, RemotePort: k.RemotePort, Initiator: initiator,
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
func top(m map[string]uint64) (string, uint64) {
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
