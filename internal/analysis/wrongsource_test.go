package analysis

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/netctl/netctl/probe"
)

func TestDetectWrongSource(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr
	c2, eth0, eth1 := a("172.17.0.3"), a("172.17.0.2"), a("172.17.0.99")
	flow := func(ctr, ifc string, dir probe.FlowDirection, proto uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16, pkts uint64) probe.Flow {
		return probe.Flow{Container: ctr, Interface: ifc, Direction: dir, Proto: proto, Src: src, SrcPort: sport, Dst: dst, DstPort: dport,
			Packets: pkts, Bytes: 100 * pkts, FirstSeen: now.Add(-time.Minute), LastSeen: now.Add(-time.Second), NetnsPath: "/run/netns/" + ctr}
	}
	rx, tx := probe.Receive, probe.Transmit
	const udp, tcp, icmp = probe.ProtoUDP, probe.ProtoTCP, probe.ProtoICMP
	// The seed: a UDP server bound to 0.0.0.0 asked at eth0's address answers from eth1's.
	seedUDP := []probe.Flow{
		flow("c1", "eth0", rx, udp, c2, 40000, eth0, 7777, 10),
		flow("c1", "eth1", tx, udp, eth1, 7777, c2, 40000, 9),
	}
	wantSeed := WrongSource{Container: "c1", Proto: udp, Requested: eth0, RepliedFrom: eth1, LocalPort: 7777, Remote: c2, RemotePort: 40000,
		InInterface: "eth0", OutInterface: "eth1", RequestPackets: 10, ReplyPackets: 9, ReplyBytes: 900, LastSeen: now.Add(-time.Second), NetnsPath: "/run/netns/c1"}
	old := flow("c1", "eth0", rx, udp, c2, 40001, eth0, 7777, 3)
	old.LastSeen = now.Add(-10 * time.Minute)
	for _, tc := range []struct {
		name  string
		flows []probe.Flow
		want  []WrongSource
	}{
		{"the seed's udp server", seedUDP, []WrongSource{wantSeed}},
		{"bound to the address asked, even out the other interface", []probe.Flow{
			flow("c1", "eth0", rx, udp, c2, 40000, eth0, 7777, 10),
			flow("c1", "eth1", tx, udp, eth0, 7777, c2, 40000, 10),
		}, nil},
		{"ping answered from the other address", []probe.Flow{
			flow("c1", "eth0", rx, icmp, c2, 8<<8, eth0, 0x1234, 5),
			flow("c1", "eth1", tx, icmp, eth1, 0, c2, 0x1234, 5),
		}, []WrongSource{{Container: "c1", Proto: icmp, Requested: eth0, RepliedFrom: eth1, LocalPort: 0x1234, Remote: c2, RemotePort: 0x1234,
			InInterface: "eth0", OutInterface: "eth1", RequestPackets: 5, ReplyPackets: 5, ReplyBytes: 500, LastSeen: now.Add(-time.Second), NetnsPath: "/run/netns/c1"}}},
		{"a server answering each of its addresses from itself", []probe.Flow{
			flow("c1", "eth0", rx, udp, c2, 40000, eth0, 53, 4),
			flow("c1", "eth0", tx, udp, eth0, 53, c2, 40000, 4),
			flow("c1", "eth1", rx, udp, c2, 40000, eth1, 53, 4),
			flow("c1", "eth1", tx, udp, eth1, 53, c2, 40000, 4),
		}, nil},
		{"a client talking from two addresses", []probe.Flow{
			flow("c1", "eth0", tx, udp, eth0, 5000, c2, 53, 1),
			flow("c1", "eth0", rx, udp, c2, 53, eth0, 5000, 1),
			flow("c1", "eth1", tx, udp, eth1, 5000, c2, 53, 1),
			flow("c1", "eth1", rx, udp, c2, 53, eth1, 5000, 1),
		}, nil},
		{"another remote port, another container: no pair", []probe.Flow{
			flow("c1", "eth0", rx, udp, c2, 40000, eth0, 7777, 10),
			flow("c1", "eth1", tx, udp, eth1, 7777, c2, 40002, 9),
			flow("c9", "eth1", tx, udp, eth1, 7777, c2, 40000, 9),
		}, nil},
		{"requests gone idle", []probe.Flow{old, flow("c1", "eth1", tx, udp, eth1, 7777, c2, 40001, 9)}, nil},
		{"icmp other than echo, fragments", []probe.Flow{
			flow("c1", "eth0", rx, icmp, c2, 3<<8|3, eth0, 0, 1),
			flow("c1", "eth1", tx, icmp, eth1, 3<<8|3, c2, 0, 1),
			flow("c1", "eth0", rx, udp, c2, 0, eth0, 0, 1),
			flow("c1", "eth1", tx, udp, eth1, 0, c2, 0, 1),
		}, nil},
		{"a tcp syn-ack from the other address", []probe.Flow{
			flow("c1", "eth0", rx, tcp, c2, 40000, eth0, 80, 3),
			flow("c1", "eth1", tx, tcp, eth1, 80, c2, 40000, 3),
		}, []WrongSource{{Container: "c1", Proto: tcp, Requested: eth0, RepliedFrom: eth1, LocalPort: 80, Remote: c2, RemotePort: 40000,
			InInterface: "eth0", OutInterface: "eth1", RequestPackets: 3, ReplyPackets: 3, ReplyBytes: 300, LastSeen: now.Add(-time.Second), NetnsPath: "/run/netns/c1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DetectWrongSource(tc.flows, now, DefaultIdle)
			for i := range got {
				got[i].LastSeen = got[i].LastSeen.UTC() // the same instant, in the test's zone
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// idle ≤ 0 keeps every flow, the idle one too.
	if got := DetectWrongSource([]probe.Flow{old, flow("c1", "eth1", tx, udp, eth1, 7777, c2, 40001, 9)}, now, 0); len(got) != 1 {
		t.Errorf("idle 0: %+v, want the pair", got)
	}
}
