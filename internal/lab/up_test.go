//go:build linux

package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nsutil"
)

// The tests of a whole lab, from outside the package: they bring it up with labtest.New,
// as the other packages' tests do.

func findIface(ns lab.NamespaceStatus, name string) *lab.InterfaceStatus {
	for i := range ns.Interfaces {
		if ns.Interfaces[i].Name == name {
			return &ns.Interfaces[i]
		}
	}
	return nil
}

func hasRoute(ns lab.NamespaceStatus, dst, via, dev string) bool {
	for _, r := range ns.Routes {
		gw := ""
		if r.Gateway.IsValid() {
			gw = r.Gateway.String()
		}
		if r.Dst == netip.MustParsePrefix(dst) && gw == via && r.Dev == dev {
			return true
		}
	}
	return false
}

func TestUpBuildsTopology(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := labtest.New(t, lab.Options{Dir: dir})
	prefix := l.Spec.Prefix
	top, err := lab.Status(dir, prefix)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(top.Namespaces) != 4 {
		t.Fatalf("%d namespaces, want 4", len(top.Namespaces))
	}
	byRole := map[lab.Role]lab.NamespaceStatus{}
	for _, ns := range top.Namespaces {
		byRole[ns.Role] = ns
		if ns.Name != prefix+"-"+string(ns.Role) {
			t.Errorf("namespace %q for role %s", ns.Name, ns.Role)
		}
		if !ns.IPv6Disabled {
			t.Errorf("%s: IPv6 not disabled", ns.Name)
		}
		if ns.Forwarding != (ns.Role == lab.RoleHost) {
			t.Errorf("%s: ipv4 forwarding=%v", ns.Name, ns.Forwarding)
		}
		for _, i := range ns.Interfaces {
			if !i.AdminUp {
				t.Errorf("%s: %s is down", ns.Name, i.Name)
			}
			for _, a := range i.Addresses {
				if a.Addr().Is6() {
					t.Errorf("%s: %s has IPv6 address %s in an IPv4-only lab", ns.Name, i.Name, a)
				}
			}
		}
	}
	// Sysctls read straight from the kernel, not through lab.Status.
	for _, n := range l.Namespaces() {
		for key, want := range map[string]string{"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"} {
			if got, err := nsutil.ReadSysctl(n.NS, key); err != nil || got != want {
				t.Errorf("%s: %s=%q (%v), want %s", n.Name, key, got, err, want)
			}
		}
	}
	if got, _ := nsutil.ReadSysctl(l.Host.NS, "net/ipv4/ip_forward"); got != "1" {
		t.Errorf("host ip_forward=%q, want 1", got)
	}

	host := byRole[lab.RoleHost]
	br := findIface(host, "docker0")
	if br == nil || br.Type != "bridge" || !slices.Equal(br.Addresses, []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}) {
		t.Errorf("docker0 = %+v", br)
	}
	for _, port := range []string{"veth-c1", "veth-c2"} {
		if p := findIface(host, port); p == nil || p.Type != "veth" || p.Master != "docker0" || p.State != "up" {
			t.Errorf("%s = %+v, want an up veth port of docker0", port, p)
		}
	}
	if want := []lab.BridgeStatus{{Name: "docker0", Ports: []string{"veth-c1", "veth-c2"}}}; !reflect.DeepEqual(host.Bridges, want) {
		t.Errorf("bridges %+v, want %+v", host.Bridges, want)
	}
	if o := findIface(host, "outside0"); o == nil || o.Master != "" || !slices.Equal(o.Addresses, []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}) {
		t.Errorf("outside0 = %+v", o)
	}
	for role, addr := range map[lab.Role]string{lab.RoleContainer1: "172.17.0.2/16", lab.RoleContainer2: "172.17.0.3/16", lab.RoleOutside: "198.51.100.2/24"} {
		ns := byRole[role]
		e := findIface(ns, "eth0")
		if e == nil || e.Type != "veth" || e.State != "up" || !slices.Equal(e.Addresses, []netip.Prefix{netip.MustParsePrefix(addr)}) {
			t.Errorf("%s eth0 = %+v, want up veth with %s", role, e, addr)
		}
		if len(ns.Interfaces) != 2 {
			t.Errorf("%s has %d interfaces, want lo and eth0", role, len(ns.Interfaces))
		}
	}
	for _, role := range []lab.Role{lab.RoleContainer1, lab.RoleContainer2} {
		if !hasRoute(byRole[role], "0.0.0.0/0", "172.17.0.1", "eth0") {
			t.Errorf("%s lacks default via 172.17.0.1: %+v", role, byRole[role].Routes)
		}
	}
	if !hasRoute(byRole[lab.RoleOutside], "172.17.0.0/16", "198.51.100.1", "eth0") {
		t.Errorf("outside lacks 172.17.0.0/16 via 198.51.100.1: %+v", byRole[lab.RoleOutside].Routes)
	}

	// The container end of each veth is a peer of the host end (born in the container).
	c1eth0, err := l.Container1.Netlink.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	hv, err := l.Host.Netlink.LinkByName(l.Container1.HostVeth)
	if err != nil {
		t.Fatal(err)
	}
	if c1eth0.Attrs().ParentIndex != hv.Attrs().Index {
		t.Errorf("container1 eth0 peer index %d, want veth-c1's %d", c1eth0.Attrs().ParentIndex, hv.Attrs().Index)
	}
	if l.Container1.Addr4 != netip.MustParseAddr("172.17.0.2") || l.Container1.Iface != "eth0" || l.Host.Iface != "docker0" {
		t.Errorf("lab handle fields: %+v %+v", l.Container1, l.Host)
	}
}

