//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
	"github.com/netctl/netctl/netctl"
)

// dpLab is the seed's lab with container1's eth1 added, and options that keep netctl's
// pins and registry in folders of the test's own.
func dpLab(t *testing.T) (*lab.Lab, Options) {
	t.Helper()
	return dpLabWith(t, lab.Options{})
}

// dpLabWith is dpLab with lab options (a third container, say).
func dpLabWith(t *testing.T, lo lab.Options) (*lab.Lab, Options) {
	t.Helper()
	nstest.RequireRoot(t)
	opts := Options{BPFDir: nstest.BPFDir(t), StateDir: t.TempDir()}
	l := labtest.New(t, lo)
	c, err := netctl.Resolve(context.Background(), netctl.Ref{Kind: netctl.RefNetns, Value: l.Container1.Name})
	if err != nil {
		t.Fatal(err)
	}
	e, err := netctl.NewEnv(l.Host.NS, netctl.NSView{Name: l.Host.Name}, c, netctl.EnvOptions{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	spec := netctl.Spec{Name: "eth1", Bridge: "docker0", Addresses: []netip.Prefix{netip.MustParsePrefix("172.17.0.99/24")},
		Gateway: netip.MustParseAddr("172.17.0.1"), DefaultRoute: true}
	if _, err := e.Add(spec, netctl.AddOptions{ARPProbeWait: -1}); err != nil {
		t.Fatal(err)
	}
	return l, opts
}

// kernelStats reads the container-side interfaces' own counters.
func kernelStats(t *testing.T, l *lab.Lab) map[[2]string]InterfaceCounters {
	t.Helper()
	out := map[[2]string]InterfaceCounters{}
	for _, x := range []struct {
		ns  *lab.Namespace
		ifc string
	}{{l.Container1, "eth0"}, {l.Container1, "eth1"}, {l.Container2, "eth0"}} {
		lk, err := x.ns.Netlink.LinkByName(x.ifc)
		if err != nil {
			t.Fatal(err)
		}
		s := lk.Attrs().Statistics
		out[[2]string{x.ns.Name, x.ifc}] = InterfaceCounters{RxPackets: s.RxPackets, RxBytes: s.RxBytes, TxPackets: s.TxPackets, TxBytes: s.TxBytes}
	}
	return out
}

func ours(snap Snapshot) map[[2]string]InterfaceCounters {
	out := map[[2]string]InterfaceCounters{}
	for _, c := range snap.Interfaces {
		out[[2]string{c.Container, c.Interface}] = c
	}
	return out
}

// readBoth reads the kernel's statistics and a snapshot at a quiet moment: it retries
// until the kernel's counters did not move while the snapshot was taken.
func readBoth(t *testing.T, l *lab.Lab, snap func() Snapshot) (map[[2]string]InterfaceCounters, map[[2]string]InterfaceCounters) {
	t.Helper()
	for range 20 {
		k1 := kernelStats(t, l)
		s := ours(snap())
		if k2 := kernelStats(t, l); fmt.Sprint(k1) == fmt.Sprint(k2) {
			return k1, s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the lab never went quiet")
	return nil, nil
}

func sub(a, b InterfaceCounters) [4]uint64 {
	return [4]uint64{a.RxPackets - b.RxPackets, a.RxBytes - b.RxBytes, a.TxPackets - b.TxPackets, a.TxBytes - b.TxBytes}
}

// Every per-interface counter moves exactly as the container-side interface's own kernel
// statistics, over a ping flood and TCP streams, in both attach modes.
func TestCountersExact(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeTCX, ModeTC} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			l, opts := dpLab(t)
			dp, at := openAttached(t, l, withMode(opts, mode))
			if len(at) != 3 {
				t.Fatalf("attached %d ports, want 3: %+v", len(at), at)
			}
			for _, a := range at {
				if a.Mode != string(mode) {
					t.Errorf("%s attached with %s, want %s", a.HostInterface, a.Mode, mode)
				}
			}
			snap := func() Snapshot {
				s, err := dp.Snapshot(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			k0, o0 := readBoth(t, l, snap)
			rep, err := l.Traffic(context.Background(), lab.TrafficOptions{Count: 300, TCPBytes: 4 << 20})
			if err != nil || rep.Err() != nil {
				t.Fatalf("traffic: %v %v", err, rep.Err())
			}
			if out, err := exec.Command("ip", "netns", "exec", l.Container2.Name, "ping", "-q", "-f", "-c", "2000", "-W", "1", "172.17.0.2").CombinedOutput(); err != nil {
				t.Fatalf("ping flood: %v\n%s", err, out)
			}
			k1, o1 := readBoth(t, l, snap)
			for key := range k1 {
				name := [2]string{key[0], key[1]}
				want, got := sub(k1[key], k0[key]), sub(o1[name], o0[name])
				t.Logf("%s %s: kernel rx %d pkts/%d B, tx %d pkts/%d B; netctl rx %d/%d, tx %d/%d",
					key[0], key[1], want[0], want[1], want[2], want[3], got[0], got[1], got[2], got[3])
				if want != got {
					t.Errorf("%s %s: kernel moved rx %d pkts/%d B, tx %d pkts/%d B; netctl counted rx %d/%d, tx %d/%d",
						key[0], key[1], want[0], want[1], want[2], want[3], got[0], got[1], got[2], got[3])
				}
				if want[0] < 2000 && key[1] == "eth0" {
					t.Errorf("%s %s received only %d packets", key[0], key[1], want[0])
				}
			}
			// The seed's asymmetry, visible in counters: requests in on eth0, replies out on eth1.
			c1e0, c1e1 := sub(o1[[2]string{l.Container1.Name, "eth0"}], o0[[2]string{l.Container1.Name, "eth0"}]),
				sub(o1[[2]string{l.Container1.Name, "eth1"}], o0[[2]string{l.Container1.Name, "eth1"}])
			if c1e0[0] < 2000 || c1e1[2] < 2000 || c1e0[2] > 10 { // eth0 still answers ARP
				t.Errorf("container1: eth0 rx %d tx %d, eth1 tx %d: want requests in on eth0 and replies out on eth1", c1e0[0], c1e0[2], c1e1[2])
			}
		})
	}
}

// Counters outlive the process; a second attach adopts; detach removes everything.
func TestPinnedLifecycle(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeTCX, ModeTC} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			l, opts := dpLab(t)
			// A user's own clsact qdisc and filter on one port: detach must keep them.
			userFilter := []string{"netns", "exec", l.Host.Name, "tc", "filter", "add", "dev", "veth-c2", "ingress", "pref", "7", "u32", "match", "u32", "0", "0"}
			if out, err := exec.Command("ip", "netns", "exec", l.Host.Name, "tc", "qdisc", "add", "dev", "veth-c2", "clsact").CombinedOutput(); err != nil {
				t.Fatalf("user qdisc: %v %s", err, out)
			}
			if out, err := exec.Command("ip", userFilter...).CombinedOutput(); err != nil {
				t.Fatalf("user filter: %v %s", err, out)
			}
			dp, err := Open(l.Host.NS, withMode(opts, mode))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dp.AttachBridge(context.Background(), "docker0"); err != nil {
				skipIfNoTCX(t, err)
				t.Fatal(err)
			}
			dp.Close() // the process that attached is gone

			ping := func() {
				if out, err := exec.Command("ip", "netns", "exec", l.Container2.Name, "ping", "-q", "-c", "20", "-i", "0.01", "-W", "1", "172.17.0.2").CombinedOutput(); err != nil {
					t.Fatalf("ping: %v %s", err, out)
				}
			}
			ping()
			s1, err := ReadPinned(context.Background(), l.Host.NS, opts)
			if err != nil {
				t.Fatal(err)
			}
			ping()
			s2, err := ReadPinned(context.Background(), l.Host.NS, opts)
			if err != nil {
				t.Fatal(err)
			}
			c2 := [2]string{l.Container2.Name, "eth0"}
			if d := ours(s2)[c2].TxPackets - ours(s1)[c2].TxPackets; d < 20 {
				t.Errorf("after the attaching process closed, container2 eth0 tx moved %d, want ≥ 20", d)
			}

			dp2, err := Open(l.Host.NS, withMode(opts, mode))
			if err != nil {
				t.Fatal(err)
			}
			at, err := dp2.AttachBridge(context.Background(), "docker0")
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range at {
				if !a.Adopted {
					t.Errorf("second attach attached %s again", a.HostInterface)
				}
			}
			s3, err := dp2.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ours(s3)[c2].TxPackets < ours(s2)[c2].TxPackets {
				t.Error("counters went down across a re-open")
			}
			dp2.Close()
			if n := progsOn(t, l.Host.Name); n != 6 {
				t.Errorf("%d netctl programs attached after a second attach, want 6 (3 ports × 2)", n)
			}

			if has, err := HasPins(l.Host.NS, opts); !has || err != nil {
				t.Errorf("HasPins after attach: %v, %v; want true", has, err)
			}
			if _, err := Detach(l.Host.NS, opts); err != nil {
				t.Fatal(err)
			}
			if n := progsOn(t, l.Host.Name); n != 0 {
				t.Errorf("%d netctl programs left after detach", n)
			}
			if has, err := HasPins(l.Host.NS, opts); has || err != nil {
				t.Errorf("pins left after detach: HasPins %v, %v", has, err)
			}
			out, _ := exec.Command("ip", "netns", "exec", l.Host.Name, "tc", "filter", "show", "dev", "veth-c2", "ingress").CombinedOutput()
			if !strings.Contains(string(out), "u32") {
				t.Errorf("detach removed the user's filter:\n%s", out)
			}
			if rep, err := Detach(l.Host.NS, opts); err != nil || rep != (DetachReport{}) {
				t.Errorf("second detach: %+v, %v", rep, err)
			}
		})
	}
}

