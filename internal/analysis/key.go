package analysis

import "github.com/netctl/netctl/probe"

// Conversations are keyed by keyOf (group.go): within a container, a TCP/UDP 5-tuple and
// its reverse; an ICMP echo request and the replies with the same identifier (echo
// requests each way are two conversations, told apart by the initiator); any other ICMP
// between the same two addresses. It is the one conversation key of netctl: Judge decides
// per key, the flow series' port label comes from it (Verdict.ServicePort), and the
// exporter counts asymmetric bytes per key.

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
