package probe

import (
	"encoding/binary"
	"fmt"
)

// Hand-built Ethernet frames for running the programs with BPF_PROG_TEST_RUN.

const (
	ethHdrLen  = 14
	ipv4HdrLen = 20
	ipv6HdrLen = 40
	udpHdrLen  = 8
	tcpHdrLen  = 20

	ethTypeIPv4 = 0x0800
	ethTypeARP  = 0x0806
	ethTypeIPv6 = 0x86dd
	ethTypeExp  = 0x88b5 // IEEE 802 local experimental

	protoTCP = 6
	protoUDP = 17
)

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
)

func eth(ethType uint16, payload []byte) []byte {
	f := make([]byte, 0, ethHdrLen+len(payload))
	f = append(f, macB...)
	f = append(f, macA...)
	f = binary.BigEndian.AppendUint16(f, ethType)
	return append(f, payload...)
}

func ipv4(proto uint8, l4 []byte) []byte {
	h := make([]byte, ipv4HdrLen, ipv4HdrLen+len(l4))
	h[0] = 0x45 // version 4, IHL 5
	binary.BigEndian.PutUint16(h[2:], uint16(ipv4HdrLen+len(l4)))
	h[8] = 64 // TTL
	h[9] = proto
	copy(h[12:16], []byte{10, 0, 0, 1})
	copy(h[16:20], []byte{10, 0, 0, 2})
	var sum uint32
	for i := 0; i < ipv4HdrLen; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
	return append(h, l4...)
}

func ipv6(next uint8, l4 []byte) []byte {
	h := make([]byte, ipv6HdrLen, ipv6HdrLen+len(l4))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6] = next
	h[7] = 64 // hop limit
	copy(h[8:24], []byte{0xfd, 0, 15: 1})
	copy(h[24:40], []byte{0xfd, 0, 15: 2})
	return append(h, l4...)
}

func udp(payloadLen int) []byte {
	s := make([]byte, udpHdrLen+payloadLen)
	binary.BigEndian.PutUint16(s[0:], 40000)
	binary.BigEndian.PutUint16(s[2:], 53)
	binary.BigEndian.PutUint16(s[4:], uint16(len(s)))
	return s
}

func tcp(payloadLen int) []byte {
	s := make([]byte, tcpHdrLen+payloadLen)
	binary.BigEndian.PutUint16(s[0:], 40000)
	binary.BigEndian.PutUint16(s[2:], 443)
	s[12] = 5 << 4 // data offset
	s[13] = 0x18   // PSH, ACK
	binary.BigEndian.PutUint16(s[14:], 65535)
	return s
}

func arpRequest() []byte {
	p := make([]byte, 0, 28)
	p = binary.BigEndian.AppendUint16(p, 1)           // Ethernet
	p = binary.BigEndian.AppendUint16(p, ethTypeIPv4) // IPv4
	p = append(p, 6, 4)
	p = binary.BigEndian.AppendUint16(p, 1) // request
	p = append(p, macA...)
	p = append(p, 10, 0, 0, 1)
	p = append(p, make([]byte, 6)...)
	p = append(p, 10, 0, 0, 2)
	return p
}

// frameOfSize builds a frame of exactly size bytes: headers from hdr, then padding as
// L4 payload.
func frameOfSize(size int, build func(payloadLen int) []byte, hdrLen int) []byte {
	if size < hdrLen {
		panic(fmt.Sprintf("frame of %d bytes cannot hold %d bytes of headers", size, hdrLen))
	}
	f := build(size - hdrLen)
	if len(f) != size {
		panic(fmt.Sprintf("built %d bytes, want %d", len(f), size))
	}
	return f
}

// packetShape is a named frame.
type packetShape struct {
	name  string
	frame []byte
}

// benchShapes are the frames the per-packet cost is measured with. Ethernet + IPv6 +
// TCP headers take 74 bytes, so the smallest IPv6 TCP frame is 74 bytes, not 64.
func benchShapes() []packetShape {
	return []packetShape{
		{"ipv4_udp_64B", frameOfSize(64, func(n int) []byte { return eth(ethTypeIPv4, ipv4(protoUDP, udp(n))) }, ethHdrLen+ipv4HdrLen+udpHdrLen)},
		{"ipv4_tcp_1500B", frameOfSize(1500, func(n int) []byte { return eth(ethTypeIPv4, ipv4(protoTCP, tcp(n))) }, ethHdrLen+ipv4HdrLen+tcpHdrLen)},
		{"ipv6_tcp_74B", frameOfSize(74, func(n int) []byte { return eth(ethTypeIPv6, ipv6(protoTCP, tcp(n))) }, ethHdrLen+ipv6HdrLen+tcpHdrLen)},
	}
}

// runShapes are the frames the programs are run on in tests: every kind the datapath
// meets, down to a runt that is only an Ethernet header. (BPF_PROG_TEST_RUN refuses
// an IPv4 or IPv6 frame too short for its IP header, so the shortest IPv4 frame here
// is a bare IP header and the 14-byte runt carries another ethertype.)
func runShapes() []packetShape {
	return append(benchShapes(),
		packetShape{"ipv6_udp_100B", frameOfSize(100, func(n int) []byte { return eth(ethTypeIPv6, ipv6(protoUDP, udp(n))) }, ethHdrLen+ipv6HdrLen+udpHdrLen)},
		packetShape{"ipv4_header_only_34B", eth(ethTypeIPv4, ipv4(protoUDP, nil))},
		packetShape{"arp_request_42B", eth(ethTypeARP, arpRequest())},
		packetShape{"runt_eth_header_only_14B", eth(ethTypeExp, nil)},
		packetShape{"runt_15B", eth(ethTypeExp, []byte{0})},
	)
}
