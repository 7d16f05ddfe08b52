//go:build linux

package netctl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nstest"
)

// nicLab is the seed's lab with a state root of the test's own, so that no two tests'
// records meet and the machine's are never touched.
type nicLab struct {
	*lab.Lab
	opts EnvOptions
}

// testLab builds the seed's lab for the test (labtest.New), with a state root of its own.
func testLab(t *testing.T, ipv6 bool) *nicLab {
	return &nicLab{Lab: labtest.New(t, lab.Options{IPv6: ipv6}), opts: EnvOptions{StateDir: t.TempDir()}}
}

// envFor opens ns of the lab as a container, with the lab's host as host.
func envFor(t *testing.T, l *nicLab, ns *lab.Namespace) *Env {
	t.Helper()
	c, err := Resolve(context.Background(), Ref{RefNetns, ns.Name})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEnv(l.Host.NS, NSView{Name: l.Host.Name}, c, l.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func seedSpecLab() Spec {
	return Spec{Name: "eth1", Bridge: "docker0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("172.17.0.99/24")},
		Gateway:   netip.MustParseAddr("172.17.0.1"), DefaultRoute: true}
}

func labState(t *testing.T, l *nicLab) string {
	return nstest.State(t, l.Host.Name) + nstest.State(t, l.Container1.Name) + nstest.State(t, l.Container2.Name)
}

func requireSame(t *testing.T, what, before, after string) {
	t.Helper()
	nstest.RequireSame(t, what, before, after)
}

func ping(t *testing.T, ns, addr string, n int, extra ...string) {
	t.Helper()
	args := append([]string{"netns", "exec", ns, "ping", "-q", "-c", fmt.Sprint(n), "-i", "0.01", "-W", "1"}, extra...)
	out, err := exec.Command("ip", append(args, addr)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", addr, ns, err, out)
	}
}

func txPackets(t *testing.T, nl *netlink.Handle, ifname string) uint64 {
	t.Helper()
	l, err := nl.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Statistics.TxPackets
}

// The seed in one command, and back.
func TestSeedAddDel(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	before := labState(t, l)
	e := envFor(t, l, l.Container1)

	p, err := e.Add(seedSpecLab(), AddOptions{})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	out, err := exec.Command("ip", "-n", l.Container1.Name, "route").Output()
	if err != nil {
		t.Fatal(err)
	}
	wantRoutes := "default via 172.17.0.1 dev eth1 \n" +
		"172.17.0.0/24 dev eth1 proto kernel scope link src 172.17.0.99 \n" +
		"172.17.0.0/16 dev eth0 proto kernel scope link src 172.17.0.2 \n"
	if string(out) != wantRoutes {
		t.Errorf("container1 routes:\n%s\nwant the seed's:\n%s", out, wantRoutes)
	}
	hp, err := l.Host.Netlink.LinkByName(p.HostName)
	if err != nil {
		t.Fatalf("host end %s: %v", p.HostName, err)
	}
	if br, _ := l.Host.Netlink.LinkByName("docker0"); hp.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("host end %s is not a port of docker0", p.HostName)
	}
	// Traffic over eth1 works: container1 reaches the outside host through its new default route.
	tx := txPackets(t, l.Container1.Netlink, "eth1")
	ping(t, l.Container1.Name, l.Outside.Addr4.String(), 5)
	if d := txPackets(t, l.Container1.Netlink, "eth1") - tx; d < 5 {
		t.Errorf("eth1 sent %d packets for 5 pings to the outside host", d)
	}
	// The lab's own traffic (ping and TCP both ways) still flows with the seed's routes.
	rep, err := l.Traffic(context.Background(), lab.TrafficOptions{Count: 3, TCPBytes: 32 << 10})
	if err != nil || rep.Err() != nil {
		t.Errorf("lab traffic after add: %v / %v", err, rep.Err())
	}
	// A second add of the same NIC is refused and creates no second port.
	mid := labState(t, l)
	if _, err := e.Add(seedSpecLab(), AddOptions{}); err == nil || !strings.Contains(err.Error(), "already has eth1") {
		t.Errorf("second add: %v", err)
	}
	requireSame(t, "second add", mid, labState(t, l))

	res, err := e.Del("eth1")
	if err != nil || !res.Removed {
		t.Fatalf("del: %+v, %v", res, err)
	}
	requireSame(t, "add then del", before, labState(t, l))
	if len(e.store.names(e.Ctr.Cookie)) != 0 {
		t.Error("record left after del")
	}
	res, err = e.Del("eth1")
	if err != nil || res.Removed || !strings.Contains(res.Note, "nothing to remove") {
		t.Errorf("second del: %+v, %v", res, err)
	}
	if _, err := e.Del("eth0"); err == nil || !strings.Contains(err.Error(), "not made by netctl") {
		t.Errorf("del of eth0 (not netctl's): %v", err)
	}
	requireSame(t, "del twice", before, labState(t, l))
}

// A failure injected before each step leaves nothing behind.
func TestAddFaultInjection(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	e := envFor(t, l, l.Container1)
	spec := seedSpecLab()
	spec.SourceRouting = true
	p, err := e.Plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, s := range p.Steps {
		kinds[s.Kind] = true
	}
	for _, k := range []string{StepVeth, StepAddr, StepSysctl, StepLinkUp, StepHostPort, StepRouteDel, StepRouteAdd, StepRuleAdd} {
		if !kinds[k] {
			t.Fatalf("plan has no %s step; the test would not cover it", k)
		}
	}
	before := labState(t, l)
	for k := range len(p.Steps) + 1 {
		_, err := e.Add(spec, AddOptions{failBefore: k, injected: true})
		if k == len(p.Steps) {
			if err != nil { // no failure injected past the end: the add goes through
				t.Fatalf("add without a failure: %v", err)
			}
			if _, err := e.Del("eth1"); err != nil {
				t.Fatal(err)
			}
		} else {
			var se *StepError
			if !errors.As(err, &se) || se.Index != k || !errors.Is(err, errInjected) || se.Rollback != nil {
				t.Fatalf("failure before step %d: %v", k+1, err)
			}
		}
		requireSame(t, fmt.Sprintf("failure before step %d (%s)", k+1, stepKind(p, k)), before, labState(t, l))
		if len(e.store.names(e.Ctr.Cookie)) != 0 {
			t.Fatalf("failure before step %d: record left behind", k+1)
		}
	}
}

func stepKind(p Plan, k int) string {
	if k < len(p.Steps) {
		return p.Steps[k].Kind
	}
	return "none"
}

func TestDryRunIsInert(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	e := envFor(t, l, l.Container1)
	before := labState(t, l)
	p, err := e.Add(seedSpecLab(), AddOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) == 0 {
		t.Fatal("dry run planned nothing")
	}
	requireSame(t, "dry run", before, labState(t, l))
	if len(e.store.names(e.Ctr.Cookie)) != 0 {
		t.Error("dry run wrote a record")
	}
}

// Without source routing replies to container2 leave on eth1 (the seed's asymmetry);
// with it they leave on eth0, where the requests came in.
func TestSourceRouting(t *testing.T) {
	t.Parallel()
	for _, sr := range []bool{false, true} {
		t.Run(fmt.Sprintf("source-routing=%v", sr), func(t *testing.T) {
			l := testLab(t, false)
			e := envFor(t, l, l.Container1)
			spec := seedSpecLab()
			spec.SourceRouting = sr
			if _, err := e.Add(spec, AddOptions{}); err != nil {
				t.Fatal(err)
			}
			const n = 50
			ping(t, l.Container2.Name, "172.17.0.2", 2) // warm ARP
			eth0, eth1 := txPackets(t, l.Container1.Netlink, "eth0"), txPackets(t, l.Container1.Netlink, "eth1")
			ping(t, l.Container2.Name, "172.17.0.2", n)
			d0 := txPackets(t, l.Container1.Netlink, "eth0") - eth0
			d1 := txPackets(t, l.Container1.Netlink, "eth1") - eth1
			out, in := d1, d0 // without: replies out eth1
			if sr {
				out, in = d0, d1
			}
			if out < n || in >= n {
				t.Errorf("replies to %d pings: eth0 sent %d, eth1 sent %d (source routing %v)", n, d0, d1, sr)
			}
			if _, err := e.Del("eth1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// With the ARP guard, container2 keeps reaching 172.17.0.2 on eth0's MAC.
func TestARPGuard(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	e := envFor(t, l, l.Container1)
	if _, err := e.Add(seedSpecLab(), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	eth0, err := l.Container1.Netlink.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	target := netip.MustParseAddr("172.17.0.2")
	c2eth0, _ := l.Container2.Netlink.LinkByName("eth0")
	for round := range 5 {
		if out, err := exec.Command("ip", "-n", l.Container2.Name, "neigh", "flush", "dev", "eth0").CombinedOutput(); err != nil {
			t.Fatalf("neigh flush: %v %s", err, out)
		}
		ping(t, l.Container2.Name, target.String(), 1)
		neighs, err := l.Container2.Netlink.NeighList(c2eth0.Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, n := range neighs {
			if a, _ := netip.AddrFromSlice(n.IP); a.Unmap() == target {
				found = true
				if n.HardwareAddr.String() != eth0.Attrs().HardwareAddr.String() {
					t.Fatalf("round %d: container2 maps %s to %s, not eth0's %s", round, target, n.HardwareAddr, eth0.Attrs().HardwareAddr)
				}
			}
		}
		if !found {
			t.Fatalf("round %d: no neighbour entry for %s", round, target)
		}
	}
}

func TestIPv6Address(t *testing.T) {
	t.Parallel()
	l := testLab(t, true)
	before := labState(t, l)
	e := envFor(t, l, l.Container1)
	spec := seedSpecLab()
	spec.DefaultRoute, spec.Gateway = false, netip.Addr{}
	spec.Addresses = append(spec.Addresses, netip.MustParsePrefix("fd17::99/64"))
	p, err := e.Add(spec, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[len(p.Steps)-1].Kind != StepWaitDAD {
		t.Errorf("last step %s, want %s", p.Steps[len(p.Steps)-1].Kind, StepWaitDAD)
	}
	l1, _ := l.Container1.Netlink.LinkByName("eth1")
	addrs, _ := l.Container1.Netlink.AddrList(l1, netlink.FAMILY_V6)
	ok := false
	for _, a := range addrs {
		if a.IP.String() == "fd17::99" {
			ok = a.Flags&0x40 == 0 // IFA_F_TENTATIVE
		}
	}
	if !ok {
		t.Fatalf("fd17::99 missing or still tentative: %v", addrs)
	}
	ping(t, l.Container2.Name, "fd17::99", 3)
	if _, err := e.Del("eth1"); err != nil {
		t.Fatal(err)
	}
	requireSame(t, "IPv6 add then del", before, labState(t, l))
}

// Two adds at once on one container: one wins, the other fails clearly, one NIC results.
func TestConcurrentAdd(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := envFor(t, l, l.Container1)
			spec := seedSpecLab()
			spec.Addresses = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 17, 0, byte(98 + i)}), 24)}
			_, errs[i] = e.Add(spec, AddOptions{})
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("want exactly one add to succeed: %v / %v", errs[0], errs[1])
	}
	links, _ := l.Host.Netlink.LinkList()
	ports := 0
	for _, lk := range links {
		if strings.HasPrefix(lk.Attrs().Alias, "netctl:") {
			ports++
		}
	}
	if ports != 1 {
		t.Errorf("%d netctl ports on the bridge, want 1", ports)
	}
}

// A record whose veth vanished (the container was recreated) must not make del touch
// the namespace.
func TestDelStaleRecord(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	e := envFor(t, l, l.Container1)
	p, err := e.Add(seedSpecLab(), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hp, _ := l.Host.Netlink.LinkByName(p.HostName)
	if err := l.Host.Netlink.LinkDel(hp); err != nil {
		t.Fatal(err)
	}
	before := labState(t, l)
	res, err := e.Del("eth1")
	if err != nil || res.Removed || !strings.Contains(res.Note, "nothing to remove") {
		t.Fatalf("del after the veth vanished: %+v, %v", res, err)
	}
	requireSame(t, "stale del", before, labState(t, l))
	if len(e.store.names(e.Ctr.Cookie)) != 0 {
		t.Error("stale record kept")
	}
}

// Two NICs, removed in the order they were added: the ARP guard stays while the second
// needs it, the default route ends where it was before either, and the state is exact.
func TestTwoNICsRemovedOutOfOrder(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	before := labState(t, l)
	e := envFor(t, l, l.Container1)
	if _, err := e.Add(seedSpecLab(), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	spec2 := seedSpecLab()
	spec2.Name, spec2.Addresses = "eth2", []netip.Prefix{netip.MustParsePrefix("172.17.0.98/24")}
	if _, err := e.Add(spec2, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Del("eth1"); err != nil {
		t.Fatal(err)
	}
	v, err := readSysctls(e.Ctr.NS, []string{"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.eth0.arp_announce"})
	if err != nil {
		t.Fatal(err)
	}
	if v["net.ipv4.conf.all.arp_ignore"] != "1" || v["net.ipv4.conf.eth0.arp_announce"] != "2" {
		t.Errorf("ARP guard dropped while eth2 still shares the bridge: %v", v)
	}
	out, _ := exec.Command("ip", "-n", l.Container1.Name, "route", "show", "default").Output()
	if !strings.Contains(string(out), "dev eth2") {
		t.Errorf("default route after removing eth1: %q, want via eth2", out)
	}
	if res, err := e.Del("eth2"); err != nil || !res.Removed {
		t.Fatalf("del eth2: %+v %v", res, err)
	}
	requireSame(t, "two NICs removed out of order", before, labState(t, l))
}

// nic del with another host namespace than add's is refused and changes nothing.
func TestDelNeedsTheSameHost(t *testing.T) {
	t.Parallel()
	l := testLab(t, false)
	e := envFor(t, l, l.Container1)
	if _, err := e.Add(seedSpecLab(), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	mid := labState(t, l)
	c, err := Resolve(context.Background(), Ref{RefNetns, l.Container1.Name})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewEnv(l.Outside.NS, NSView{Name: l.Outside.Name}, c, l.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Del("eth1"); err == nil || !strings.Contains(err.Error(), "give the same -n") {
		t.Fatalf("del from another host namespace: %v", err)
	}
	requireSame(t, "del with the wrong host", mid, labState(t, l))
	if res, err := e.Del("eth1"); err != nil || !res.Removed {
		t.Fatalf("del with the right host: %+v %v", res, err)
	}
}

// An IPv6 address another host on the bridge owns is refused before any change, even
// where the container's own DAD is off (the lab turns it off).
func TestIPv6DuplicateRefused(t *testing.T) {
	t.Parallel()
	l := testLab(t, true)
	before := labState(t, l)
	e := envFor(t, l, l.Container1)
	spec := seedSpecLab()
	spec.DefaultRoute, spec.Gateway = false, netip.Addr{}
	spec.Addresses = []netip.Prefix{netip.MustParsePrefix("fd17::3/64")} // container2's
	_, err := e.Add(spec, AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "already used by another host on docker0 (neighbour advertisement") {
		t.Fatalf("add of container2's IPv6 address: %v", err)
	}
	requireSame(t, "refused IPv6 duplicate", before, labState(t, l))
}
