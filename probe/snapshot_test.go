package probe

import (
	"net/netip"
	"testing"
	"time"
)

func TestBuildSnapshotDirectionsAndDedup(t *testing.T) {
	ports := []Port{
		{Container: "c1", Interface: "eth0", HostInterface: "veth-c1", Bridge: "docker0", Ifindex: 3},
		{Container: "c1", Interface: "eth1", HostInterface: "nc1", Bridge: "docker0", Ifindex: 6},
		// eth1 also attached inside c1: reported once, from the host side.
		{Container: "c1", Interface: "eth1", NSCookie: 99, Ifindex: 3, InContainer: true},
		// An interface only attached inside: its own sense.
		{Container: "c2", Interface: "eth5", NSCookie: 77, Ifindex: 9, InContainer: true},
	}
	totals := []RawTotals{
		{Ifindex: 3, Dir: Egress, Totals: Totals{10, 1000}},  // into c1 eth0
		{Ifindex: 3, Dir: Ingress, Totals: Totals{1, 60}},    // out of c1 eth0
		{Ifindex: 6, Dir: Ingress, Totals: Totals{10, 1100}}, // out of c1 eth1
		{NSCookie: 99, Ifindex: 3, Dir: Ingress, Totals: Totals{5, 500}},
		{NSCookie: 77, Ifindex: 9, Dir: Ingress, Totals: Totals{7, 700}}, // into c2 eth5
		{Ifindex: 42, Dir: Ingress, Totals: Totals{1, 1}},                // unknown port
	}
	mono := uint64(100 * time.Second)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	flows := []RawFlow{{Ifindex: 3, Dir: Egress, Proto: 6, Src: netip.MustParseAddr("172.17.0.3"), Dst: netip.MustParseAddr("172.17.0.2"),
		Sport: 40000, Dport: 80, Packets: 3, Bytes: 300, FirstNs: mono - uint64(2*time.Second), LastNs: mono - uint64(time.Second)}}
	s := BuildSnapshot(ports, totals, flows, mono, now)
	want := map[[2]string][4]uint64{
		{"c1", "eth0"}: {10, 1000, 1, 60},
		{"c1", "eth1"}: {0, 0, 10, 1100},
		{"c2", "eth5"}: {7, 700, 0, 0},
	}
	if len(s.Interfaces) != len(want) {
		t.Fatalf("%d interfaces, want %d: %+v", len(s.Interfaces), len(want), s.Interfaces)
	}
	for _, c := range s.Interfaces {
		w, ok := want[[2]string{c.Container, c.Interface}]
		if got := [4]uint64{c.RxPackets, c.RxBytes, c.TxPackets, c.TxBytes}; !ok || got != w {
			t.Errorf("%s %s (in container %v): %v, want %v", c.Container, c.Interface, c.InContainer, got, w)
		}
	}
	if len(s.Flows) != 1 || s.Flows[0].Direction != Receive || s.Flows[0].Container != "c1" ||
		!s.Flows[0].LastSeen.Equal(now.Add(-time.Second)) || !s.Flows[0].FirstSeen.Equal(now.Add(-2*time.Second)) {
		t.Errorf("flows: %+v", s.Flows)
	}
}
