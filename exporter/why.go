package exporter

import (
	"fmt"
	"net/netip"
	"strings"
)

// mainTable is the kernel's main routing table (RT_TABLE_MAIN).
const mainTable = 254

// RouteInfo is one route, in plain values, as ExplainRoute needs it.
type RouteInfo struct {
	Dst    netip.Prefix // 0.0.0.0/0 or ::/0 for a default route
	Gw     netip.Addr   // zero when on-link
	Dev    string
	Src    netip.Addr // preferred source, if any
	Metric int
	Table  int // 0 or 254: main
}

// String renders the route like `ip route` does (table and metric only when they tell
// something).
func (r RouteInfo) String() string {
	var b strings.Builder
	if r.Dst.Bits() == 0 {
		b.WriteString("default")
	} else {
		b.WriteString(r.Dst.String())
	}
	if r.Gw.IsValid() {
		b.WriteString(" via " + r.Gw.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	if r.Table != 0 && r.Table != mainTable {
		fmt.Fprintf(&b, " table %d", r.Table)
	}
	return b.String()
}

// ExplainRoute says why the container's packets of an asymmetric conversation leave on
// c.OutInterface, given matched, the route the kernel picks for them (to c.Remote from
// c.Local), and table, the routes of the table matched came from. It names the route
// via c.InInterface that matched beat (the longest prefix via it that contains
// c.Remote) and the fix. It is pure; RouteReason feeds it from the kernel.
func ExplainRoute(c Conversation, matched RouteInfo, table []RouteInfo) string {
	var b strings.Builder
	if c.Initiator == InitiatorLocal {
		fmt.Fprintf(&b, "out %s, replies in %s: ", c.OutInterface, c.InInterface)
	} else {
		fmt.Fprintf(&b, "in %s, replies out %s: ", c.InInterface, c.OutInterface)
	}
	switch matched.Dev {
	case c.OutInterface:
	case c.InInterface:
		fmt.Fprintf(&b, "the route from %s to %s is now %s, via %s (fixed since, or another source address answered)",
			c.Local, c.Remote, matched, c.InInterface)
		return b.String()
	default:
		fmt.Fprintf(&b, "the route from %s to %s is now %s", c.Local, c.Remote, matched)
		return b.String()
	}

	// The best route via the in interface that would carry the packets.
	var beaten RouteInfo
	found := false
	for _, r := range table {
		if r.Dev != c.InInterface || !r.Dst.IsValid() || !r.Dst.Contains(c.Remote) {
			continue
		}
		if !found || r.Dst.Bits() > beaten.Dst.Bits() || (r.Dst.Bits() == beaten.Dst.Bits() && r.Metric < beaten.Metric) {
			beaten, found = r, true
		}
	}
	if matched.Table != 0 && matched.Table != mainTable {
		fmt.Fprintf(&b, "a rule sends it to table %d: %s", matched.Table, matched)
	} else {
		b.WriteString(matched.String())
	}
	other := beaten
	other.Dev = "" // "eth0's 172.17.0.0/16"
	switch {
	case !found && matched.Dst.Bits() == 0:
		fmt.Fprintf(&b, " (the default route moved to %s; no route via %s covers %s)", c.OutInterface, c.InInterface, c.Remote)
	case !found:
		fmt.Fprintf(&b, " (no route via %s covers %s)", c.InInterface, c.Remote)
	case beaten.Dst.Bits() < matched.Dst.Bits():
		fmt.Fprintf(&b, " is more specific than %s's %s", c.InInterface, other)
	case beaten.Dst.Bits() == matched.Dst.Bits() && beaten.Metric != matched.Metric:
		fmt.Fprintf(&b, " has a lower metric than %s's %s", c.InInterface, other)
	default:
		fmt.Fprintf(&b, " wins over %s's %s", c.InInterface, other)
	}
	fmt.Fprintf(&b, "; fix: netctl nic add --source-routing, or ip rule add from %s lookup T with %s's routes in table T",
		c.Local, c.InInterface)
	return b.String()
}