// withMode returns o with attach mode m.
func withMode(o Options, m Mode) Options {
	o.Mode = m
	return o
}

// openAttached opens the datapath of lab l with opts, closed when the test ends, and
// attaches docker0's ports; it skips where opts ask for TCX and the kernel has none.
func openAttached(t *testing.T, l *lab.Lab, opts Options) (*Datapath, []Attachment) {
	t.Helper()
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	at, err := dp.AttachBridge(context.Background(), "docker0")
	if err != nil {
		skipIfNoTCX(t, err)
		t.Fatal(err)
	}
	return dp, at
}

// progsOn counts netctl's programs attached in a namespace: tc filters as bpftool sees
// them, TCX programs by querying each interface (bpftool 7.1 predates TCX).
func progsOn(t testing.TB, ns string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "bpftool", "net", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("bpftool net show: %v %s", err, out)
	}
	n := strings.Count(string(out), "netctl_ingress") + strings.Count(string(out), "netctl_egress")
	h, err := nsutil.OpenNamed(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nl, err := nsutil.Handle(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	links, err := nl.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	err = nsutil.Do(h, func() error {
		for _, l := range links {
			for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
				res, err := link.QueryPrograms(link.QueryOptions{Target: l.Attrs().Index, Attach: at})
				if errors.Is(err, unix.EINVAL) || errors.Is(err, ebpf.ErrNotSupported) {
					return nil // no TCX on this kernel (before 6.6): bpftool counted the tc filters
				}
				if err != nil {
					return err
				}
				for _, p := range res.Programs {
					prog, err := ebpf.NewProgramFromID(p.ID)
					if err != nil {
						return err
					}
					info, err := prog.Info()
					prog.Close()
					if err != nil {
						return err
					}
					if strings.HasPrefix(info.Name, "netctl_") {
						n++
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("query tcx programs: %v", err)
	}
	return n
}

// The watcher attaches a port that appears after it started within 0.5 s, and forgets
// one that goes away.
func TestWatchNewAndGonePorts(t *testing.T) {
	l, opts := dpLab(t)
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events, stopped := make(chan Event, 16), make(chan struct{})
	go func() {
		defer close(stopped)
		_ = dp.Watch(ctx, "docker0", func(e Event) {
			select {
			case events <- e:
			case <-ctx.Done():
			}
		})
	}()
	defer func() { cancel(); <-stopped; dp.Close() }() // the watch uses dp until it returns
	// The existing ports first.
	for range 3 {
		select {
		case e := <-events:
			if e.Kind != "attached" {
				t.Fatalf("event %+v", e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("existing ports not attached")
		}
	}

	// A new container: its own namespace and a veth plugged into docker0.
	ns := nstest.NewNS(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth-new"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns.Handle)}
	start := time.Now()
	if err := l.Host.Netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	br, _ := l.Host.Netlink.LinkByName("docker0")
	if err := l.Host.Netlink.LinkSetMaster(veth, br); err != nil {
		t.Fatal(err)
	}
	var newIdx int
	select {
	case e := <-events:
		if e.Kind != "attached" || e.Port.HostInterface != "veth-new" || e.Port.Container != ns.Name || e.Port.Interface != "eth0" {
			t.Fatalf("event %+v, want veth-new attached for %s eth0", e, ns.Name)
		}
		newIdx = e.Port.Ifindex
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("new port attached after %s, want ≤ 0.5 s", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("new port not attached")
	}
	dp.mu.Lock()
	_, attached := dp.attachedMode(dp.sets[0], newIdx) // TCX links pinned, or tc filters
	dp.mu.Unlock()
	if !attached {
		t.Fatal("new port carries no netctl programs")
	}
	// Some traffic so it has map entries, then it goes away.
	if err := l.Host.Netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	if err := ns.Link.LinkSetUp(mustLink(t, ns.Link, "eth0")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for { // IPv6 router solicitations and the like: any packet will do
		dp.mu.Lock()
		tot, err := readTotals(dp.sets[0].objs.TotalsByIndex, dp.sets[0].objs.Totals)
		dp.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if tot[TotalsKey{Ifindex: uint32(newIdx), Dir: Egress}].Packets+tot[TotalsKey{Ifindex: uint32(newIdx), Dir: Ingress}].Packets > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no packet counted on the new port")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := l.Host.Netlink.LinkDel(veth); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Kind != "gone" || e.Port.Ifindex != newIdx {
			t.Fatalf("event %+v, want veth-new gone", e)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("removed port not forgotten")
	}
	for _, dir := range []Direction{Ingress, Egress} {
		if _, err := os.Stat(linkPin(dp.sets[0], newIdx, dir)); !os.IsNotExist(err) {
			t.Errorf("pin of the removed port left: %v", err)
		}
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	tot, err := readTotals(dp.sets[0].objs.TotalsByIndex, dp.sets[0].objs.Totals)
	if err != nil {
		t.Fatal(err)
	}
	for k := range tot {
		if int(k.Ifindex) == newIdx {
			t.Errorf("totals entry of the removed port left: %+v", k)
		}
	}
}

// An interface attached inside a container keeps its own sense and its own map set; the
// same interface also counted on its host veth is reported once, from the host side.
func TestAttachInsideContainer(t *testing.T) {
	t.Parallel()
	l, opts := dpLab(t)
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	path := nsutil.NamedPath(l.Container1.Name)
	a, err := dp.AttachNamed(context.Background(), l.Container1.NS, path, l.Container1.Name, "eth1")
	if err != nil {
		t.Fatal(err)
	}
	if !a.InContainer || a.NSCookie == 0 || a.Interface != "eth1" {
		t.Fatalf("attachment %+v", a)
	}
	snap := func() Snapshot {
		s, err := dp.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	k0, o0 := readBoth(t, l, snap)
	ping := exec.Command("ip", "netns", "exec", l.Container2.Name, "ping", "-q", "-c", "50", "-i", "0.01", "-W", "1", "172.17.0.2")
	if out, err := ping.CombinedOutput(); err != nil {
		t.Fatalf("ping: %v %s", err, out)
	}
	k1, o1 := readBoth(t, l, snap)
	key := [2]string{l.Container1.Name, "eth1"}
	if want, got := sub(k1[key], k0[key]), sub(o1[key], o0[key]); want != got || want[2] < 50 {
		t.Errorf("eth1 attached inside: kernel %v, netctl %v (rx pkts, rx B, tx pkts, tx B)", want, got)
	}
	// Now its host veth too: one row for container1 eth1, the host side's.
	if _, err := dp.AttachBridge(context.Background(), "docker0"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range snap().Interfaces {
		if c.Container == l.Container1.Name && c.Interface == "eth1" {
			n++
			if c.InContainer {
				t.Error("container1 eth1 reported from inside although its host veth is counted")
			}
		}
	}
	if n != 1 {
		t.Errorf("container1 eth1 reported %d times, want once", n)
	}
}

// A port whose peer is a Docker container is named by the container's Docker name, and
// the in-container interface name is found.
func TestPortOfDockerContainerNamed(t *testing.T) {
	t.Parallel()
	nstest.RequireDocker(t)
	l, opts := dpLab(t)
	name := nstest.DockerRun(t, true, "--network", "none")
	c, err := netctl.Resolve(context.Background(), netctl.Ref{Kind: netctl.RefDocker, Value: name})
	if err != nil {
		t.Fatal(err)
	}
	e, err := netctl.NewEnv(l.Host.NS, netctl.NSView{Name: l.Host.Name}, c, netctl.EnvOptions{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	spec := netctl.Spec{Name: "eth7", Bridge: "docker0", Addresses: []netip.Prefix{netip.MustParsePrefix("172.17.0.77/16")}}
	p, err := e.Add(spec, netctl.AddOptions{ARPProbeWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = e.Del("eth7") }()
	_, at := openAttached(t, l, opts)
	found := false
	for _, a := range at {
		if a.HostInterface == p.HostName {
			found = true
			if a.Container != name || a.Interface != "eth7" {
				t.Errorf("port %s: container %q interface %q, want %q eth7", a.HostInterface, a.Container, a.Interface, name)
			}
		}
	}
	if !found {
		t.Fatalf("port %s not attached: %+v", p.HostName, at)
	}
}

func mustLink(t *testing.T, nl *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := nl.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A port that went away while nothing watched is forgotten at the next attach: no pins,
// no registry entry.
func TestAttachSweepsGonePorts(t *testing.T) {
	t.Parallel()
	l, opts := dpLab(t)
	dp, err := Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	at, err := dp.AttachBridge(context.Background(), "docker0")
	if err != nil {
		t.Fatal(err)
	}
	dp.Close()
	var eth1 probe1
	for _, a := range at {
		if a.Interface == "eth1" {
			eth1 = probe1{a.Ifindex, a.HostInterface}
		}
	}
	if err := l.Host.Netlink.LinkDel(mustLink(t, l.Host.Netlink, eth1.host)); err != nil {
		t.Fatal(err)
	}
	gone := eth1.ifindex
	dp, err = Open(l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	if _, err := dp.AttachBridge(context.Background(), "docker0"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []Direction{Ingress, Egress} {
		if _, err := os.Stat(linkPin(dp.sets[0], gone, dir)); !os.IsNotExist(err) {
			t.Errorf("pin of the deleted port %d still there: %v", gone, err)
		}
	}
	for _, rp := range dp.reg.Ports {
		if rp.Ifindex == gone {
			t.Errorf("registry still has the deleted port %+v", rp)
		}
	}
	rep, err := Detach(l.Host.NS, opts)
	if err != nil || rep.Links+rep.Filters != 4 { // TCX links, or tc filters without TCX
		t.Errorf("detach after the sweep: %+v %v, want 4 links or filters (2 ports × 2)", rep, err)
	}
}

type probe1 struct {
	ifindex int
	host    string
}

// A port plugged into the bridge while nothing watched is reported unobserved until
// netctl attaches to it.
func TestUnobservedBridgePorts(t *testing.T) {
	t.Parallel()
	l, opts := dpLab(t)
	dp, _ := openAttached(t, l, opts)
	unobserved := func() int {
		s, err := dp.Snapshot(context.Background())
		if err != nil || len(s.Bridges) != 1 || s.Bridges[0].Name != "docker0" {
			t.Fatalf("bridges %+v, %v", s.Bridges, err)
		}
		return s.Bridges[0].Unobserved
	}
	if n := unobserved(); n != 0 {
		t.Fatalf("%d unobserved ports right after attach", n)
	}
	ns := nstest.NewNS(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth-late"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns.Handle)}
	if err := l.Host.Netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	if err := l.Host.Netlink.LinkSetMaster(veth, mustLink(t, l.Host.Netlink, "docker0")); err != nil {
		t.Fatal(err)
	}
	if n := unobserved(); n != 1 {
		t.Errorf("%d unobserved ports after plugging one in unwatched, want 1", n)
	}
	if _, err := dp.AttachBridge(context.Background(), "docker0"); err != nil {
		t.Fatal(err)
	}
	if n := unobserved(); n != 0 {
		t.Errorf("%d unobserved ports after attaching again, want 0", n)
	}
}
