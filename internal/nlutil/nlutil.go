//go:build linux

// Package nlutil holds the small conversions and the dump retry that every netlink user
// in netctl needs: netlink speaks net.IPNet, netctl netip.
package nlutil

import (
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Dump runs a netlink dump, retrying when the kernel reports that a concurrent change
// interrupted it (the results would be inconsistent).
func Dump[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range 10 {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// Prefix converts a netlink address or destination, keeping the host bits.
func Prefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// IPNet converts a prefix (with its host bits) for netlink.
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Dst is a route's destination; netlink leaves a default route's nil.
func Dst(r netlink.Route, family int) netip.Prefix {
	if p, ok := Prefix(r.Dst); ok {
		return p
	}
	if family == netlink.FAMILY_V6 || r.Family == netlink.FAMILY_V6 {
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
}

// Addr converts a netlink IP (gateway, source), unmapping IPv4; ok is false when unset.
func Addr(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}
