package probe

import (
	"encoding/binary"
)

// refParse is the Go reference of the programs' parser (bpf/parse.h), byte for byte:
// what a frame counts as, and under which flow key. The programs' tests and the fuzz
// target compare the kernel's flows with it, and it doubles as the parser's
// documentation:
//
//   - Ethernet, then at most one 802.1Q or 802.1ad tag. Anything but IPv4 or IPv6
//     after that (ARP, a second tag, a runt) is not IP: totals only.
//   - IPv4: version 4, IHL ≥ 5, options skipped. A non-first fragment (offset ≠ 0) has
//     ports 0; a first fragment is parsed like a whole packet.
//   - IPv6: version 6, then at most ipv6MaxExt extension headers (hop-by-hop, routing,
//     destination options, AH, fragment) are skipped; a non-first fragment stops the
//     walk with ports 0 and the fragment header's next header as protocol. A longer
//     chain is not parsed.
//   - TCP (20 bytes needed), UDP (8), ICMP in IPv4 and ICMPv6 in IPv6 (8): ports, or
//     type<<8|code and the echo identifier. Other protocols: ports 0.
//   - Every header named above must be whole in the frame, or the packet is IP but
//     not parsed: no flow, stats[NotParsed] + 1.
func refParse(frame []byte, ifindex uint32, dir Direction) (FlowKey, uint8, parseResult) {
	var key FlowKey
	n := len(frame)
	if n < ethHdrLen {
		return key, 0, parsedNotIP
	}
	off := ethHdrLen
	ethType := binary.BigEndian.Uint16(frame[12:])
	if ethType == ethType8021Q || ethType == ethType8021AD {
		if n < off+4 {
			return key, 0, parsedNotIP
		}
		ethType = binary.BigEndian.Uint16(frame[off+2:])
		off += 4
	}
	var proto uint8
	hasPorts := true
	switch ethType {
	case ethTypeIPv4:
		if n < off+ipv4HdrLen || frame[off]>>4 != 4 {
			return key, 0, parsedFailed
		}
		ihl := int(frame[off]&0xf) * 4
		if ihl < ipv4HdrLen {
			return key, 0, parsedFailed
		}
		proto = frame[off+9]
		hasPorts = binary.BigEndian.Uint16(frame[off+6:])&0x1fff == 0
		key.Family = 4
		copy(key.Saddr[:4], frame[off+12:])
		copy(key.Daddr[:4], frame[off+16:])
		off += ihl
	case ethTypeIPv6:
		if n < off+ipv6HdrLen || frame[off]>>4 != 6 {
			return key, 0, parsedFailed
		}
		proto = frame[off+6]
		key.Family = 6
		copy(key.Saddr[:], frame[off+8:])
		copy(key.Daddr[:], frame[off+24:])
		off += ipv6HdrLen
		for range ipv6MaxExt {
			if !isIPv6Ext(proto) {
				break
			}
			if proto == protoFragment {
				if n < off+8 {
					return key, 0, parsedFailed
				}
				proto = frame[off]
				fragOff := binary.BigEndian.Uint16(frame[off+2:]) & 0xfff8
				off += 8
				if fragOff != 0 {
					hasPorts = false
					break
				}
				continue
			}
			if n < off+2 {
				return key, 0, parsedFailed
			}
			next := frame[off]
			if proto == protoAH {
				off += (int(frame[off+1]) + 2) * 4 // in 4-byte units, minus 2
			} else {
				off += (int(frame[off+1]) + 1) * 8 // in 8-byte units, minus 1
			}
			proto = next
		}
		if hasPorts && isIPv6Ext(proto) {
			return key, 0, parsedFailed
		}
	default:
		return key, 0, parsedNotIP
	}
	if off > n {
		return key, 0, parsedFailed
	}

	var flags uint8
	if hasPorts {
		switch {
		case proto == protoTCP:
			if n < off+tcpHdrLen {
				return key, 0, parsedFailed
			}
			key.Sport = binary.BigEndian.Uint16(frame[off:])
			key.Dport = binary.BigEndian.Uint16(frame[off+2:])
			flags = frame[off+13]
		case proto == protoUDP:
			if n < off+udpHdrLen {
				return key, 0, parsedFailed
			}
			key.Sport = binary.BigEndian.Uint16(frame[off:])
			key.Dport = binary.BigEndian.Uint16(frame[off+2:])
		case proto == protoICMP && key.Family == 4, proto == protoICMPv6 && key.Family == 6:
			if n < off+8 {
				return key, 0, parsedFailed
			}
			typ := frame[off]
			key.Sport = uint16(typ)<<8 | uint16(frame[off+1])
			echoReq, echoReply := uint8(8), uint8(0)
			if proto == protoICMPv6 {
				echoReq, echoReply = 128, 129
			}
			if typ == echoReq || typ == echoReply {
				key.Dport = binary.BigEndian.Uint16(frame[off+4:])
			}
		}
	}
	key.Ifindex, key.Dir, key.Proto = ifindex, uint8(dir), proto
	return key, flags, parsedFlow
}

// ipv6MaxExt is NC_IPV6_MAX_EXT in bpf/parse.h.
const ipv6MaxExt = 6

func isIPv6Ext(p uint8) bool {
	return p == protoHopByHop || p == protoRouting || p == protoFragment || p == protoDstOpts || p == protoAH
}

// parseResult is enum nc_parse_result in bpf/parse.h.
type parseResult int

const (
	parsedNotIP  parseResult = iota // totals only
	parsedFlow                      // totals and a flow
	parsedFailed                    // totals and stats[NotParsed]
)

func (r parseResult) String() string {
	return [...]string{"not IP", "flow", "IP, not parsed"}[r]
}
