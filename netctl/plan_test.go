//go:build linux

package netctl

import (
	"encoding/json"
	"flag"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netctl/netctl/internal/nlutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// seedObserved is container1 of the seed before the second NIC: eth0 172.17.0.2/16 on
// docker0, default via 172.17.0.1, ARP sysctls at the kernel defaults.
func seedObserved() Observed {
	return Observed{
		NSInode: 4026532999, NSCookie: 4097,
		Links: []ObservedLink{
			{Name: "lo", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
			{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.17.0.2/16")}, OnBridge: "docker0"},
		},
		DefaultRoutes: []nlutil.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.17.0.1"), Dev: "eth0"}},
		Sysctls: map[string]string{
			"net.ipv4.conf.all.arp_ignore": "0", "net.ipv4.conf.all.arp_announce": "0",
			"net.ipv4.conf.eth0.arp_ignore": "0", "net.ipv4.conf.eth0.arp_announce": "0",
		},
		BridgeExists: true, IsBridge: true, BridgeMTU: 1500,
		HostLinks: []string{"lo", "docker0", "veth-c1", "veth-c2"},
	}
}

func seedSpec() Spec {
	return Spec{Name: "eth1", Bridge: "docker0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("172.17.0.99/24")},
		Gateway:   netip.MustParseAddr("172.17.0.1"), DefaultRoute: true}
}

func TestBuildPlanSeedScript(t *testing.T) {
	p, err := BuildPlan(seedSpec(), seedObserved(), "veth-host")
	if err != nil {
		t.Fatal(err)
	}
	host, ctr := NSView{Name: "h"}, NSView{Name: "c1"}
	want := `ip -n h link add name veth-host mtu 1500 type veth peer name eth1 mtu 1500 netns c1
ip -n h link set veth-host alias netctl:4097:eth1
ip -n c1 addr add 172.17.0.99/24 brd + dev eth1
ip netns exec c1 sysctl -w net.ipv4.conf.all.arp_ignore=1
ip netns exec c1 sysctl -w net.ipv4.conf.all.arp_announce=2
ip netns exec c1 sysctl -w net.ipv4.conf.eth0.arp_ignore=1
ip netns exec c1 sysctl -w net.ipv4.conf.eth0.arp_announce=2
ip netns exec c1 sysctl -w net.ipv4.conf.eth1.arp_ignore=1
ip netns exec c1 sysctl -w net.ipv4.conf.eth1.arp_announce=2
ip -n c1 link set eth1 up
ip -n h link set veth-host master docker0
ip -n h link set veth-host up
ip -n c1 route del default via 172.17.0.1 dev eth0
ip -n c1 route add default via 172.17.0.1 dev eth1
`
	if got := p.Script(host, ctr, false); got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
	// Undoing the veth takes eth1's address, up state, port and sysctls with it.
	wantUndo := `ip -n c1 route del default via 172.17.0.1 dev eth1
ip -n c1 route add default via 172.17.0.1 dev eth0
ip netns exec c1 sysctl -w net.ipv4.conf.eth0.arp_announce=0
ip netns exec c1 sysctl -w net.ipv4.conf.eth0.arp_ignore=0
ip netns exec c1 sysctl -w net.ipv4.conf.all.arp_announce=0
ip netns exec c1 sysctl -w net.ipv4.conf.all.arp_ignore=0
ip -n h link del veth-host
`
	if got := p.Script(host, ctr, true); got != wantUndo {
		t.Errorf("undo script:\n%s\nwant:\n%s", got, wantUndo)
	}
}

func TestBuildPlanNoARPGuardWithoutSharedBridge(t *testing.T) {
	obs := seedObserved()
	obs.Links[1].OnBridge = "br-other"
	p, err := BuildPlan(seedSpec(), obs, "nc1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if s.Kind == StepSysctl {
			t.Fatalf("ARP guard step %v although eth0 is on another bridge", s)
		}
	}
	spec := seedSpec()
	spec.NoARPGuard = true
	p, _ = BuildPlan(spec, seedObserved(), "nc1")
	for _, s := range p.Steps {
		if s.Kind == StepSysctl {
			t.Fatalf("ARP guard step %v despite --no-arp-guard", s)
		}
	}
}

func TestBuildPlanARPGuardSkipsSetValues(t *testing.T) {
	obs := seedObserved()
	obs.Sysctls["net.ipv4.conf.all.arp_ignore"] = "1"
	p, err := BuildPlan(seedSpec(), obs, "nc1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range p.Steps {
		if s.Kind == StepSysctl {
			n++
			if s.Key == "net.ipv4.conf.all.arp_ignore" {
				t.Error("sets all.arp_ignore that is already 1")
			}
		}
	}
	if n != 5 {
		t.Errorf("%d sysctl steps, want 5", n)
	}
}

func TestBuildPlanSourceRouting(t *testing.T) {
	spec := seedSpec()
	spec.SourceRouting = true
	obs := seedObserved()
	obs.UsedTables = []int{100}
	obs.RulePrios = []int{0, 10000, 32766, 32767}
	p, err := BuildPlan(spec, obs, "nc1")
	if err != nil {
		t.Fatal(err)
	}
	script := p.Script(NSView{}, NSView{Name: "c1"}, false)
	for _, want := range []string{
		"ip -n c1 route add 172.17.0.0/16 dev eth0 table 101 scope link src 172.17.0.2\n",
		"ip -n c1 route add default via 172.17.0.1 dev eth0 table 101\n",
		"ip -n c1 rule add from 172.17.0.2/32 lookup 101 priority 10001\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	// Source routing is in place before the default route moves.
	if strings.Index(script, "rule add") > strings.Index(script, "route del default") {
		t.Errorf("rule added after the default route moved:\n%s", script)
	}
}

func TestBuildPlanRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Spec, *Observed, *string)
		want string
	}{
		{"name too long", func(s *Spec, _ *Observed, _ *string) { s.Name = "a-very-long-name0" }, "at most 15"},
		{"name taken", func(s *Spec, _ *Observed, _ *string) { s.Name = "eth0" }, "already exists in the container"},
		{"host name taken", func(_ *Spec, _ *Observed, h *string) { *h = "veth-c1" }, "already exists in the host"},
		{"bridge missing", func(_ *Spec, o *Observed, _ *string) { o.BridgeExists = false }, "not found"},
		{"not a bridge", func(_ *Spec, o *Observed, _ *string) { o.IsBridge = false }, "not a bridge"},
		{"address in use", func(s *Spec, _ *Observed, _ *string) {
			s.Addresses = []netip.Prefix{netip.MustParsePrefix("172.17.0.2/24")}
		}, "already on eth0"},
		{"gateway off-link", func(s *Spec, _ *Observed, _ *string) { s.Gateway = netip.MustParseAddr("10.0.0.1") }, "outside every subnet"},
		{"gateway the network address", func(s *Spec, _ *Observed, _ *string) { s.Gateway = netip.MustParseAddr("172.17.0.0") }, "network or broadcast address of 172.17.0.0/24"},
		{"gateway the broadcast address", func(s *Spec, _ *Observed, _ *string) { s.Gateway = netip.MustParseAddr("172.17.0.255") }, "network or broadcast"},
		{"gateway multicast", func(s *Spec, _ *Observed, _ *string) { s.Gateway = netip.MustParseAddr("224.0.0.1") }, "not a unicast"},
		{"address built past ParseAddresses", func(s *Spec, _ *Observed, _ *string) {
			s.Addresses = []netip.Prefix{netip.MustParsePrefix("172.17.0.99/0")}
		}, "prefix length /0"},
		{"all-zero mac", func(s *Spec, _ *Observed, _ *string) { s.MAC = make([]byte, 6) }, "all-zero"},
		{"mtu too small for IPv6", func(s *Spec, _ *Observed, _ *string) {
			s.MTU, s.Gateway, s.DefaultRoute = 1000, netip.Addr{}, false
			s.Addresses = append(s.Addresses, netip.MustParsePrefix("fd17::99/64"))
		}, "IPv6 needs at least 1280"},
		{"name an option", func(s *Spec, _ *Observed, _ *string) { s.Name = "-eth1" }, "must not start with '-'"},
		{"bridge with ;", func(s *Spec, _ *Observed, _ *string) { s.Bridge = "br;id" }, "contain ';'"},
		{"default route without gateway", func(s *Spec, _ *Observed, _ *string) { s.Gateway = netip.Addr{} }, "needs --gateway"},
		{"no address", func(s *Spec, _ *Observed, _ *string) { s.Addresses = nil }, "missing --address"},
		{"source routing alone", func(s *Spec, o *Observed, _ *string) {
			s.SourceRouting = true
			o.Links = o.Links[:1]
		}, "no other interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, obs, host := seedSpec(), seedObserved(), "nc1"
			tc.mod(&spec, &obs, &host)
			_, err := BuildPlan(spec, obs, host)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseAddresses(t *testing.T) {
	for bad, why := range map[string]string{
		"172.17.0.99/33": "out of range 8-32", "172.17.0.99": "want an address with a prefix length",
		"not-an-ip/24": "want an address", "172.17.0.0/24": "network or broadcast", "172.17.0.255/24": "network or broadcast",
		"0.0.0.0/0": "not a unicast", "224.0.0.1/4": "not a unicast", "::ffff:1.2.3.4/120": "as IPv4",
		"255.255.255.255/32": "limited broadcast", "0.1.2.3/8": "0.0.0.0/8", "240.0.0.1/24": "240.0.0.0/4",
		"172.17.0.99/0": "all of the address space", "172.17.0.99/7": "want /8 to /32", "fd17::99/8": "want /16 to /128",
	} {
		_, err := ParseAddresses([]string{bad})
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseAddresses(%q): %v, want an error saying %q", bad, err, why)
		}
	}
	if _, err := ParseAddresses([]string{"172.17.0.99/24", "172.17.0.99/16"}); err == nil {
		t.Error("the same address twice accepted")
	}
	got, err := ParseAddresses([]string{"172.17.0.99/24", "fd17::99/64", "10.0.0.1/32"})
	if err != nil || len(got) != 3 || got[0].String() != "172.17.0.99/24" {
		t.Errorf("ParseAddresses = %v, %v", got, err)
	}
}

func TestHostNameFor(t *testing.T) {
	a, b := HostNameFor(4026532999, "eth1"), HostNameFor(4026532999, "eth2")
	if a == b || len(a) > MaxIfNameLen || ValidIfName(a) != nil {
		t.Errorf("HostNameFor: %q %q", a, b)
	}
	if a != HostNameFor(4026532999, "eth1") {
		t.Error("HostNameFor is not stable")
	}
}

func TestUndoStepsWithoutVeth(t *testing.T) {
	// A rollback before the veth step existed undoes everything it is given.
	steps := []Step{{Kind: StepAddr, Link: "eth1"}, {Kind: StepLinkUp, Link: "eth1"}}
	if got := UndoSteps(steps); len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Errorf("UndoSteps = %v, want [1 0]", got)
	}
}

// A plan is the NIC's record: its JSON (every step kind, routes and rules included) must
// read back the same across versions, so it is compared byte for byte with a golden file.
func TestPlanJSONGolden(t *testing.T) {
	spec := seedSpec()
	spec.SourceRouting = true
	spec.Addresses = append(spec.Addresses, netip.MustParsePrefix("fd17::99/64"))
	spec.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	obs := seedObserved()
	obs.Links[1].Addrs = append(obs.Links[1].Addrs, netip.MustParsePrefix("fd17::2/64"))
	obs.DefaultRoutes = append(obs.DefaultRoutes, nlutil.Route{Dst: netip.MustParsePrefix("::/0"),
		Gateway: netip.MustParseAddr("fd17::1"), Dev: "eth0", Metric: 1024, Protocol: 3})
	p, err := BuildPlan(spec, obs, "veth-host")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := compareGolden(t, "testdata/plan.json", got)
	script := p.Script(NSView{Name: "h"}, NSView{Path: "/proc/42/ns/net"}, false) + "# undo\n" +
		p.Script(NSView{Name: "h"}, NSView{Path: "/proc/42/ns/net"}, true)
	compareGolden(t, "testdata/plan.script", []byte(script))
	var back Plan
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.MarshalIndent(back, "", "  ")
	if string(again) != string(want) {
		t.Errorf("plan JSON does not survive a round trip:\n%s", again)
	}
}

// compareGolden fails the test unless got is the content of the golden file (rewritten
// first with -update), and returns the file's content.
func compareGolden(t *testing.T, golden string, got []byte) []byte {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("differs from %s:\n%s", golden, got)
	}
	return want
}
