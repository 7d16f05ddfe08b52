package probe

import "strconv"

// IP protocol numbers of the flows netctl reads ports (or ICMP type, code and echo
// identifier) from; Flow.Proto holds one of them or another IPPROTO_* value.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// ProtoName names an IP protocol as the proto label and the tables print it: tcp, udp,
// icmp, icmpv6, or its number.
func ProtoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

// HasPorts reports whether a protocol's flows carry real ports (TCP and UDP).
func HasPorts(p uint8) bool { return p == ProtoTCP || p == ProtoUDP }

// IsICMP reports whether a protocol is ICMP or ICMPv6, whose flows carry type<<8|code in
// SrcPort and the echo identifier in DstPort.
func IsICMP(p uint8) bool { return p == ProtoICMP || p == ProtoICMPv6 }
