//go:build linux

package nlutil

import (
	"net/netip"
	"strconv"
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
func (r Route) String() string { return strings.Join(r.Args(), " ") }

// Args is String as the separate arguments of an `ip route` command, so that a caller
// can quote each for a shell (a device name may hold any character but '/', ':' and
// white space).
func (r Route) Args() []string {
	var a []string
	if r.IsDefault() {
		a = append(a, "default")
	} else {
		a = append(a, r.Dst.String())
	}
	if r.Gateway.IsValid() {
		a = append(a, "via", r.Gateway.String())
	}
	if r.Dev != "" {
		a = append(a, "dev", r.Dev)
	}
	if !r.InMain() {
		a = append(a, "table", strconv.Itoa(r.Table))
	}
	if r.Scope == ScopeLink && !r.Gateway.IsValid() && !r.IsDefault() {
		a = append(a, "scope", "link")
	}
	if r.Src.IsValid() {
		a = append(a, "src", r.Src.String())
	}
	if r.Metric != 0 {
		a = append(a, "metric", strconv.Itoa(r.Metric))
	}
	return a
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
