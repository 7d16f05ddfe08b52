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

	ethTypeIPv4   = 0x0800
	ethTypeARP    = 0x0806
	ethTypeIPv6   = 0x86dd
	ethType8021Q  = 0x8100
	ethType8021AD = 0x88a8
	ethTypeExp    = 0x88b5 // IEEE 802 local experimental

	protoHopByHop = 0
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
	protoRouting  = 43
	protoFragment = 44
	protoGRE      = 47
	protoAH       = 51
	protoICMPv6   = 58
	protoNoNext   = 59
	protoDstOpts  = 60
)

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
	macC = []byte{0x02, 0, 0, 0, 0, 0x0c} // a third interface, the destination of flooded frames

	ip4Src = [4]byte{10, 0, 0, 1}
	ip4Dst = [4]byte{10, 0, 0, 2}
	ip6Src = [16]byte{0xfd, 0, 15: 1}
	ip6Dst = [16]byte{0xfd, 0, 15: 2}
)

func eth(ethType uint16, payload []byte) []byte {
	f := make([]byte, 0, ethHdrLen+len(payload))
	f = append(f, macB...)
	f = append(f, macA...)
	f = binary.BigEndian.AppendUint16(f, ethType)
	return append(f, payload...)
}

// vlanEth is eth with one 802.1Q tag (VLAN 100) before ethType.
func vlanEth(ethType uint16, payload []byte) []byte {
	return eth(ethType8021Q, vlanTag(ethType, payload))
}

// vlanTag is a VLAN 100 tag followed by ethType and payload.
func vlanTag(ethType uint16, payload []byte) []byte {
	tag := binary.BigEndian.AppendUint16(nil, 100)
	tag = binary.BigEndian.AppendUint16(tag, ethType)
	return append(tag, payload...)
}

func ipv4(proto uint8, l4 []byte) []byte {
	return ipv4Hdr{proto: proto}.build(l4)
}

// ipv4Hdr builds an IPv4 header from ip4Src to ip4Dst with options and fragment
// fields; ihl, when not 0, overrides the header length field (in 32-bit words).
type ipv4Hdr struct {
	proto   uint8
	options []byte // a multiple of 4 bytes
	frag    uint16 // flags and offset: 0x2000 MF, offset in 8-byte units
	ihl     uint8
}

func (h ipv4Hdr) build(l4 []byte) []byte {
	n := ipv4HdrLen + len(h.options)
	b := make([]byte, n, n+len(l4))
	ihl := h.ihl
	if ihl == 0 {
		ihl = uint8(n / 4)
	}
	b[0] = 4<<4 | ihl&0xf
	binary.BigEndian.PutUint16(b[2:], uint16(n+len(l4)))
	binary.BigEndian.PutUint16(b[6:], h.frag)
	b[8] = 64 // TTL
	b[9] = h.proto
	copy(b[12:16], ip4Src[:])
	copy(b[16:20], ip4Dst[:])
	copy(b[20:], h.options)
	binary.BigEndian.PutUint16(b[10:], checksum(b[:n]))
	return append(b, l4...)
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func ipv6(next uint8, l4 []byte) []byte {
	h := make([]byte, ipv6HdrLen, ipv6HdrLen+len(l4))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6] = next
	h[7] = 64 // hop limit
	copy(h[8:24], ip6Src[:])
	copy(h[24:40], ip6Dst[:])
	return append(h, l4...)
}

// ipv6Ext is an IPv6 packet whose extension headers are exts, in order, followed by
// a transport header of protocol last.
func ipv6Ext(exts []ext6, last uint8, l4 []byte) []byte {
	if len(exts) == 0 {
		return ipv6(last, l4)
	}
	var chain []byte
	for i, e := range exts {
		next := last
		if i+1 < len(exts) {
			next = exts[i+1].proto
		}
		chain = append(chain, e.build(next)...)
	}
	return ipv6(exts[0].proto, append(chain, l4...))
}

// ext6 is one IPv6 extension header.
type ext6 struct {
	proto uint8  // protoHopByHop, protoRouting, protoDstOpts, protoAH or protoFragment
	len   int    // total bytes: a multiple of 8 (AH: of 4, at least 12); 0 = the smallest
	frag  uint16 // fragment header: offset << 3 | M flag
}

func (e ext6) build(next uint8) []byte {
	switch e.proto {
	case protoFragment:
		b := make([]byte, 8)
		b[0] = next
		binary.BigEndian.PutUint16(b[2:], e.frag)
		binary.BigEndian.PutUint32(b[4:], 0xcafe)
		return b
	case protoAH:
		n := max(e.len, 12)
		b := make([]byte, n)
		b[0], b[1] = next, uint8(n/4-2)
		return b
	default:
		n := max(e.len, 8)
		b := make([]byte, n)
		b[0], b[1] = next, uint8(n/8-1)
		if n > 2 {
			b[2], b[3] = 1, uint8(n-4) // one PadN option filling the rest
		}
		return b
	}
}

func udp(payloadLen int) []byte {
	s := make([]byte, udpHdrLen+payloadLen)
	binary.BigEndian.PutUint16(s[0:], 40000)
	binary.BigEndian.PutUint16(s[2:], 53)
	binary.BigEndian.PutUint16(s[4:], uint16(len(s)))
	return s
}

func tcp(payloadLen int) []byte {
	return tcpFlags(0x18, payloadLen) // PSH, ACK
}

func tcpFlags(flags uint8, payloadLen int) []byte {
	s := make([]byte, tcpHdrLen+payloadLen)
	binary.BigEndian.PutUint16(s[0:], 40000)
	binary.BigEndian.PutUint16(s[2:], 443)
	s[12] = 5 << 4 // data offset
	s[13] = flags
	binary.BigEndian.PutUint16(s[14:], 65535)
	return s
}

// icmpMsg is an ICMP or ICMPv6 header: type, code, checksum, then identifier and
// sequence (meaningful for echo), then payload.
func icmpMsg(typ, code uint8, id uint16, payloadLen int) []byte {
	s := make([]byte, 8+payloadLen)
	s[0], s[1] = typ, code
	binary.BigEndian.PutUint16(s[4:], id)
	binary.BigEndian.PutUint16(s[6:], 1)
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
		{"vlan_ipv4_tcp_64B", frameOfSize(64, func(n int) []byte { return vlanEth(ethTypeIPv4, ipv4(protoTCP, tcp(n))) }, ethHdrLen+4+ipv4HdrLen+tcpHdrLen)},
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
