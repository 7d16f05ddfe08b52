//go:build linux

package analysis

import (
	"fmt"
	"strings"

	"github.com/netctl/netctl/internal/nlutil"
)

// ExplainWrongSource says why the container answers w from w.RepliedFrom, given chosen,
// what the kernel answers to `ip route get REMOTE` with no source (as for a socket bound
// to 0.0.0.0: its device and the source it picks), matched, the table entry behind it,
// and table, that entry's table. When the source is the route's pick, it names the
// route of the requested address that lost (the longest prefix via another device, or
// with w.Requested as its source, that contains the remote), says that routing cannot
// fix it when both addresses reach the remote, and gives the fix: bind the server to
// the requested address (or answer with IP_PKTINFO), or give the second interface an
// address outside the other's subnet. It is pure; WrongSourceReason feeds it.
func ExplainWrongSource(w WrongSource, chosen, matched nlutil.Route, table []nlutil.Route) string {
	var b strings.Builder
	fmt.Fprintf(&b, "asked %s, answered from %s: ", w.Requested, w.RepliedFrom)
	fix := fmt.Sprintf("bind the server to %s (or answer with IP_PKTINFO)", w.Requested)
	if chosen.Src != w.RepliedFrom {
		fmt.Fprintf(&b, "an unbound reply to %s now gets source %s (%s), so the server chose %s itself (bound to it, or an earlier route); fix: %s",
			w.Remote, orNone(chosen), bare(matched), w.RepliedFrom, fix)
		return b.String()
	}
	fmt.Fprintf(&b, "a server bound to 0.0.0.0 takes the source of its route to %s, %s src %s", w.Remote, bare(matched), chosen.Src)

	// The requested address's own route to the remote, the one that lost.
	var lost nlutil.Route
	found := false
	for _, r := range table {
		if !r.Dst.IsValid() || !r.Dst.Contains(w.Remote) || r.Dev == chosen.Dev && r.Src != w.Requested {
			continue
		}
		if r.Src.IsValid() && r.Src != w.Requested {
			continue
		}
		if !found || r.Dst.Bits() > lost.Dst.Bits() || r.Dst.Bits() == lost.Dst.Bits() && r.Metric < lost.Metric {
			lost, found = r, true
		}
	}
	if !found {
		fmt.Fprintf(&b, "; fix: %s", fix)
		return b.String()
	}
	fmt.Fprintf(&b, ", which %s", beats(matched, lost, lost.Dev))
	fmt.Fprintf(&b, "; both addresses reach %s, so routing cannot fix it (whichever route wins, one address answers from the other); fix: %s, or give %s an address outside %s",
		w.Remote, fix, chosen.Dev, lost.Dst.Masked())
	return b.String()
}

// orNone is a route's source, or "none" when the lookup named none.
func orNone(r nlutil.Route) string {
	if !r.Src.IsValid() {
		return "none"
	}
	return r.Src.String()
}
