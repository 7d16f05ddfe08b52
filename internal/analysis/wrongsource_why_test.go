//go:build linux

package analysis

import (
	"net/netip"
	"testing"

	"github.com/netctl/netctl/internal/nlutil"
)

func TestExplainWrongSource(t *testing.T) {
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	seed := []nlutil.Route{
		{Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth1"},
		{Dst: pfx("172.17.0.0/24"), Dev: "eth1", Src: addr("172.17.0.99"), Scope: nlutil.ScopeLink},
		{Dst: pfx("172.17.0.0/16"), Dev: "eth0", Src: addr("172.17.0.2"), Scope: nlutil.ScopeLink},
	}
	w := WrongSource{Container: "container1", Proto: 17, Requested: addr("172.17.0.2"), RepliedFrom: addr("172.17.0.99"),
		LocalPort: 7777, Remote: addr("172.17.0.3"), RemotePort: 40000, InInterface: "eth0", OutInterface: "eth1"}
	const fix = "fix: bind the server to 172.17.0.2 (or answer with IP_PKTINFO)"
	for _, tc := range []struct {
		name            string
		w               WrongSource
		chosen, matched nlutil.Route
		table           []nlutil.Route
		want            string
	}{
		{"the seed: eth1's /24 beats eth0's /16", w,
			nlutil.Route{Dst: pfx("172.17.0.3/32"), Dev: "eth1", Src: addr("172.17.0.99")}, seed[1], seed,
			"asked 172.17.0.2, answered from 172.17.0.99: a server bound to 0.0.0.0 takes the source of its route to 172.17.0.3, " +
				"172.17.0.0/24 dev eth1 src 172.17.0.99, which is more specific than eth0's 172.17.0.0/16; both addresses reach 172.17.0.3, " +
				"so routing cannot fix it (whichever route wins, one address answers from the other); " + fix + ", or give eth1 an address outside 172.17.0.0/16"},
		{"two equal prefixes, the metric decides", w,
			nlutil.Route{Dst: pfx("172.17.0.3/32"), Dev: "eth1", Src: addr("172.17.0.99")},
			nlutil.Route{Dst: pfx("172.17.0.0/16"), Dev: "eth1", Src: addr("172.17.0.99")},
			[]nlutil.Route{{Dst: pfx("172.17.0.0/16"), Dev: "eth1", Src: addr("172.17.0.99")}, {Dst: pfx("172.17.0.0/16"), Dev: "eth0", Src: addr("172.17.0.2"), Metric: 100}},
			"asked 172.17.0.2, answered from 172.17.0.99: a server bound to 0.0.0.0 takes the source of its route to 172.17.0.3, " +
				"172.17.0.0/16 dev eth1 src 172.17.0.99, which has a lower metric than eth0's 172.17.0.0/16 metric 100; both addresses reach 172.17.0.3, " +
				"so routing cannot fix it (whichever route wins, one address answers from the other); " + fix + ", or give eth1 an address outside 172.17.0.0/16"},
		{"a remote only eth1 reaches", WrongSource{Requested: addr("172.17.0.2"), RepliedFrom: addr("172.17.0.99"), Remote: addr("198.51.100.2")},
			nlutil.Route{Dst: pfx("198.51.100.2/32"), Gateway: addr("172.17.0.1"), Dev: "eth1", Src: addr("172.17.0.99")}, seed[0], seed,
			"asked 172.17.0.2, answered from 172.17.0.99: a server bound to 0.0.0.0 takes the source of its route to 198.51.100.2, " +
				"default via 172.17.0.1 dev eth1 src 172.17.0.99; " + fix},
		{"routes changed since, or the server picks its source", w,
			nlutil.Route{Dst: pfx("172.17.0.3/32"), Dev: "eth0", Src: addr("172.17.0.2")}, seed[2], seed,
			"asked 172.17.0.2, answered from 172.17.0.99: an unbound reply to 172.17.0.3 now gets source 172.17.0.2 (172.17.0.0/16 dev eth0), " +
				"so the server chose 172.17.0.99 itself (bound to it, or an earlier route); " + fix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExplainWrongSource(tc.w, tc.chosen, tc.matched, tc.table); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
