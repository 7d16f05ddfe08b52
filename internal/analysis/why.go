//go:build linux

package analysis

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netctl/netctl/internal/nlutil"
)

// ExplainRoute says why the container's packets of an asymmetric conversation leave on
// c.OutInterface, given matched, the route the kernel picks for them (to c.Remote from
// c.Local), and table, the routes of the table matched came from. It names the route
// via c.InInterface that matched beat (the longest prefix via it that contains
// c.Remote) and the fix. Routes read as `ip route` prints them, without the preferred
// source, scope and protocol. It is pure; RouteReason feeds it from the kernel.
func ExplainRoute(c Conversation, matched nlutil.Route, table []nlutil.Route) string {
	matched = bare(matched)
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
	var beaten nlutil.Route
	found := false
	for _, r := range table {
		if r.Dev != c.InInterface || !r.Dst.IsValid() || !r.Dst.Contains(c.Remote) {
			continue
		}
		if !found || r.Dst.Bits() > beaten.Dst.Bits() || (r.Dst.Bits() == beaten.Dst.Bits() && r.Metric < beaten.Metric) {
			beaten, found = r, true
		}
	}
	if !matched.InMain() {
		fmt.Fprintf(&b, "a rule sends it to table %d: %s", matched.Table, matched)
	} else {
		b.WriteString(matched.String())
	}
	switch {
	case !found && matched.IsDefault():
		fmt.Fprintf(&b, " (the default route moved to %s; no route via %s covers %s)", c.OutInterface, c.InInterface, c.Remote)
	case !found:
		fmt.Fprintf(&b, " (no route via %s covers %s)", c.InInterface, c.Remote)
	default:
		b.WriteString(" " + beats(matched, beaten, c.InInterface))
	}
	fmt.Fprintf(&b, "; fix: netctl nic add --source-routing, or ip rule add from %s lookup T with %s's routes in table T",
		c.Local, c.InInterface)
	return b.String()
}

// beats says how matched won over beaten, the best route via dev: "is more specific than
// eth0's 172.17.0.0/16", "has a lower metric than …" or "wins over …".
func beats(matched, beaten nlutil.Route, dev string) string {
	other := bare(beaten)
	other.Dev = "" // "eth0's 172.17.0.0/16"
	switch {
	case beaten.Dst.Bits() < matched.Dst.Bits():
		return fmt.Sprintf("is more specific than %s's %s", dev, other)
	case beaten.Dst.Bits() == matched.Dst.Bits() && beaten.Metric != matched.Metric:
		return fmt.Sprintf("has a lower metric than %s's %s", dev, other)
	}
	return fmt.Sprintf("wins over %s's %s", dev, other)
}

// bare is a route as the explanation names it: what decides where packets go (prefix,
// gateway, device, table, metric), without the preferred source, scope and protocol.
func bare(r nlutil.Route) nlutil.Route {
	r.Src, r.Scope, r.Protocol = netip.Addr{}, 0, 0
	return r
}

// matchedEntry returns the table entry behind a route lookup whose answer is chosen: fib,
// the entry `ip route get … fibmatch` names, when fibOK; else (a kernel without
// fibmatch) the longest prefix of table via chosen's device that contains remote; else
// chosen itself. The device and gateway are chosen's when it has them (a multipath
// entry's hop), the table is chosen's. It is pure.
func matchedEntry(chosen, fib nlutil.Route, fibOK bool, table []nlutil.Route, remote netip.Addr) nlutil.Route {
	entry, found := fib, fibOK
	if !found {
		best := -1
		for _, t := range table {
			if t.Dev == chosen.Dev && t.Dst.IsValid() && t.Dst.Contains(remote) && t.Dst.Bits() > best {
				entry, best, found = t, t.Dst.Bits(), true
			}
		}
	}
	if !found {
		return chosen
	}
	if chosen.Dev != "" {
		entry.Dev = chosen.Dev
	}
	if chosen.Gateway.IsValid() {
		entry.Gateway = chosen.Gateway
	}
	entry.Table = chosen.Table
	return entry
}
