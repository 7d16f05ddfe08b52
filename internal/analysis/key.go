package analysis

import (
	"net/netip"

	"github.com/netctl/netctl/probe"
)

// Key identifies a conversation within a container, from the container's side: a
// TCP/UDP 5-tuple and its reverse; an ICMP echo request and the replies with the same
// identifier (echo requests each way are two conversations, told apart by Initiator);
// any other ICMP between the same two addresses. It is the one conversation key of
// netctl: DetectAsymmetric groups by it, the flow series' port label is decided per Key
// (ServicePorts), and the exporter matches a conversation's flows by it.
type Key struct {
	Container     string
	Proto         uint8
	Local, Remote netip.Addr // the container's address and its peer's
	// LocalPort and RemotePort are the TCP/UDP ports; for ICMP echo both hold the
	// identifier, for other ICMP both are 0.
	LocalPort, RemotePort uint16
	// Initiator is fixed by the echo type for ICMP echo (InitiatorRemote or
	// InitiatorLocal); "" otherwise (TCP and UDP: decided from the flows, see
	// ServiceIsLocal).
	Initiator string
}

// KeyOf returns the conversation a flow belongs to.
func KeyOf(f probe.Flow) Key {
	local, remote, lport, rport := ends(f)
	k := Key{Container: f.Container, Proto: f.Proto, Local: local, Remote: remote, LocalPort: lport, RemotePort: rport}
	if probe.IsICMP(f.Proto) {
		k.LocalPort, k.RemotePort = 0, 0
		if request, ok := echo(f.Proto, f.SrcPort); ok {
			k.LocalPort, k.RemotePort = f.DstPort, f.DstPort // the identifier
			// The request's sender initiated: a request we receive or a reply we send
			// means the remote did.
			if request == (f.Direction == probe.Receive) {
				k.Initiator = InitiatorRemote
			} else {
				k.Initiator = InitiatorLocal
			}
		}
	}
	return k
}

// Key returns the conversation's key: KeyOf of each of its flows.
func (c Conversation) Key() Key {
	k := Key{Container: c.Container, Proto: c.Proto, Local: c.Local, Remote: c.Remote, LocalPort: c.LocalPort, RemotePort: c.RemotePort}
	if probe.IsICMP(c.Proto) {
		k.Initiator = c.Initiator // "" for ICMP other than echo
	}
	return k
}

// echo classifies an ICMP flow: request reports whether it is an echo request, ok
// whether it is an echo at all (request or reply). ICMP flows carry type<<8|code in
// SrcPort.
func echo(proto uint8, srcPort uint16) (request, ok bool) {
	typ := srcPort >> 8
	switch {
	case proto == probe.ProtoICMP && typ == 8, proto == probe.ProtoICMPv6 && typ == 128:
		return true, true
	case proto == probe.ProtoICMP && typ == 0, proto == probe.ProtoICMPv6 && typ == 129:
		return false, true
	}
	return false, false
}

// ends returns a flow's addresses and ports from the container's side.
func ends(f probe.Flow) (local, remote netip.Addr, lport, rport uint16) {
	if f.Direction == probe.Receive {
		return f.Dst, f.Src, f.DstPort, f.SrcPort
	}
	return f.Src, f.Dst, f.SrcPort, f.DstPort
}
