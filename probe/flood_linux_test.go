//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package probe

import (
	"maps"
	"slices"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// Destinations of delivered frames. Under BPF_PROG_TEST_RUN the frame is delivered on
// the loopback device, whose MAC is all zeros: the kernel marks a frame for zeroMAC
// PACKET_HOST and one for any other unicast MAC PACKET_OTHERHOST.
var (
	zeroMAC      = []byte{0, 0, 0, 0, 0, 0}
	broadcastMAC = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	mcast4MAC    = []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb} // 224.0.0.251
	mcast6MAC    = []byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01} // ff02::1
)

// withDst returns a copy of frame sent to dst.
func withDst(frame, dst []byte) []byte {
	f := slices.Clone(frame)
	copy(f, dst)
	return f
}

// TestProgramsFloodTable runs both programs, with each rx check, on frames for each kind
// of destination, and wants exactly the flooded ones (unicast, not for the interface the
// frame is delivered to) counted apart: totals as always, the flooded counters of the
// interface and of (bridge, destination), and no flow and no parse.
func TestProgramsFloodTable(t *testing.T) {
	dsts := []struct {
		name string
		mac  []byte
	}{
		{"to_peer", macB}, {"to_other", macC}, {"to_lo", zeroMAC},
		{"broadcast", broadcastMAC}, {"ipv4_multicast", mcast4MAC}, {"ipv6_multicast", mcast6MAC},
	}
	frames := []struct {
		name  string
		frame []byte
	}{
		{"ipv4_udp", eth(ethTypeIPv4, ipv4(protoUDP, udp(20)))},
		{"ipv6_tcp", eth(ethTypeIPv6, ipv6(protoTCP, tcp(10)))},
		{"arp", eth(ethTypeARP, arpRequest())},
	}
	const bridge = 7
	checks := []struct {
		name string
		port RxPort
		// flooded lists the destinations counted as flooded, per hook.
		flooded map[Direction][]string
	}{
		{"none", RxPort{}, nil},
		// A bridge port towards a container interface with MAC macB: what leaves the
		// port for another unicast MAC was flooded; what arrives is what the container sent.
		{"peer", RxPort{Check: RxPeer, MAC: [6]byte(macB), Bridge: bridge}, map[Direction][]string{Egress: {"to_other", "to_lo"}}},
		// The container's own interface (here lo, MAC zero): what arrives for another
		// unicast MAC was flooded; what leaves is what the container sends.
		{"self", RxPort{Check: RxSelf}, map[Direction][]string{Ingress: {"to_peer", "to_other"}}},
	}
	objs := mustLoadObjs(t)
	for _, c := range checks {
		setRxPort(t, objs, testRunIfindex, c.port)
		for _, p := range []struct {
			dir  Direction
			prog *ebpf.Program
		}{{Ingress, objs.NetctlIngress}, {Egress, objs.NetctlEgress}} {
			for _, d := range dsts {
				for _, f := range frames {
					frame := withDst(f.frame, d.mac)
					t.Run(c.name+"/"+p.dir.String()+"/"+d.name+"/"+f.name, func(t *testing.T) {
						before, after := runOnce(t, objs, p.prog, p.dir, frame)
						flooded := slices.Contains(c.flooded[p.dir], d.name)
						checkFlooded(t, before, after, flooded, FloodKey{Bridge: c.port.Bridge, MAC: [6]byte(d.mac)}, len(frame))
						_, _, res := refParse(frame, testRunIfindex, p.dir)
						wantFlows := b2i(!flooded && res == parsedFlow)
						if n := len(changedFlows(before, after)); n != wantFlows {
							t.Errorf("%d flows changed, want %d (flooded %v)", n, wantFlows, flooded)
						}
						if d := after.stats[StatNotParsed] - before.stats[StatNotParsed]; d != 0 {
							t.Errorf("stats[not_parsed] moved by %d", d)
						}
					})
				}
			}
		}
	}
}

