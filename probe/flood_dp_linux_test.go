//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"context"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/lab"
)

// The seed's NIC with a bridge that forgets every MAC at once (ageing_time 0): the
// requests container2 sends to container1's eth0 and the replies eth1 sends back are
// flooded to every port. The copies the other interfaces get are counted as flooded,
// under the destination's MAC, and make no flow; eth0 receives the requests as its own.
func TestFloodedCopiesKeptApart(t *testing.T) {
	t.Parallel()
	l, opts := dpLabWith(t, lab.Options{Container3: true})
	if err := l.SetBridgeAgeing(0); err != nil {
		t.Fatal(err)
	}
	dp, _ := openAttached(t, l, opts)
	const n = 200
	if out, err := exec.Command("ip", "netns", "exec", l.Container2.Name, "ping", "-q", "-i", "0.002", "-c", "200", "-W", "1", "172.17.0.2").CombinedOutput(); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}

	s := dp.sets[0]
	hostIdx := func(name string) int { return mustLink(t, l.Host.Netlink, name).Attrs().Index }
	flooded := func(host string) Totals {
		t.Helper()
		got, err := readFloodedPort(s.objs.FloodedByIndex, s.objs.Flooded, hostIdx(host))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	eth1Host := ""
	for _, p := range dp.Ports(context.Background()) {
		if p.Container == l.Container1.Name && p.Interface == "eth1" {
			eth1Host = p.HostInterface
		}
	}
	for _, c := range []struct {
		host string
		min  uint64 // flooded packets at least
		max  uint64
	}{
		// eth0: the requests are its own; the replies eth1 sends to container2's MAC
		// are flooded to it too.
		{l.Container1.HostVeth, n, 2 * n},
		{eth1Host, n, 2 * n},                  // the requests, for eth0's MAC
		{l.Container3.HostVeth, 2 * n, 4 * n}, // requests and replies
	} {
		got := flooded(c.host)
		t.Logf("%s flooded %+v", c.host, got)
		if got.Packets < c.min || got.Packets > c.max {
			t.Errorf("%s: %d flooded packets, want %d to %d", c.host, got.Packets, c.min, c.max)
		}
	}
	eth0 := mustLink(t, l.Container1.Netlink, "eth0").Attrs().HardwareAddr
	macs, err := readFloodedMACs(s.objs.FloodedMacs, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var toEth0 uint64
	for _, m := range macs {
		if m.MAC == [6]byte(eth0) && m.Bridge == hostIdx("docker0") {
			toEth0 += m.Totals.Packets
		}
	}
	if toEth0 < 2*n { // every request, once on eth1's port and once on container3's
		t.Errorf("%d flooded copies for eth0's MAC %s on docker0, want at least %d: %+v", toEth0, eth0, 2*n, macs)
	}

	// The snapshot says the same, read by the datapath and from the pins.
	pinned, err := ReadPinned(context.Background(), l.Host.NS, opts)
	if err != nil {
		t.Fatal(err)
	}
	live, err := dp.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, snap := range []Snapshot{live, pinned} {
		for _, ic := range snap.Interfaces {
			want, err := readFloodedPort(s.objs.FloodedByIndex, s.objs.Flooded, ic.Ifindex)
			if err != nil {
				t.Fatal(err)
			}
			if ic.RxFloodedPackets != want.Packets || ic.RxFloodedBytes != want.Bytes || ic.RxFloodedPackets > ic.RxPackets {
				t.Errorf("%s %s: flooded %d/%d of rx %d, want %+v", ic.Container, ic.Interface, ic.RxFloodedPackets, ic.RxFloodedBytes, ic.RxPackets, want)
			}
		}
		found := false
		for _, d := range snap.Flooded {
			if d.MAC == eth0.String() {
				found = d.Bridge == "docker0" && d.Container == l.Container1.Name && d.Interface == "eth0" && d.Packets >= 2*n &&
					time.Since(d.LastSeen) < time.Minute
			}
		}
		if !found {
			t.Errorf("snapshot's flooded destinations %+v: want docker0 flooding ≥ %d frames for %s eth0 (%s)", snap.Flooded, 2*n, l.Container1.Name, eth0)
		}
	}

	// No flow of container1's on container3's port, nor the requests on eth1's.
	c1 := netip.MustParseAddr("172.17.0.2")
	var raw []Entry
	if _, err := eachEntry(context.Background(), []mapRefs{{flows: s.objs.Flows, cache: s.objs.FlowCache}}, func(e *Entry) { raw = append(raw, *e) }); err != nil {
		t.Fatal(err)
	}
	for _, e := range raw {
		if src, dst := e.Addrs(); src != c1 && dst != c1 {
			continue
		}
		f := e.Key
		switch int(f.Ifindex) {
		case hostIdx(l.Container3.HostVeth):
			t.Errorf("container3's port has a flow of container1's: %+v", f)
		case hostIdx(eth1Host):
			if Direction(f.Dir) == Egress { // received by eth1
				t.Errorf("eth1 received a flow of container1's: %+v", f)
			}
		}
	}
}
