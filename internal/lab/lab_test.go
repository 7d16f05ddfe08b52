package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/nlutil"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// newPrefix returns a prefix no other test or process uses and a record folder of the
// test's own, for tests that run Up themselves, and makes sure the lab is removed when
// the test ends, even if it fails.
func newPrefix(t *testing.T) (dir, prefix string) {
	t.Helper()
	nstest.RequireRoot(t)
	dir, prefix = t.TempDir(), nstest.UniqueName("lt")
	t.Cleanup(func() {
		if _, err := Down(dir, prefix); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if left := labNamespaces(t, prefix); len(left) > 0 {
			t.Errorf("cleanup: namespaces left behind: %v", left)
		}
	})
	return dir, prefix
}

// netnsList is `ip netns list`, names only.
func netnsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names
}

// labNamespaces lists the namespaces named like the lab's.
func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, n := range netnsList(t) {
		if strings.HasPrefix(n, prefix+"-") {
			out = append(out, n)
		}
	}
	return out
}

// rootLinks is the link list of the test's own (root) namespace: names and indexes.
func rootLinks(t *testing.T) []string {
	t.Helper()
	links, err := nlutil.Dump(netlink.LinkList)
	if err != nil {
		t.Fatalf("list root links: %v", err)
	}
	var out []string
	for _, l := range links {
		out = append(out, fmt.Sprintf("%d:%s", l.Attrs().Index, l.Attrs().Name))
	}
	slices.Sort(out)
	return out
}

func recordExists(dir, prefix string) bool {
	_, err := os.Stat(recordPath(dir, prefix))
	return err == nil
}

// assertGone checks that nothing of the lab is left: no namespace of its prefix, no
// record, and the root namespace's links exactly as before.
func assertGone(t *testing.T, dir, prefix string, linksBefore []string) {
	t.Helper()
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
	if recordExists(dir, prefix) {
		t.Errorf("record %s left behind", recordPath(dir, prefix))
	}
	if after := rootLinks(t); !slices.Equal(after, linksBefore) {
		t.Errorf("root namespace links changed:\nbefore %v\nafter  %v", linksBefore, after)
	}
}

func findIface(ns NamespaceStatus, name string) *InterfaceStatus {
	for i := range ns.Interfaces {
		if ns.Interfaces[i].Name == name {
			return &ns.Interfaces[i]
		}
	}
	return nil
}