// checkFlooded wants the flooded counters moved by one frame of n bytes under key if
// flooded, and not at all otherwise.
func checkFlooded(t *testing.T, before, after mapState, flooded bool, key FloodKey, n int) {
	t.Helper()
	want := Totals{}
	if flooded {
		want = Totals{Packets: 1, Bytes: uint64(n)}
	}
	if got := delta(before.flooded, after.flooded); got != want {
		t.Errorf("flooded counters moved by %+v, want %+v", got, want)
	}
	wantMACs := maps.Clone(before.floodedMACs)
	if flooded {
		wantMACs[key] = wantMACs[key].Add(want)
	}
	if !maps.Equal(after.floodedMACs, wantMACs) {
		t.Errorf("flooded destinations %v, want %v", after.floodedMACs, wantMACs)
	}
}

// skbCtx is the head of struct __sk_buff up to ifindex: BPF_PROG_TEST_RUN delivers the
// frame on that interface of the caller's namespace (every other field here must be 0).
type skbCtx struct {
	_       [10]uint32
	Ifindex uint32
}

// TestFloodLargeIfindex runs the programs on an interface whose ifindex is past the
// arrays (the hash maps rx_ports and flooded), in a namespace of the test's own.
func TestFloodLargeIfindex(t *testing.T) {
	if unsafe.Offsetof(skbCtx{}.Ifindex) != 40 {
		t.Fatal("skbCtx does not put ifindex where struct __sk_buff has it")
	}
	ns := nstest.NewNS(t)
	const ifindex = TotalsArrayIfindexes + 1000
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "big0", Index: ifindex, HardwareAddr: macB}, PeerName: "big1"}
	if err := ns.Link.LinkAdd(veth); err != nil {
		t.Fatalf("add veth with ifindex %d: %v", ifindex, err)
	}
	objs := mustLoadObjs(t)
	frame := eth(ethTypeIPv4, ipv4(protoUDP, udp(20))) // to macB
	run := func(prog *ebpf.Program, dst []byte) {
		t.Helper()
		err := nsutil.Do(ns.Handle, func() error {
			_, err := prog.Run(&ebpf.RunOptions{Data: withDst(frame, dst), Context: skbCtx{Ifindex: ifindex}})
			return err
		})
		if err != nil {
			t.Fatalf("run on ifindex %d: %v", ifindex, err)
		}
	}
	flooded := func() Totals {
		t.Helper()
		got, err := readFloodedPort(objs.FloodedByIndex, objs.Flooded, ifindex)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	one := Totals{Packets: 1, Bytes: uint64(len(frame))}

	// The container's own interface (big0's MAC is macB).
	setRxPort(t, objs, ifindex, RxPort{Check: RxSelf})
	run(objs.NetctlIngress, macB)
	if got := flooded(); got != (Totals{}) {
		t.Fatalf("a frame for the interface's own MAC counted as flooded: %+v", got)
	}
	run(objs.NetctlIngress, macC)
	if got := flooded(); got != one {
		t.Fatalf("flooded %+v after a frame for another MAC, want %+v", got, one)
	}
	// A bridge port whose container interface has macA.
	setRxPort(t, objs, ifindex, RxPort{Check: RxPeer, MAC: [6]byte(macA), Bridge: 3})
	run(objs.NetctlEgress, macA)
	run(objs.NetctlEgress, broadcastMAC)
	if got := flooded(); got != one {
		t.Fatalf("flooded %+v after frames for the peer and for all, want %+v", got, one)
	}
	run(objs.NetctlEgress, macC)
	if got := flooded(); got != one.Add(one) {
		t.Fatalf("flooded %+v, want %+v", got, one.Add(one))
	}
	totals, err := readTotals(objs.TotalsByIndex, objs.Totals)
	if err != nil {
		t.Fatal(err)
	}
	if got := totals[TotalsKey{Ifindex: ifindex, Dir: Egress}]; got.Packets != 3 {
		t.Errorf("egress totals %+v, want 3 packets (flooded frames stay in the totals)", got)
	}
	if err := deleteRxPort(objs.RxPortsByIndex, objs.RxPorts, ifindex); err != nil {
		t.Fatal(err)
	}
	run(objs.NetctlEgress, macC)
	if got := flooded(); got != one.Add(one) {
		t.Errorf("flooded %+v after the rx check was deleted, want it unchanged", got)
	}
}
