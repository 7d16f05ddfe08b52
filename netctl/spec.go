//go:build linux

package netctl

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// MaxIfNameLen is the kernel's limit on interface names (IFNAMSIZ-1).
const MaxIfNameLen = 15

// DefaultName is the container-side name of a new NIC when --name is not given.
const DefaultName = "eth1"

// Spec is what `nic add` was asked to do.
type Spec struct {
	Name          string           `json:"name"`                // container-side interface name
	HostName      string           `json:"host_name,omitempty"` // host-side veth name; generated when empty
	Bridge        string           `json:"bridge"`
	Addresses     []netip.Prefix   `json:"addresses"`
	Gateway       netip.Addr       `json:"gateway,omitzero"`
	DefaultRoute  bool             `json:"default_route,omitempty"`
	SourceRouting bool             `json:"source_routing,omitempty"`
	NoARPGuard    bool             `json:"no_arp_guard,omitempty"`
	MTU           int              `json:"mtu,omitempty"` // 0: the bridge's MTU
	MAC           net.HardwareAddr `json:"mac,omitempty"` // container-side MAC
}

// ValidIfName checks an interface name as the kernel would (dev_valid_name), and
// refuses what the kernel takes but a shell or iproute2 would misread: a leading '-'
// (an option) and ';'.
func ValidIfName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > MaxIfNameLen:
		return fmt.Errorf("interface name %q is %d bytes; the kernel allows at most %d", name, len(name), MaxIfNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n\v\f\r\x00"):
		return fmt.Errorf("interface name %q must not contain '/', ':' or white space", name)
	case strings.HasPrefix(name, "-") || strings.Contains(name, ";"):
		return fmt.Errorf("interface name %q must not start with '-' or contain ';'", name)
	}
	return nil
}

// ParseAddresses parses CIDRs such as "172.17.0.99/24" and "fd17::99/64", keeping the
// host bits (the address) and rejecting prefixes out of range.
func ParseAddresses(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	seen := map[netip.Addr]bool{}
	for _, s := range in {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			addr, bits, found := strings.Cut(strings.TrimSpace(s), "/")
			if a, aerr := netip.ParseAddr(addr); aerr == nil && found {
				return nil, fmt.Errorf("invalid --address %q: prefix length %s out of range %d-%d", s, bits, minBits(a), a.BitLen())
			}
			return nil, fmt.Errorf("invalid --address %q: want an address with a prefix length, like 172.17.0.99/24", s)
		}
		if err := checkPrefix(p); err != nil {
			return nil, fmt.Errorf("invalid --address %q: %w", s, err)
		}
		a := p.Addr()
		if seen[a] {
			return nil, fmt.Errorf("invalid --address %q: given twice", s)
		}
		seen[a] = true
		out = append(out, p)
	}
	return out, nil
}

// Shortest prefixes an address may have: anything shorter puts much of the address
// space on-link, which no NIC of a container should do.
const (
	MinBits4 = 8
	MinBits6 = 16
)

// checkPrefix checks that p is a host address of the NIC's with a sensible subnet.
func checkPrefix(p netip.Prefix) error {
	a := p.Addr()
	if err := checkUnicast(a); err != nil {
		return err
	}
	if p.Bits() < minBits(a) {
		return fmt.Errorf("prefix length /%d would put %s of the address space on-link; want /%d to /%d", p.Bits(), share(p.Bits()), minBits(a), a.BitLen())
	}
	if a.Is4() && p.Bits() < 31 && (a == p.Masked().Addr() || a == lastAddr(p)) {
		return errors.New("the network or broadcast address of its subnet")
	}
	return nil
}

// minBits is the shortest prefix length an address of a's family may have.
func minBits(a netip.Addr) int {
	if a.Is4() {
		return MinBits4
	}
	return MinBits6
}

// share says how much of the address space a prefix length covers.
func share(bits int) string {
	if bits == 0 {
		return "all"
	}
	return fmt.Sprintf("1/%d", uint64(1)<<bits)
}