func TestUpIPv6(t *testing.T) {
	t.Parallel()
	l := labtest.New(t, lab.Options{IPv6: true})
	top, err := l.Topology()
	if err != nil {
		t.Fatal(err)
	}
	want := map[lab.Role]string{lab.RoleHost: "fd17::1/64", lab.RoleContainer1: "fd17::2/64", lab.RoleContainer2: "fd17::3/64", lab.RoleOutside: "fd51::2/64"}
	for _, ns := range top.Namespaces {
		if ns.IPv6Disabled {
			t.Errorf("%s: IPv6 disabled in an IPv6 lab", ns.Name)
		}
		iface := "eth0"
		if ns.Role == lab.RoleHost {
			iface = "docker0"
		}
		i := findIface(ns, iface)
		if i == nil || !slices.Contains(i.Addresses, netip.MustParsePrefix(want[ns.Role])) {
			t.Errorf("%s %s = %+v, want %s", ns.Name, iface, i, want[ns.Role])
		}
		if ns.Role == lab.RoleContainer1 && !hasRoute(ns, "::/0", "fd17::1", "eth0") {
			t.Errorf("container1 lacks IPv6 default route: %+v", ns.Routes)
		}
		if ns.Role == lab.RoleOutside && !hasRoute(ns, "fd17::/64", "fd51::1", "eth0") {
			t.Errorf("outside lacks fd17::/64 via fd51::1: %+v", ns.Routes)
		}
	}
	r, err := l.Traffic(context.Background(), lab.TrafficOptions{Count: 3, TCPBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Flows) != 12 {
		t.Errorf("%d flows, want 12", len(r.Flows))
	}
	if err := r.Err(); err != nil {
		var b strings.Builder
		_ = lab.WriteTraffic(&b, r)
		t.Errorf("%v\n%s", err, b.String())
	}
}

func TestTrafficExactCounts(t *testing.T) {
	t.Parallel()
	l := labtest.New(t, lab.Options{})
	opts := lab.TrafficOptions{Count: 7, Size: 100, TCPBytes: 300_000}
	r, err := l.Traffic(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	_ = lab.WriteTraffic(&table, r)
	t.Logf("\n%s", table.String())
	if len(r.Flows) != 6 {
		t.Fatalf("%d flows, want 6", len(r.Flows))
	}
	seen := map[string]bool{}
	for _, f := range r.Flows {
		name := fmt.Sprintf("%s->%s %s", f.Src, f.Dst, f.Proto)
		seen[name] = true
		if !f.OK || len(f.Errors) > 0 || f.Loss != 0 {
			t.Errorf("%s failed: %+v", name, f)
		}
		if f.DstAddr != l.Spec.Addr(f.Dst, false) || f.SrcAddr != l.Spec.Addr(f.Src, false) {
			t.Errorf("%s: %s -> %s, want the lab's own addresses", name, f.SrcAddr, f.DstAddr)
		}
		switch f.Proto {
		case "icmp":
			if f.PacketsSent != 7 || f.PacketsReceived != 7 || f.BytesSent != 7*108 || f.BytesReceived != 7*108 {
				t.Errorf("%s: sent %d/%d B, received %d/%d B; want exactly 7 packets of 108 B both ways",
					name, f.PacketsSent, f.BytesSent, f.PacketsReceived, f.BytesReceived)
			}
			if f.ICMPID == 0 {
				t.Errorf("%s: no ICMP id reported", name)
			}
		case "tcp":
			if f.BytesSent != 300_000 || f.PeerBytes != 300_000 || f.BytesReceived != 300_000 {
				t.Errorf("%s: sent %d, peer got %d, echoed %d; want 300000 each", name, f.BytesSent, f.PeerBytes, f.BytesReceived)
			}
			if f.SrcPort == 0 || f.DstPort == 0 {
				t.Errorf("%s: ports %d -> %d", name, f.SrcPort, f.DstPort)
			}
		default:
			t.Errorf("unexpected proto %q", f.Proto)
		}
	}
	for _, want := range []string{"container2->container1 icmp", "container2->container1 tcp", "outside->container1 icmp",
		"outside->container1 tcp", "container1->outside icmp", "container1->outside tcp"} {
		if !seen[want] {
			t.Errorf("flow %s missing", want)
		}
	}
	// The outside flows really crossed the host: its outside0 counted them.
	ho, err := l.Host.Netlink.LinkByName("outside0")
	if err != nil {
		t.Fatal(err)
	}
	if st := ho.Attrs().Statistics; st == nil || st.RxPackets < 14 || st.TxPackets < 14 {
		t.Errorf("outside0 statistics %+v: want at least the 14 echo requests and 14 replies", st)
	}
}

func TestUpTwiceFailsAndKeepsFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := labtest.New(t, lab.Options{Dir: dir})
	before, err := l.Topology()
	if err != nil {
		t.Fatal(err)
	}
	_, err = lab.Up(context.Background(), lab.Options{Prefix: l.Spec.Prefix, Dir: dir})
	want := fmt.Sprintf("lab %s already exists; run 'netctl lab down --prefix %s' first", l.Spec.Prefix, l.Spec.Prefix)
	if err == nil || err.Error() != want {
		t.Fatalf("second up: %v, want %q", err, want)
	}
	after, err := lab.Status(dir, l.Spec.Prefix)
	if err != nil {
		t.Fatalf("status after second up: %v", err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("second up changed the lab:\nbefore %+v\nafter  %+v", before, after)
	}
	r, err := l.Traffic(context.Background(), lab.TrafficOptions{Count: 2, TCPBytes: 1 << 10})
	if err != nil || r.Err() != nil {
		t.Errorf("traffic after second up: %v %v", err, r.Err())
	}
}

func TestStatusJSONRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := labtest.New(t, lab.Options{Dir: dir})
	top, err := lab.Status(dir, l.Spec.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	var back lab.Topology
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, top) {
		t.Errorf("JSON round trip differs:\n%s\n%+v", b, back)
	}
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	if raw["prefix"] != l.Spec.Prefix || len(raw["namespaces"].([]any)) != 4 {
		t.Errorf("JSON shape: %s", b)
	}
}

// Sockets made inside a lab namespace stay there: a listener in container1 is not
// reachable from the test's own namespace, which has no route to 172.17.0.0/16 via the lab.
func TestTrafficTargetsOnlyLab(t *testing.T) {
	t.Parallel()
	l := labtest.New(t, lab.Options{})
	for _, dst := range lab.FlowDsts(l.Spec) {
		ok := false
		for _, n := range l.Namespaces() {
			if dst == n.Addr4 {
				ok = true
			}
		}
		if !ok {
			t.Errorf("a flow targets %s, an address outside the lab", dst)
		}
	}
	// The lab's addresses are not the test namespace's.
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && (p.Addr() == l.Container1.Addr4 || p.Addr() == l.Outside.Addr4) {
			t.Errorf("root namespace has lab address %s", p)
		}
	}
}

