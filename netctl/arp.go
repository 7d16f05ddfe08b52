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

	"github.com/netctl/netctl/internal/nsutil"
)

const (
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

// probeARP asks the bridge's segment whether any host answers for addr, waiting up to
// wait. It returns the answering MAC, or nil.
func (e *Env) probeARP(bridge string, addr netip.Addr, wait time.Duration) (net.HardwareAddr, error) {
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
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(ethPArp)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("arp probe on %s: socket: %w", bridge, err)
	}
	defer unix.Close(fd)
	sll := &unix.SockaddrLinklayer{Protocol: htons(ethPArp), Ifindex: br.Attrs().Index}
	if err := unix.Bind(fd, sll); err != nil {
		return nil, fmt.Errorf("arp probe on %s: bind: %w", bridge, err)
	}
	tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("arp probe on %s: %w", bridge, err)
	}
	probe := ARPProbe(br.Attrs().HardwareAddr, addr)
	dst := &unix.SockaddrLinklayer{Ifindex: br.Attrs().Index, Halen: 6, Protocol: htons(ethPArp)}
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
		if mac, ok := ARPReplyFrom(buf[:n], addr); ok {
			return mac, nil
		}
	}
	return nil, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// checkAddressesFree refuses addresses that the host namespace holds or that another
// host on the bridge answers ARP for. IPv6 duplicates are caught by DAD (StepWaitDAD).
func (e *Env) checkAddressesFree(spec Spec, wait time.Duration) error {
	hostAddrs, err := dump(func() ([]netlink.Addr, error) { return e.HostNL.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("list host addresses: %w", err)
	}
	for _, p := range spec.Addresses {
		for _, ha := range hostAddrs {
			if hp, ok := prefixOf(ha.IPNet); ok && hp.Addr() == p.Addr() {
				return fmt.Errorf("address %s is already used in the host namespace", p.Addr())
			}
		}
		if !p.Addr().Is4() || wait <= 0 {
			continue
		}
		mac, err := e.probeARP(spec.Bridge, p.Addr(), wait)
		if err != nil {
			return err
		}
		if mac != nil {
			return fmt.Errorf("address %s is already used by another host on %s (ARP reply from %s)", p.Addr(), spec.Bridge, mac)
		}
	}
	return nil
}
