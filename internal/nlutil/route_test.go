//go:build linux

package nlutil

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestRouteString(t *testing.T) {
	t.Parallel()
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	for _, tc := range []struct {
		r    Route
		want string
	}{
		{Route{Dst: p("0.0.0.0/0"), Gateway: a("172.17.0.1"), Dev: "eth1"}, "default via 172.17.0.1 dev eth1"},
		{Route{Dst: p("172.17.0.0/24"), Dev: "eth1", Scope: ScopeLink, Src: a("172.17.0.99")}, "172.17.0.0/24 dev eth1 scope link src 172.17.0.99"},
		{Route{Dst: p("172.17.0.0/16"), Dev: "eth0", Table: 100, Metric: 5}, "172.17.0.0/16 dev eth0 table 100 metric 5"},
		{Route{Dst: p("::/0"), Gateway: a("fd17::1"), Dev: "eth0", Table: MainTable}, "default via fd17::1 dev eth0"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestRouteOf(t *testing.T) {
	t.Parallel()
	names := map[int]string{2: "eth0", 3: "eth1"}
	got := RouteOf(netlink.Route{LinkIndex: 3, Table: MainTable, Gw: net.ParseIP("172.17.0.1"), Family: netlink.FAMILY_V4}, names, netlink.FAMILY_V4)
	want := Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.17.0.1"), Dev: "eth1"}
	if got != want {
		t.Fatalf("RouteOf default = %+v, want %+v", got, want)
	}
	mp := RouteOf(netlink.Route{Table: 7, MultiPath: []*netlink.NexthopInfo{{LinkIndex: 2, Gw: net.ParseIP("fd17::1")}}}, names, netlink.FAMILY_V6)
	if mp.Dev != "eth0" || mp.Gateway != netip.MustParseAddr("fd17::1") || mp.Table != 7 || mp.Dst != netip.MustParsePrefix("::/0") {
		t.Fatalf("RouteOf multipath = %+v", mp)
	}
}
