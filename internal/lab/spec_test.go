//go:build linux

package lab

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netctl/netctl/internal/nlutil"
)

func TestValidatePrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		errHas string // "" = valid
	}{
		{"netctl-lab", ""},
		{"a", ""},
		{"lab_1.test-2", ""},
		{"9lab", ""},
		{strings.Repeat("x", MaxPrefixLen), ""},
		{"", "empty"},
		{strings.Repeat("x", MaxPrefixLen+1), "at most"},
		{"a/b", "'/'"},
		{"-lab", "start with a letter or digit"},
		{".lab", "start with a letter or digit"},
		{"..", "start with a letter or digit"},
		{"la b", "not allowed"},
		{"lab\x00", "not allowed"},
		{"läb", "not allowed"},
	} {
		err := ValidatePrefix(tc.prefix)
		switch {
		case tc.errHas == "" && err != nil:
			t.Errorf("ValidatePrefix(%q) = %v, want ok", tc.prefix, err)
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("ValidatePrefix(%q) = %v, want error containing %q", tc.prefix, err, tc.errHas)
		}
		if _, serr := NewSpec(tc.prefix, false); (serr == nil) != (err == nil) {
			t.Errorf("NewSpec(%q) error %v disagrees with ValidatePrefix %v", tc.prefix, serr, err)
		}
	}
}

func TestNewSpec(t *testing.T) {
	s, err := NewSpec("p", false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range s.Namespaces {
		names = append(names, n.Name)
	}
	if want := []string{"p-host", "p-container1", "p-container2", "p-outside"}; !slices.Equal(names, want) {
		t.Errorf("namespaces %v, want %v", names, want)
	}
	if s.Bridge.Name != "docker0" || !slices.Equal(s.Bridge.Addrs, []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}) {
		t.Errorf("bridge %+v", s.Bridge)
	}
	for role, want := range map[Role]string{RoleHost: "172.17.0.1", RoleContainer1: "172.17.0.2", RoleContainer2: "172.17.0.3", RoleOutside: "198.51.100.2"} {
		if got := s.Addr(role, false); got != netip.MustParseAddr(want) {
			t.Errorf("Addr(%s) = %s, want %s", role, got, want)
		}
		if got := s.Addr(role, true); got.IsValid() {
			t.Errorf("IPv4-only lab has IPv6 address %s for %s", got, role)
		}
	}
	for role, want := range map[Role]string{RoleHost: "", RoleContainer1: "veth-c1", RoleContainer2: "veth-c2", RoleOutside: "outside0"} {
		if got := s.HostVeth(role); got != want {
			t.Errorf("HostVeth(%s) = %q, want %q", role, got, want)
		}
	}
	for _, v := range s.Veths {
		if v.PeerName != "eth0" {
			t.Errorf("veth %s peer named %q, want eth0", v.HostName, v.PeerName)
		}
		if len(v.HostName) > 15 {
			t.Errorf("veth host name %q longer than IFNAMSIZ-1", v.HostName)
		}
		wantMaster := "docker0"
		if v.Peer == RoleOutside {
			wantMaster = "" // routed, not bridged
		}
		if v.Master != wantMaster {
			t.Errorf("veth %s master %q, want %q", v.HostName, v.Master, wantMaster)
		}
	}
	wantRoutes := []RouteSpec{
		{NS: RoleContainer1, Route: nlutil.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.17.0.1"), Dev: "eth0"}},
		{NS: RoleContainer2, Route: nlutil.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.17.0.1"), Dev: "eth0"}},
		{NS: RoleOutside, Route: nlutil.Route{Dst: netip.MustParsePrefix("172.17.0.0/16"), Gateway: netip.MustParseAddr("198.51.100.1"), Dev: "eth0"}},
	}
	if !slices.Equal(s.Routes, wantRoutes) {
		t.Errorf("routes %+v, want %+v", s.Routes, wantRoutes)
	}
}

func TestNewSpecIPv6(t *testing.T) {
	s, err := NewSpec("p", true)
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[Role]string{RoleHost: "fd17::1", RoleContainer1: "fd17::2", RoleContainer2: "fd17::3", RoleOutside: "fd51::2"} {
		if got := s.Addr(role, true); got != netip.MustParseAddr(want) {
			t.Errorf("Addr6(%s) = %s, want %s", role, got, want)
		}
	}
	if len(s.Routes) != 6 {
		t.Errorf("IPv6 lab has %d routes, want 6 (3 per family)", len(s.Routes))
	}
	for _, r := range s.Routes {
		if r.Dst.Addr().Is6() != r.Gateway.Is6() {
			t.Errorf("route %+v mixes families", r)
		}
	}
}

func TestWithContainer3(t *testing.T) {
	for _, ipv6 := range []bool{false, true} {
		s, err := NewSpec("p", ipv6)
		if err != nil {
			t.Fatal(err)
		}
		c3 := s.WithContainer3()
		if len(s.Namespaces) != 4 || len(s.Veths) != 3 {
			t.Fatalf("WithContainer3 changed the spec it was called on: %+v", s)
		}
		if !c3.Container3 || len(c3.Namespaces) != 5 || c3.Name(RoleContainer3) != "p-container3" {
			t.Fatalf("namespaces %+v, want 5 with p-container3", c3.Namespaces)
		}
		if got := c3.Addr(RoleContainer3, false); got != netip.MustParseAddr("172.17.0.4") {
			t.Errorf("container3's IPv4 address %s, want 172.17.0.4", got)
		}
		if got, want := c3.Addr(RoleContainer3, true).IsValid(), ipv6; got != want {
			t.Errorf("container3 has an IPv6 address: %v, want %v", got, want)
		}
		if c3.HostVeth(RoleContainer3) != "veth-c3" {
			t.Errorf("host veth %q, want veth-c3", c3.HostVeth(RoleContainer3))
		}
		if got, want := len(c3.Routes)-len(s.Routes), 1+b2i(ipv6); got != want {
			t.Errorf("%d routes added, want %d", got, want)
		}
		if again := c3.WithContainer3(); len(again.Namespaces) != 5 {
			t.Errorf("WithContainer3 twice: %d namespaces", len(again.Namespaces))
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
