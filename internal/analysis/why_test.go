//go:build linux

package analysis

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netctl/netctl/internal/nlutil"
)

func TestExplainRoute(t *testing.T) {
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	// container1 after the seed's steps.
	seed := []nlutil.Route{
		{Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth1"},
		{Dst: pfx("172.17.0.0/24"), Dev: "eth1", Src: addr("172.17.0.99")},
		{Dst: pfx("172.17.0.0/16"), Dev: "eth0", Src: addr("172.17.0.2")},
	}
	conv := func(remote, initiator string) Conversation {
		return Conversation{Container: "container1", Proto: 1, Local: addr("172.17.0.2"), Remote: addr(remote),
			Initiator: initiator, InInterface: "eth0", OutInterface: "eth1"}
	}
	const fix = "; fix: netctl nic add --source-routing, or ip rule add from 172.17.0.2 lookup T with eth0's routes in table T"
	for _, tc := range []struct {
		name    string
		c       Conversation
		matched nlutil.Route
		table   []nlutil.Route
		want    string
	}{
		{"the seed's /24 beats eth0's /16", conv("172.17.0.3", InitiatorRemote), seed[1], seed,
			"in eth0, replies out eth1: 172.17.0.0/24 dev eth1 is more specific than eth0's 172.17.0.0/16" + fix},
		{"the default route moved", conv("198.51.100.2", InitiatorRemote), seed[0], seed,
			"in eth0, replies out eth1: default via 172.17.0.1 dev eth1 (the default route moved to eth1; no route via eth0 covers 198.51.100.2)" + fix},
		{"the container connected out", conv("198.51.100.2", InitiatorLocal), seed[0], seed,
			"out eth1, replies in eth0: default via 172.17.0.1 dev eth1 (the default route moved to eth1; no route via eth0 covers 198.51.100.2)" + fix},
		{"two defaults, the metric decides", conv("198.51.100.2", InitiatorRemote), nlutil.Route{Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth1"},
			[]nlutil.Route{{Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth1"}, {Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth0", Metric: 100}},
			"in eth0, replies out eth1: default via 172.17.0.1 dev eth1 has a lower metric than eth0's default via 172.17.0.1 metric 100" + fix},
		{"a subnet route outside eth0's", conv("10.9.0.5", InitiatorRemote), nlutil.Route{Dst: pfx("10.9.0.0/16"), Gateway: addr("172.17.0.254"), Dev: "eth1"}, seed,
			"in eth0, replies out eth1: 10.9.0.0/16 via 172.17.0.254 dev eth1 (no route via eth0 covers 10.9.0.5)" + fix},
		{"a rule picked another table", conv("172.17.0.3", InitiatorRemote), nlutil.Route{Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth1", Table: 100},
			[]nlutil.Route{{Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth1", Table: 100}},
			"in eth0, replies out eth1: a rule sends it to table 100: default via 172.17.0.1 dev eth1 table 100 (the default route moved to eth1; no route via eth0 covers 172.17.0.3)" + fix},
		{"a rule's table, with metric, source and scope", conv("172.17.0.3", InitiatorRemote),
			nlutil.Route{Dst: pfx("172.17.0.0/24"), Dev: "eth1", Table: 100, Metric: 50, Src: addr("172.17.0.99"), Scope: nlutil.ScopeLink},
			[]nlutil.Route{{Dst: pfx("172.17.0.0/16"), Dev: "eth0", Table: 100, Metric: 10, Src: addr("172.17.0.2"), Scope: nlutil.ScopeLink}},
			"in eth0, replies out eth1: a rule sends it to table 100: 172.17.0.0/24 dev eth1 table 100 metric 50 is more specific than eth0's 172.17.0.0/16 table 100 metric 10" + fix},
		{"fixed since", conv("172.17.0.3", InitiatorRemote), nlutil.Route{Dst: pfx("172.17.0.0/16"), Dev: "eth0", Table: 100}, nil,
			"in eth0, replies out eth1: the route from 172.17.0.2 to 172.17.0.3 is now 172.17.0.0/16 dev eth0 table 100, via eth0 (fixed since, or another source address answered)"},
		{"a third interface now", conv("172.17.0.3", InitiatorRemote), nlutil.Route{Dst: pfx("172.17.0.0/28"), Dev: "eth2"}, nil,
			"in eth0, replies out eth1: the route from 172.17.0.2 to 172.17.0.3 is now 172.17.0.0/28 dev eth2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExplainRoute(tc.c, tc.matched, tc.table); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// Without a namespace to look in, the reason still says something useful.
func TestRouteReasonUnknown(t *testing.T) {
	c := Conversation{Container: "c", Local: netip.MustParseAddr("172.17.0.2"), Remote: netip.MustParseAddr("172.17.0.3"),
		InInterface: "eth0", OutInterface: "eth1"}
	for _, path := range []string{"", "/nonexistent/netctl-test/ns"} {
		c.NetnsPath = path
		got := RouteReason(c)
		if !strings.HasPrefix(got, "route unknown: ") || len(got) < len("route unknown: ")+5 {
			t.Errorf("NetnsPath %q: %q", path, got)
		}
		convs := []Conversation{c, c}
		FillReasons(convs)
		for _, cv := range convs {
			if cv.Reason != got {
				t.Errorf("FillReasons: %q, RouteReason: %q", cv.Reason, got)
			}
		}
	}
}

// TestMatchedEntry: the entry behind a lookup is the fibmatch one (the lookup's device,
// gateway and table win), else the longest prefix via the lookup's device.
func TestMatchedEntry(t *testing.T) {
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	remote := addr("172.17.0.3")
	chosen := nlutil.Route{Dst: pfx("172.17.0.3/32"), Dev: "eth1", Src: addr("172.17.0.2")}
	table := []nlutil.Route{
		{Dst: pfx("0.0.0.0/0"), Gateway: addr("172.17.0.1"), Dev: "eth1"},
		{Dst: pfx("172.17.0.0/24"), Dev: "eth1", Src: addr("172.17.0.99"), Scope: nlutil.ScopeLink, Metric: 5},
		{Dst: pfx("172.17.0.0/25"), Dev: "eth0"},
	}
	multipath := nlutil.Route{Dst: pfx("0.0.0.0/0"), Metric: 7}
	for _, tc := range []struct {
		name   string
		chosen nlutil.Route
		fib    nlutil.Route
		fibOK  bool
		want   string
	}{
		{"fibmatch", chosen, table[1], true, "172.17.0.0/24 dev eth1 scope link src 172.17.0.99 metric 5"},
		{"fibmatch of a multipath route: the lookup's hop", nlutil.Route{Dst: pfx("198.51.100.2/32"), Gateway: addr("172.17.0.1"), Dev: "eth1", Table: 100},
			multipath, true, "default via 172.17.0.1 dev eth1 table 100 metric 7"},
		{"no fibmatch: the longest prefix via the device", chosen, nlutil.Route{}, false, "172.17.0.0/24 dev eth1 scope link src 172.17.0.99 metric 5"},
		{"no fibmatch, no entry: the lookup", nlutil.Route{Dst: pfx("172.17.0.3/32"), Dev: "eth2"}, nlutil.Route{}, false, "172.17.0.3/32 dev eth2"},
	} {
		if got := matchedEntry(tc.chosen, tc.fib, tc.fibOK, table, remote).String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
