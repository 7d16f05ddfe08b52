//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// TestTCXCountsMatchKernelStatistics attaches both programs with TCX to one end of a
// veth pair between two test namespaces, pings across, and wants the counters to move
// exactly as the interface's own kernel statistics do, with no ping lost, and the
// echo requests and replies to be one ICMP flow each way.
func TestTCXCountsMatchKernelStatistics(t *testing.T) {
	a, b := nstest.NewNS(t), nstest.NewNS(t)
	// No IPv6: its autoconfiguration would send packets at times of its own.
	for _, ns := range []*nstest.NS{a, b} {
		for _, key := range []string{"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"} {
			if err := nsutil.WriteSysctl(ns.Handle, key, "1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	const nameA, nameB = "va", "vb"
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: nameA},
		PeerName:      nameB,
		PeerNamespace: netlink.NsFd(b.Handle),
	}
	if err := a.Link.LinkAdd(veth); err != nil {
		t.Fatalf("create veth %s/%s: %v", nameA, nameB, err)
	}
	linkA := setUp(t, a, nameA, "10.99.0.1/24")
	setUp(t, b, nameB, "10.99.0.2/24")

	objs := mustLoadObjs(t)
	ifindex := linkA.Attrs().Index
	for _, dir := range []Direction{Ingress, Egress} {
		err := nsutil.Do(a.Handle, func() error {
			opts, err := tcxOptions(ifindex, dir, objs.NetctlIngress, objs.NetctlEgress)
			if err != nil {
				return err
			}
			l, err := link.AttachTCX(opts)
			if err != nil {
				return fmt.Errorf("attach tcx %v on ifindex %d: %w", dir, ifindex, err)
			}
			t.Cleanup(func() {
				if err := l.Close(); err != nil {
					t.Errorf("detach tcx %v: %v", dir, err)
				}
			})
			return nil
		})
		if err != nil {
			skipIfNoTCX(t, err)
			t.Fatalf("%+v", err)
		}
	}

	statsBefore := linkStats(t, a, nameA)
	countsBefore := readState(t, objs).totals

	const pings = 200
	out, err := exec.Command("ip", "netns", "exec", b.Name,
		"ping", "-c", strconv.Itoa(pings), "-i", "0.002", "-W", "1", "-q", "10.99.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("ping through the attached interface: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d packets transmitted, %d received, 0%% packet loss", pings, pings)) {
		t.Errorf("ping lost packets with the programs attached:\n%s", out)
	}

	after := readState(t, objs)
	countsAfter := after.totals
	statsAfter := linkStats(t, a, nameA)

	kernelRx := Totals{Packets: statsAfter.RxPackets - statsBefore.RxPackets, Bytes: statsAfter.RxBytes - statsBefore.RxBytes}
	kernelTx := Totals{Packets: statsAfter.TxPackets - statsBefore.TxPackets, Bytes: statsAfter.TxBytes - statsBefore.TxBytes}
	in := TotalsKey{Ifindex: uint32(ifindex), Dir: Ingress}
	eg := TotalsKey{Ifindex: uint32(ifindex), Dir: Egress}
	gotIn := delta(countsBefore[in], countsAfter[in])
	gotEg := delta(countsBefore[eg], countsAfter[eg])
	t.Logf("kernel rx %+v tx %+v; tc ingress %+v egress %+v", kernelRx, kernelTx, gotIn, gotEg)

	if gotIn != kernelRx {
		t.Errorf("ingress counter moved by %+v, kernel receive statistics by %+v", gotIn, kernelRx)
	}
	if gotEg != kernelTx {
		t.Errorf("egress counter moved by %+v, kernel transmit statistics by %+v", gotEg, kernelTx)
	}
	if gotIn.Packets < pings || gotEg.Packets < pings {
		t.Errorf("counted %d in / %d out, want at least %d each way", gotIn.Packets, gotEg.Packets, pings)
	}
	if keys := slices.Collect(maps.Keys(countsAfter)); len(keys) != 2 {
		t.Errorf("counters for %v, want only %v and %v", keys, in, eg)
	}

	// Real skbs parse as the test frames do: the echo requests came in and the
	// replies went out as one ICMP flow each, with every ping in it.
	echo := map[uint8]RawFlow{} // by ICMP type
	for fk, v := range after.flows {
		if fk.Proto != protoICMP || fk.Ifindex != uint32(ifindex) {
			continue
		}
		typ := uint8(fk.Sport >> 8)
		src, dst := [4]byte(fk.Saddr[:4]), [4]byte(fk.Daddr[:4])
		switch {
		case typ == 8 && Direction(fk.Dir) == Ingress && src == [4]byte{10, 99, 0, 2} && dst == [4]byte{10, 99, 0, 1},
			typ == 0 && Direction(fk.Dir) == Egress && src == [4]byte{10, 99, 0, 1} && dst == [4]byte{10, 99, 0, 2}:
			echo[typ] = RawFlow{Packets: echo[typ].Packets + v.Packets, Bytes: echo[typ].Bytes + v.Bytes}
		default:
			t.Errorf("unexpected ICMP flow %+v", fk)
		}
	}
	for _, typ := range []uint8{8, 0} {
		if echo[typ].Packets != pings {
			t.Errorf("ICMP type %d flow has %d packets (%d bytes), want %d", typ, echo[typ].Packets, echo[typ].Bytes, pings)
		}
	}
}

// TestCheckTCX wants TCX to work here (or, on a kernel without it, ebpf.ErrNotSupported)
// and CheckTCX to leave no namespace behind. Only CheckTCX's own names are compared:
// other tests may add and remove namespaces meanwhile.
func TestCheckTCX(t *testing.T) {
	nstest.RequireRoot(t)
	before := checkNamespaces(t)
	err := CheckTCX()
	if after := checkNamespaces(t); !slices.Equal(after, before) {
		t.Errorf("CheckTCX namespaces before: %q, after: %q", before, after)
	}
	if err != nil {
		skipIfNoTCX(t, err)
		t.Fatalf("CheckTCX: %+v", err)
	}
}

// checkNamespaces lists, from `ip netns list`, the namespaces named like CheckTCX's.
func checkNamespaces(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, _ := strings.Cut(line, " "); strings.HasPrefix(name, checkNSPrefix) {
			names = append(names, name)
		}
	}
	return names
}

func setUp(t *testing.T, ns *nstest.NS, name, cidr string) netlink.Link {
	t.Helper()
	l, err := ns.Link.LinkByName(name)
	if err != nil {
		t.Fatalf("find %s in %s: %v", name, ns.Name, err)
	}
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Link.AddrAdd(l, addr); err != nil {
		t.Fatalf("address %s on %s: %v", cidr, name, err)
	}
	if err := ns.Link.LinkSetUp(l); err != nil {
		t.Fatalf("set %s up: %v", name, err)
	}
	return l
}

func linkStats(t *testing.T, ns *nstest.NS, name string) netlink.LinkStatistics {
	t.Helper()
	l, err := ns.Link.LinkByName(name)
	if err != nil {
		t.Fatalf("statistics of %s in %s: %v", name, ns.Name, err)
	}
	return *l.Attrs().Statistics
}