// A lab with a third container: its namespace, address and route; Open finds it again
// and Down removes it.
func TestUpContainer3(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := labtest.New(t, lab.Options{Dir: dir, Container3: true})
	if l.Container3 == nil || l.Container3.Addr4 != netip.MustParseAddr("172.17.0.4") || l.Container3.HostVeth != "veth-c3" {
		t.Fatalf("container3 %+v", l.Container3)
	}
	top, err := lab.Status(dir, l.Spec.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Namespaces) != 5 {
		t.Fatalf("%d namespaces, want 5", len(top.Namespaces))
	}
	for _, ns := range top.Namespaces {
		if ns.Role == lab.RoleContainer3 && !hasRoute(ns, "0.0.0.0/0", "172.17.0.1", "eth0") {
			t.Errorf("container3 routes %+v, want the default via 172.17.0.1", ns.Routes)
		}
	}
	again, err := lab.Open(dir, l.Spec.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Container3 == nil || again.Container3.Name != l.Container3.Name {
		t.Errorf("Open: container3 %+v, want %s", again.Container3, l.Container3.Name)
	}
	if _, err := lab.Down(dir, l.Spec.Prefix); err != nil {
		t.Fatal(err)
	}
	if nsutil.Exists(l.Container3.Name) {
		t.Errorf("down left %s", l.Container3.Name)
	}
}

// SetBridgeAgeing changes the lab bridge's ageing time, and only that bridge's.
func TestSetBridgeAgeing(t *testing.T) {
	t.Parallel()
	l := labtest.New(t, lab.Options{})
	ageing := func() uint32 {
		t.Helper()
		br, err := l.Host.Netlink.LinkByName(lab.BridgeName)
		if err != nil {
			t.Fatal(err)
		}
		b, ok := br.(*netlink.Bridge)
		if !ok || b.AgeingTime == nil {
			t.Fatalf("%s: no ageing time in %+v", lab.BridgeName, br)
		}
		return *b.AgeingTime
	}
	if got := ageing(); got != 30000 {
		t.Errorf("ageing time %d cs, want the kernel's default 30000", got)
	}
	for _, d := range []time.Duration{0, 5 * time.Second} {
		if err := l.SetBridgeAgeing(d); err != nil {
			t.Fatal(err)
		}
		if got, want := ageing(), uint32(d/(10*time.Millisecond)); got != want {
			t.Errorf("after SetBridgeAgeing(%s): %d cs, want %d", d, got, want)
		}
	}
}

// EchoUDP reports where the replies come from: the server's address when it is the only
// one; both bindings agree.
func TestEchoUDP(t *testing.T) {
	t.Parallel()
	l := labtest.New(t, lab.Options{})
	for _, bind := range []netip.Addr{{}, netip.MustParseAddr("172.17.0.2")} {
		r, err := l.EchoUDP(context.Background(), lab.UDPEchoOptions{Bind: bind, Count: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(r.Summary())
		if r.Sent != 3 || r.Replies["172.17.0.2"] != 3 || r.WrongSource() != 0 || r.To.String() != "172.17.0.2:7777" {
			t.Errorf("bound to %v: %+v", bind, r)
		}
	}
	if _, err := l.EchoUDP(context.Background(), lab.UDPEchoOptions{Count: lab.MaxCount + 1}); err == nil {
		t.Error("a count over the limit was accepted")
	}
}