func hasRoute(ns NamespaceStatus, dst, via, dev string) bool {
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
	l := ForTest(t, Options{Dir: dir})
	prefix := l.Spec.Prefix
	top, err := Status(dir, prefix)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(top.Namespaces) != 4 {
		t.Fatalf("%d namespaces, want 4", len(top.Namespaces))
	}
	byRole := map[Role]NamespaceStatus{}
	for _, ns := range top.Namespaces {
		byRole[ns.Role] = ns
		if ns.Name != prefix+"-"+string(ns.Role) {
			t.Errorf("namespace %q for role %s", ns.Name, ns.Role)
		}
		if !ns.IPv6Disabled {
			t.Errorf("%s: IPv6 not disabled", ns.Name)
		}
		if ns.Forwarding != (ns.Role == RoleHost) {
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
	// Sysctls read straight from the kernel, not through Status.
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

	host := byRole[RoleHost]
	br := findIface(host, "docker0")
	if br == nil || br.Type != "bridge" || !slices.Equal(br.Addresses, []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}) {
		t.Errorf("docker0 = %+v", br)
	}
	for _, port := range []string{"veth-c1", "veth-c2"} {
		if p := findIface(host, port); p == nil || p.Type != "veth" || p.Master != "docker0" || p.State != "up" {
			t.Errorf("%s = %+v, want an up veth port of docker0", port, p)
		}
	}
	if want := []BridgeStatus{{Name: "docker0", Ports: []string{"veth-c1", "veth-c2"}}}; !reflect.DeepEqual(host.Bridges, want) {
		t.Errorf("bridges %+v, want %+v", host.Bridges, want)
	}
	if o := findIface(host, "outside0"); o == nil || o.Master != "" || !slices.Equal(o.Addresses, []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}) {
		t.Errorf("outside0 = %+v", o)
	}
	for role, addr := range map[Role]string{RoleContainer1: "172.17.0.2/16", RoleContainer2: "172.17.0.3/16", RoleOutside: "198.51.100.2/24"} {
		ns := byRole[role]
		e := findIface(ns, "eth0")
		if e == nil || e.Type != "veth" || e.State != "up" || !slices.Equal(e.Addresses, []netip.Prefix{netip.MustParsePrefix(addr)}) {
			t.Errorf("%s eth0 = %+v, want up veth with %s", role, e, addr)
		}
		if len(ns.Interfaces) != 2 {
			t.Errorf("%s has %d interfaces, want lo and eth0", role, len(ns.Interfaces))
		}
	}
	for _, role := range []Role{RoleContainer1, RoleContainer2} {
		if !hasRoute(byRole[role], "0.0.0.0/0", "172.17.0.1", "eth0") {
			t.Errorf("%s lacks default via 172.17.0.1: %+v", role, byRole[role].Routes)
		}
	}
	if !hasRoute(byRole[RoleOutside], "172.17.0.0/16", "198.51.100.1", "eth0") {
		t.Errorf("outside lacks 172.17.0.0/16 via 198.51.100.1: %+v", byRole[RoleOutside].Routes)
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
	l := ForTest(t, Options{IPv6: true})
	top, err := l.Topology()
	if err != nil {
		t.Fatal(err)
	}
	want := map[Role]string{RoleHost: "fd17::1/64", RoleContainer1: "fd17::2/64", RoleContainer2: "fd17::3/64", RoleOutside: "fd51::2/64"}
	for _, ns := range top.Namespaces {
		if ns.IPv6Disabled {
			t.Errorf("%s: IPv6 disabled in an IPv6 lab", ns.Name)
		}
		iface := "eth0"
		if ns.Role == RoleHost {
			iface = "docker0"
		}
		i := findIface(ns, iface)
		if i == nil || !slices.Contains(i.Addresses, netip.MustParsePrefix(want[ns.Role])) {
			t.Errorf("%s %s = %+v, want %s", ns.Name, iface, i, want[ns.Role])
		}
		if ns.Role == RoleContainer1 && !hasRoute(ns, "::/0", "fd17::1", "eth0") {
			t.Errorf("container1 lacks IPv6 default route: %+v", ns.Routes)
		}
		if ns.Role == RoleOutside && !hasRoute(ns, "fd17::/64", "fd51::1", "eth0") {
			t.Errorf("outside lacks fd17::/64 via fd51::1: %+v", ns.Routes)
		}
	}
	r, err := l.Traffic(context.Background(), TrafficOptions{Count: 3, TCPBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Flows) != 12 {
		t.Errorf("%d flows, want 12", len(r.Flows))
	}
	if err := r.Err(); err != nil {
		var b strings.Builder
		_ = WriteTraffic(&b, r)
		t.Errorf("%v\n%s", err, b.String())
	}
}

func TestTrafficExactCounts(t *testing.T) {
	t.Parallel()
	l := ForTest(t, Options{})
	opts := TrafficOptions{Count: 7, Size: 100, TCPBytes: 300_000}
	r, err := l.Traffic(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	_ = WriteTraffic(&table, r)
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
	l := ForTest(t, Options{Dir: dir})
	before, err := l.Topology()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Up(context.Background(), Options{Prefix: l.Spec.Prefix, Dir: dir})
	want := fmt.Sprintf("lab %s already exists; run 'netctl lab down --prefix %s' first", l.Spec.Prefix, l.Spec.Prefix)
	if err == nil || err.Error() != want {
		t.Fatalf("second up: %v, want %q", err, want)
	}
	after, err := Status(dir, l.Spec.Prefix)
	if err != nil {
		t.Fatalf("status after second up: %v", err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("second up changed the lab:\nbefore %+v\nafter  %+v", before, after)
	}
	r, err := l.Traffic(context.Background(), TrafficOptions{Count: 2, TCPBytes: 1 << 10})
	if err != nil || r.Err() != nil {
		t.Errorf("traffic after second up: %v %v", err, r.Err())
	}
}

// Down removes the lab's namespaces and no other (other test packages make and remove
// their own at the same time, so the global list is compared by what must be in it),
// and restores the root namespace's links exactly; a second Down is a no-op.
func TestDownRestoresEverything(t *testing.T) {
	dir, prefix := newPrefix(t)
	sentinel := nstest.NewNS(t) // someone else's namespace: down must leave it
	linksBefore := rootLinks(t)
	l, err := Up(context.Background(), Options{Prefix: prefix, IPv6: true, Dir: dir})
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if got := labNamespaces(t, prefix); len(got) != 4 {
		t.Errorf("after up: lab namespaces %v, want 4", got)
	}
	if !recordExists(dir, prefix) {
		t.Errorf("after up: no record at %s", recordPath(dir, prefix))
	}
	if after := rootLinks(t); !slices.Equal(after, linksBefore) {
		t.Errorf("up changed the root namespace's links:\nbefore %v\nafter  %v", linksBefore, after)
	}
	l.Close()
	removed, err := Down(dir, prefix)
	if err != nil || !removed {
		t.Fatalf("down = %v, %v; want true, nil", removed, err)
	}
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("down left the lab's namespaces %v", left)
	}
	if !slices.Contains(netnsList(t), sentinel.Name) {
		t.Errorf("down removed %s, a namespace the lab did not make", sentinel.Name)
	}
	assertGone(t, dir, prefix, linksBefore)
	removed, err = Down(dir, prefix)
	if err != nil || removed {
		t.Errorf("second down = %v, %v; want false, nil", removed, err)
	}
	if _, err := Status(dir, prefix); !errors.Is(err, ErrNoLab) {
		t.Errorf("status after down: %v, want ErrNoLab", err)
	}
}

// Down removes only the namespaces Up made: one that was replaced by a user's namespace
// of the same name stays.
func TestDownLeavesForeignNamespace(t *testing.T) {
	t.Parallel()
	dir, prefix := newPrefix(t)
	l, err := Up(context.Background(), Options{Prefix: prefix, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	name := NamespaceName(prefix, RoleOutside)
	if err := nsutil.DeleteNamed(name); err != nil {
		t.Fatal(err)
	}
	h, err := nsutil.CreateNamed(name) // the user's own namespace, same name
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t.Cleanup(func() { _ = nsutil.DeleteNamed(name) })
	if _, err := Open(dir, prefix); err == nil || !strings.Contains(err.Error(), "not the one 'lab up' made") {
		t.Errorf("open with a replaced namespace: %v", err)
	}
	if removed, err := Down(dir, prefix); err != nil || !removed {
		t.Fatalf("down = %v, %v", removed, err)
	}
	if got := labNamespaces(t, prefix); !slices.Equal(got, []string{name}) {
		t.Errorf("after down: %v, want only the user's %s", got, name)
	}
	now, err := nsutil.OpenNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	defer now.Close()
	if !now.Equal(h) {
		t.Error("the user's namespace was replaced")
	}
}

// Up refuses a prefix whose namespace name is taken by someone else, and changes nothing.
func TestUpRefusesTakenName(t *testing.T) {
	t.Parallel()
	dir, prefix := newPrefix(t)
	name := NamespaceName(prefix, RoleContainer2)
	h, err := nsutil.CreateNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	t.Cleanup(func() { _ = nsutil.DeleteNamed(name) })
	_, err = Up(context.Background(), Options{Prefix: prefix, Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "netns "+name+" already exists") {
		t.Fatalf("up over a taken name: %v", err)
	}
	if got := labNamespaces(t, prefix); !slices.Equal(got, []string{name}) {
		t.Errorf("after failed up: %v, want only %s", got, name)
	}
	if recordExists(dir, prefix) {
		t.Error("failed up left its record")
	}
	if removed, err := Down(dir, prefix); removed || err != nil {
		t.Errorf("down after failed up = %v, %v; want false, nil", removed, err)
	}
	if !nsutil.Exists(name) {
		t.Error("down removed the user's namespace")
	}
}

// A failure at any point of Up leaves nothing behind and names the failing step.
// Not parallel: it compares the root namespace's links.
func TestUpFailureRollsBack(t *testing.T) {
	nstest.RequireRoot(t)
	s, _ := NewSpec("x", false)
	steps := plan(s)
	vethC2 := slices.IndexFunc(steps, func(st step) bool { return strings.HasSuffix(st.cmd, "type veth peer name eth0 netns x-container2") })
	for _, tc := range []struct {
		name string
		at   int
	}{
		{"first sysctl", 1},
		{"second veth", vethC2},
		{"last route", len(steps) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, prefix := newPrefix(t)
			linksBefore := rootLinks(t)
			hook := func(i int, st step) error {
				if i == tc.at {
					return errors.New("injected failure")
				}
				return nil
			}
			_, err := Up(context.Background(), Options{Prefix: prefix, Dir: dir, beforeStep: hook})
			wantStep := fmt.Sprintf("step %d/%d (%s)", tc.at+1, len(steps), plan(mustSpec(t, prefix))[tc.at].cmd)
			if err == nil || !strings.Contains(err.Error(), wantStep) || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("up: %v, want the error to name %q", err, wantStep)
			}
			assertGone(t, dir, prefix, linksBefore)
		})
	}
	// A real kernel failure: the outside namespace's name gets taken while Up runs.
	t.Run("name taken during up", func(t *testing.T) {
		dir, prefix := newPrefix(t)
		linksBefore := rootLinks(t)
		name := NamespaceName(prefix, RoleOutside)
		t.Cleanup(func() { _ = nsutil.DeleteNamed(name) })
		hook := func(_ int, st step) error {
			if st.cmd == "ip netns add "+name {
				h, err := nsutil.CreateNamed(name)
				if err != nil {
					return err
				}
				h.Close()
			}
			return nil
		}
		_, err := Up(context.Background(), Options{Prefix: prefix, Dir: dir, beforeStep: hook})
		if err == nil || !strings.Contains(err.Error(), "ip netns add "+name) || !errors.Is(err, os.ErrExist) {
			t.Fatalf("up: %v, want a failed 'ip netns add %s'", err, name)
		}
		if got := labNamespaces(t, prefix); !slices.Equal(got, []string{name}) {
			t.Errorf("after failed up: %v, want only the intruder %s", got, name)
		}
		if err := nsutil.DeleteNamed(name); err != nil {
			t.Fatal(err)
		}
		assertGone(t, dir, prefix, linksBefore)
	})
	// A cancelled context stops Up before the next step and undoes the rest.
	t.Run("cancelled", func(t *testing.T) {
		dir, prefix := newPrefix(t)
		linksBefore := rootLinks(t)
		ctx, cancel := context.WithCancel(context.Background())
		hook := func(i int, _ step) error {
			if i == 5 {
				cancel()
			}
			return nil
		}
		_, err := Up(ctx, Options{Prefix: prefix, Dir: dir, beforeStep: hook})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("up: %v, want context.Canceled", err)
		}
		assertGone(t, dir, prefix, linksBefore)
	})
}

func mustSpec(t *testing.T, prefix string) Spec {
	t.Helper()
	s, err := NewSpec(prefix, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStatusJSONRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := ForTest(t, Options{Dir: dir})
	top, err := Status(dir, l.Spec.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	var back Topology
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

func TestStatusMissingLab(t *testing.T) {
	t.Parallel()
	dir, prefix := newPrefix(t)
	_, err := Status(dir, prefix)
	if !errors.Is(err, ErrNoLab) || !strings.Contains(err.Error(), "netctl lab up --prefix "+prefix) {
		t.Errorf("status of a missing lab: %v", err)
	}
	if _, err := Status(dir, "bad/prefix"); err == nil || !strings.Contains(err.Error(), "'/'") {
		t.Errorf("status of an invalid prefix: %v", err)
	}
	if _, err := Down(dir, "bad/prefix"); err == nil {
		t.Error("down of an invalid prefix succeeded")
	}
	if _, err := Up(context.Background(), Options{Prefix: "-x", Dir: dir}); err == nil {
		t.Error("up of an invalid prefix succeeded")
	}
}

// Sockets made inside a lab namespace stay there: a listener in container1 is not
// reachable from the test's own namespace, which has no route to 172.17.0.0/16 via the lab.
func TestTrafficTargetsOnlyLab(t *testing.T) {
	t.Parallel()
	l := ForTest(t, Options{})
	for _, f := range flows(l.Spec) {
		ok := false
		for _, n := range l.Namespaces() {
			if f.dstAddr == n.Addr4 {
				ok = true
			}
		}
		if !ok {
			t.Errorf("flow %+v targets an address outside the lab", f)
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
