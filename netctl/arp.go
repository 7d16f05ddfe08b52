//go:build linux

package netctl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nsutil"
)

const (
	ethPIPv6  = 0x86dd
	ethPArp   = 0x0806
	arpOpReq  = 1
	arpOpRepl = 2
)

// ARPProbe builds an RFC 5227 ARP probe for target: "who has target?" from srcMAC with
// sender address 0.0.0.0, so no peer updates its neighbour table because of it.
func ARPProbe(srcMAC net.HardwareAddr, target netip.Addr) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:], ethPArp)
	binary.BigEndian.PutUint16(f[14:], 1)      // Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], arpOpReq)
	copy(f[22:28], srcMAC)
	// sender IP 0.0.0.0 (f[28:32]), target MAC zero (f[32:38])
	t := target.As4()
	copy(f[38:42], t[:])
	return f
}

// ARPReplyFrom reports whether frame is an ARP reply (or a request, as a host that is
// itself probing sends) whose sender address is target, and the sender's MAC.
func ARPReplyFrom(frame []byte, target netip.Addr) (net.HardwareAddr, bool) {
	if len(frame) < 42 || binary.BigEndian.Uint16(frame[12:]) != ethPArp {
		return nil, false
	}
	op := binary.BigEndian.Uint16(frame[20:])
	if op != arpOpRepl || frame[18] != 6 || frame[19] != 4 {
		return nil, false
	}
	spa, _ := netip.AddrFromSlice(frame[28:32])
	if spa != target {
		return nil, false
	}
	return net.HardwareAddr(append([]byte(nil), frame[22:28]...)), true
}

// probeARP asks the bridge's segment whether any host answers for addr (ARP for IPv4,
// neighbour discovery for IPv6), waiting up to wait. It returns the answering MAC, or nil.
func (e *Env) probeARP(bridge string, addr netip.Addr, wait time.Duration) (net.HardwareAddr, error) {
	proto, build, match := uint16(ethPArp), ARPProbe, ARPReplyFrom
	if addr.Is6() {
		proto, build, match = ethPIPv6, NSProbe, NAFrom
	}
	br, err := e.HostNL.LinkByName(bridge)
	if err != nil {
		return nil, fmt.Errorf("find bridge %s: %w", bridge, err)
	}
	if br.Attrs().Flags&net.FlagUp == 0 || br.Attrs().OperState == netlink.OperDown {
		return nil, nil // nothing can answer through a bridge that is down
	}
	var fd int
	err = nsutil.Do(e.Host, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("arp probe on %s: socket: %w", bridge, err)
	}
	defer unix.Close(fd)
	sll := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: br.Attrs().Index}
	if err := unix.Bind(fd, sll); err != nil {
		return nil, fmt.Errorf("arp probe on %s: bind: %w", bridge, err)
	}
	tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("arp probe on %s: %w", bridge, err)
	}
	probe := build(br.Attrs().HardwareAddr, addr)
	dst := &unix.SockaddrLinklayer{Ifindex: br.Attrs().Index, Halen: 6, Protocol: htons(proto)}
	copy(dst.Addr[:], probe[0:6])
	buf := make([]byte, 128)
	deadline := time.Now().Add(wait)
	next := time.Now()
	for sent := 0; time.Now().Before(deadline); {
		if sent < 3 && !time.Now().Before(next) { // three probes spread over the wait
			if err := unix.Sendto(fd, probe, 0, dst); err != nil {
				return nil, fmt.Errorf("arp probe on %s: send: %w", bridge, err)
			}
			sent++
			next = next.Add(wait / 3)
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("arp probe on %s: receive: %w", bridge, err)
		}
		if mac, ok := match(buf[:n], addr); ok {
			return mac, nil
		}
	}
	return nil, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// NSProbe builds an IPv6 duplicate-address-detection neighbour solicitation for target
// (RFC 4862): from the unspecified address to target's solicited-node group, so no peer
// learns anything from it, and a host that owns target answers with an advertisement.
func NSProbe(srcMAC net.HardwareAddr, target netip.Addr) []byte {
	t := target.As16()
	group := [16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]}
	f := make([]byte, 14+40+24)
	copy(f[0:6], []byte{0x33, 0x33, 0xff, t[13], t[14], t[15]})
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:], ethPIPv6)
	ip := f[14:54]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], 24) // payload length
	ip[6], ip[7] = 58, 255                 // ICMPv6, hop limit 255 as ND requires
	copy(ip[24:40], group[:])              // source :: (ip[8:24] stays zero)
	icmp := f[54:]
	icmp[0] = 135 // neighbour solicitation
	copy(icmp[8:24], t[:])
	binary.BigEndian.PutUint16(icmp[2:], icmp6Checksum(ip[8:24], ip[24:40], icmp))
	return f
}

// icmp6Checksum is the ICMPv6 checksum over the pseudo-header and the message.
func icmp6Checksum(src, dst, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	var pseudo [8]byte
	binary.BigEndian.PutUint32(pseudo[0:], uint32(len(msg)))
	pseudo[7] = 58
	add(pseudo[:])
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// NAFrom reports whether frame is a neighbour advertisement for target (an owner
// defending it), and the sender's MAC.
func NAFrom(frame []byte, target netip.Addr) (net.HardwareAddr, bool) {
	if len(frame) < 14+40+24 || binary.BigEndian.Uint16(frame[12:]) != ethPIPv6 || frame[14+6] != 58 {
		return nil, false
	}
	icmp := frame[54:]
	if icmp[0] != 136 {
		return nil, false
	}
	if a, _ := netip.AddrFromSlice(icmp[8:24]); a != target {
		return nil, false
	}
	return net.HardwareAddr(append([]byte(nil), frame[6:12]...)), true
}

// checkAddressesFree refuses addresses that the host namespace holds or that another
// host on the bridge answers for: ARP probes for IPv4, DAD neighbour solicitations for
// IPv6 (the container's own DAD, StepWaitDAD, catches them too where it is on).
func (e *Env) checkAddressesFree(spec Spec, wait time.Duration) error {
	hostAddrs, err := nlutil.Dump(func() ([]netlink.Addr, error) { return e.HostNL.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("list host addresses: %w", err)
	}
	for _, p := range spec.Addresses {
		for _, ha := range hostAddrs {
			if hp, ok := nlutil.Prefix(ha.IPNet); ok && hp.Addr() == p.Addr() {
				return fmt.Errorf("address %s is already used in the host namespace", p.Addr())
			}
		}
		if wait <= 0 {
			continue
		}
		mac, err := e.probeARP(spec.Bridge, p.Addr(), wait)
		if err != nil {
			return err
		}
		if mac != nil {
			how := "ARP reply"
			if p.Addr().Is6() {
				how = "neighbour advertisement"
			}
			return fmt.Errorf("address %s is already used by another host on %s (%s from %s)", p.Addr(), spec.Bridge, how, mac)
		}
	}
	return nil
}