// checkUnicast refuses what cannot be a host's own address or a gateway: IPv4 written
// as IPv6, unspecified, loopback, multicast, the limited broadcast, 0.0.0.0/8 ("this
// network") and 240.0.0.0/4 (reserved).
func checkUnicast(a netip.Addr) error {
	switch {
	case a.Is4In6():
		return errors.New("write IPv4 addresses as IPv4")
	case a.IsUnspecified(), a.IsLoopback(), a.IsMulticast():
		return errors.New("not a unicast host address")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("the limited broadcast address, not a host address")
	case a.Is4() && a.As4()[0] == 0:
		return errors.New("in 0.0.0.0/8 (\"this network\"), not a host address")
	case a.Is4() && a.As4()[0] >= 240:
		return errors.New("in 240.0.0.0/4 (reserved), not a host address")
	}
	return nil
}

// lastAddr is the highest address of p (IPv4 broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	host := len(b)*8 - p.Bits()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Validate checks everything about s that needs no kernel: names, addresses, gateway.
func (s *Spec) Validate() error {
	if err := ValidIfName(s.Name); err != nil {
		return fmt.Errorf("invalid --name: %w", err)
	}
	if s.HostName != "" {
		if err := ValidIfName(s.HostName); err != nil {
			return fmt.Errorf("invalid --host-name: %w", err)
		}
	}
	if s.Bridge == "" {
		return errors.New("missing --bridge (the bridge to plug the new NIC into, e.g. docker0)")
	}
	if err := ValidIfName(s.Bridge); err != nil {
		return fmt.Errorf("invalid --bridge: %w", err)
	}
	if len(s.Addresses) == 0 {
		return errors.New("missing --address (e.g. --address 172.17.0.99/24)")
	}
	for _, p := range s.Addresses {
		if err := checkPrefix(p); err != nil {
			return fmt.Errorf("invalid --address %s: %w", p, err)
		}
	}
	if s.MTU != 0 && (s.MTU < 68 || s.MTU > 65535) {
		return fmt.Errorf("invalid --mtu %d: want 68..65535", s.MTU)
	}
	if s.MAC != nil && (len(s.MAC) != 6 || s.MAC[0]&1 == 1) {
		return fmt.Errorf("invalid --mac %s: want a unicast Ethernet address", s.MAC)
	}
	if s.MAC != nil && bytes.Equal(s.MAC, make(net.HardwareAddr, 6)) {
		return fmt.Errorf("invalid --mac %s: the all-zero address is no interface's", s.MAC)
	}
	if s.MTU != 0 && s.MTU < 1280 && slices.ContainsFunc(s.Addresses, func(p netip.Prefix) bool { return p.Addr().Is6() }) {
		return fmt.Errorf("invalid --mtu %d: IPv6 needs at least 1280", s.MTU)
	}
	if s.DefaultRoute && !s.Gateway.IsValid() {
		return errors.New("--default-route needs --gateway")
	}
	if s.Gateway.IsValid() {
		if err := checkUnicast(s.Gateway); err != nil {
			return fmt.Errorf("invalid --gateway %s: %w", s.Gateway, err)
		}
		// An IPv6 link-local gateway is on-link by definition.
		if !s.onLink(s.Gateway) && !s.Gateway.IsLinkLocalUnicast() {
			return fmt.Errorf("invalid --gateway %s: outside every subnet of --address (%s)", s.Gateway, joinPrefixes(s.Addresses))
		}
		for _, p := range s.Addresses {
			if p.Addr() == s.Gateway {
				return fmt.Errorf("invalid --gateway %s: it is the new NIC's own address", s.Gateway)
			}
			if s.Gateway.Is4() && p.Bits() < 31 && p.Masked().Contains(s.Gateway) &&
				(s.Gateway == p.Masked().Addr() || s.Gateway == lastAddr(p)) {
				return fmt.Errorf("invalid --gateway %s: the network or broadcast address of %s", s.Gateway, p.Masked())
			}
		}
	}
	return nil
}

// onLink reports whether a is inside a subnet of one of the spec's addresses.
func (s *Spec) onLink(a netip.Addr) bool {
	for _, p := range s.Addresses {
		if p.Masked().Contains(a) {
			return true
		}
	}
	return false
}

// HostNameFor derives the host-side veth name of a NIC: "nc" + 8 hex digits of a hash of
// the namespace's cookie and the container-side name, so the same NIC always gets the same
// name and two NICs never collide in practice. Always ≤ 15 bytes.
func HostNameFor(nsCookie uint64, name string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%s", nsCookie, name)
	return fmt.Sprintf("nc%08x", h.Sum32())
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
