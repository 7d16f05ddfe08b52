//go:build linux

package nlutil

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// Kernel constants of routes that netctl reads or writes.
const (
	MainTable = 254 // RT_TABLE_MAIN
	ScopeLink = 253 // RT_SCOPE_LINK
)

// Route is a route in plain values: what a NIC plan adds, what the lab reports, what the
// route "why" reasons about. It is the one route type of netctl; JSON names are stable
// (NIC records store them).
type Route struct {
	Dst      netip.Prefix `json:"dst"` // 0.0.0.0/0 or ::/0 for a default route
	Gateway  netip.Addr   `json:"gateway,omitzero"`
	Dev      string       `json:"dev"`
	Src      netip.Addr   `json:"src,omitzero"`    // preferred source, if any
	Table    int          `json:"table,omitempty"` // 0 or 254: main
	Metric   int          `json:"metric,omitempty"`
	Protocol int          `json:"protocol,omitempty"`
	Scope    int          `json:"scope,omitempty"` // 253 = link
}

// IsDefault reports whether r is a default route.
func (r Route) IsDefault() bool { return r.Dst.Bits() == 0 }

// InMain reports whether r is in the main table.
func (r Route) InMain() bool { return r.Table == 0 || r.Table == MainTable }

// String renders r as `ip route` prints it: the table only when not main, the scope
// only when it tells something.
func (r Route) String() string {
	var b strings.Builder
	if r.IsDefault() {
		b.WriteString("default")
	} else {
		b.WriteString(r.Dst.String())
	}
	if r.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Gateway)
	}
	if r.Dev != "" {
		fmt.Fprintf(&b, " dev %s", r.Dev)
	}
	if !r.InMain() {
		fmt.Fprintf(&b, " table %d", r.Table)
	}
	if r.Scope == ScopeLink && !r.Gateway.IsValid() && !r.IsDefault() {
		b.WriteString(" scope link")
	}
	if r.Src.IsValid() {
		fmt.Fprintf(&b, " src %s", r.Src)
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	return b.String()
}

// RouteOf converts a netlink route, naming its device from names (ifindex → name). The
// main table is stored as 0. A multipath route takes its first hop's device and gateway.
// family is used for a default route when the route does not say its own.
func RouteOf(rt netlink.Route, names map[int]string, family int) Route {
	r := Route{Dev: names[rt.LinkIndex], Table: rt.Table, Metric: rt.Priority, Protocol: int(rt.Protocol), Scope: int(rt.Scope)}
	r.Dst = Dst(rt, family)
	r.Gateway, _ = Addr(rt.Gw)
	r.Src, _ = Addr(rt.Src)
	if rt.LinkIndex == 0 && len(rt.MultiPath) > 0 {
		r.Dev = names[rt.MultiPath[0].LinkIndex]
		r.Gateway, _ = Addr(rt.MultiPath[0].Gw)
	}
	if r.Table == MainTable {
		r.Table = 0
	}
	return r
}
