//go:build linux

package lab

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/nlutil"
)

func TestTrafficOptionsDefaultsAndLimits(t *testing.T) {
	o, err := TrafficOptions{}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	want := TrafficOptions{Count: 10, Size: 56, TCPBytes: 256 << 10, Timeout: time.Second, FlowTimeout: 30 * time.Second}
	if o != want {
		t.Errorf("defaults %+v, want %+v", o, want)
	}
	for _, bad := range []TrafficOptions{
		{Count: -1}, {Count: MaxCount + 1}, {Size: -1}, {Size: MaxSize + 1},
		{TCPBytes: -5}, {TCPBytes: MaxTCPBytes + 1}, {Timeout: time.Microsecond}, {Timeout: time.Hour},
		{Timeout: 5 * time.Second, FlowTimeout: time.Second}, {FlowTimeout: time.Hour},
	} {
		if _, err := bad.Resolve(); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
}

// The flows only ever target the lab's own addresses, in both directions through the
// host, and only use IPv6 in an IPv6 lab.
func TestFlows(t *testing.T) {
	s, _ := NewSpec("p", false)
	fs := flows(s)
	var got []string
	for _, f := range fs {
		got = append(got, string(f.src)+">"+string(f.dst)+" "+f.proto+" "+f.dstAddr.String())
	}
	want := []string{
		"container2>container1 icmp 172.17.0.2", "container2>container1 tcp 172.17.0.2",
		"outside>container1 icmp 172.17.0.2", "outside>container1 tcp 172.17.0.2",
		"container1>outside icmp 198.51.100.2", "container1>outside tcp 198.51.100.2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flows\n%v\nwant\n%v", got, want)
	}
	s6, _ := NewSpec("p", true)
	fs6 := flows(s6)
	if len(fs6) != 12 {
		t.Fatalf("IPv6 lab has %d flows, want 12", len(fs6))
	}
	for _, f := range fs6[6:] {
		if !f.dstAddr.Is6() || !strings.HasSuffix(f.proto, "6") || f.dstAddr != s6.Addr(f.dst, true) {
			t.Errorf("IPv6 flow %+v", f)
		}
	}
}

func TestFlowFinish(t *testing.T) {
	opts, _ := TrafficOptions{Count: 4, TCPBytes: 1000}.Resolve()
	for _, tc := range []struct {
		name string
		f    FlowReport
		ok   bool
		loss float64
	}{
		{"ping all back", FlowReport{Proto: "icmp", PacketsSent: 4, PacketsReceived: 4}, true, 0},
		{"ping one lost", FlowReport{Proto: "icmp6", PacketsSent: 4, PacketsReceived: 3}, false, 0.25},
		{"ping short send", FlowReport{Proto: "icmp", PacketsSent: 3, PacketsReceived: 3}, false, 0},
		{"ping nothing sent", FlowReport{Proto: "icmp", Errors: []string{"x"}}, false, 1},
		{"ping error", FlowReport{Proto: "icmp", PacketsSent: 4, PacketsReceived: 4, Errors: []string{"x"}}, false, 0},
		{"tcp all back", FlowReport{Proto: "tcp", BytesSent: 1000, PeerBytes: 1000, BytesReceived: 1000}, true, 0},
		{"tcp half back", FlowReport{Proto: "tcp6", BytesSent: 1000, PeerBytes: 1000, BytesReceived: 500}, false, 0.5},
		{"tcp peer short", FlowReport{Proto: "tcp", BytesSent: 1000, PeerBytes: 999, BytesReceived: 1000}, false, 0},
	} {
		f := tc.f
		f.finish(opts)
		if f.OK != tc.ok || f.Loss != tc.loss {
			t.Errorf("%s: ok=%v loss=%v, want ok=%v loss=%v", tc.name, f.OK, f.Loss, tc.ok, tc.loss)
		}
	}
}

func TestEchoRequestReply(t *testing.T) {
	payload := []byte("hello, lab!") // odd length exercises the checksum's last byte
	req := echoRequest(false, 0x1234, 7, payload)
	if req[0] != icmpEchoRequest || checksum(req) != 0 || len(req) != 8+len(payload) {
		t.Fatalf("bad echo request % x", req)
	}
	// The peer's reply: type 0, checksum adjusted.
	reply := bytes.Clone(req)
	reply[0], reply[2], reply[3] = icmpEchoReply, 0, 0
	sum := checksum(reply)
	reply[2], reply[3] = byte(sum>>8), byte(sum)
	id, seq, data, ok := parseEchoReply(false, reply)
	if !ok || id != 0x1234 || seq != 7 || !bytes.Equal(data, payload) {
		t.Errorf("parseEchoReply = %x %d %q %v", id, seq, data, ok)
	}
	if _, _, _, ok := parseEchoReply(false, req); ok {
		t.Error("an echo request parsed as a reply")
	}
	reply[9] ^= 0xff
	if _, _, _, ok := parseEchoReply(false, reply); ok {
		t.Error("a reply with a bad checksum parsed")
	}
	req6 := echoRequest(true, 1, 2, nil)
	if req6[0] != icmp6EchoRequest || req6[2] != 0 || req6[3] != 0 {
		t.Errorf("ICMPv6 request % x: want type 128 and checksum left to the kernel", req6)
	}
	rep6 := []byte{icmp6EchoReply, 0, 0xab, 0xcd, 0, 1, 0, 2}
	if id, seq, _, ok := parseEchoReply(true, rep6); !ok || id != 1 || seq != 2 {
		t.Errorf("ICMPv6 reply: %d %d %v", id, seq, ok)
	}
	if _, _, _, ok := parseEchoReply(true, rep6[:7]); ok {
		t.Error("truncated reply parsed")
	}
}

func TestPatternRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	n, err := writePattern(&buf, 100_000)
	if err != nil || n != 100_000 {
		t.Fatalf("writePattern = %d, %v", n, err)
	}
	b := buf.Bytes()
	got, err := readPattern(bytes.NewReader(b))
	if err != nil || got != 100_000 {
		t.Fatalf("readPattern = %d, %v", got, err)
	}
	b[77_777] ^= 1
	got, err = readPattern(bytes.NewReader(b))
	if err == nil || got != 77_777 {
		t.Errorf("corrupted stream: readPattern = %d, %v; want error at byte 77777", got, err)
	}
}

func sampleReport() *TrafficReport {
	a := netip.MustParseAddr
	return &TrafficReport{
		Prefix:  "p",
		Options: TrafficOptions{Count: 2, Size: 56, TCPBytes: 1024, Timeout: time.Second, FlowTimeout: time.Minute},
		Flows: []FlowReport{
			{Proto: "icmp", Src: RoleContainer2, Dst: RoleContainer1, SrcNS: "p-container2", DstNS: "p-container1",
				SrcAddr: a("172.17.0.3"), DstAddr: a("172.17.0.2"), ICMPID: 9, PacketsSent: 2, PacketsReceived: 2,
				BytesSent: 128, BytesReceived: 128, Duration: 3 * time.Millisecond, OK: true},
			{Proto: "tcp", Src: RoleOutside, Dst: RoleContainer1, SrcNS: "p-outside", DstNS: "p-container1",
				SrcAddr: a("198.51.100.2"), DstAddr: a("172.17.0.2"), SrcPort: 40000, DstPort: 41000,
				BytesSent: 1024, PeerBytes: 1024, BytesReceived: 512, Loss: 0.5, Errors: []string{"receive echo: i/o timeout"}},
		},
	}
}

func TestWriteTraffic(t *testing.T) {
	r := sampleReport()
	var out bytes.Buffer
	if err := WriteTraffic(&out, r); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"FLOW", "container2 -> container1", "2 pkts / 128 B", "172.17.0.2 port 41000", "1024 B", "512 B",
		"50.0%", "FAILED", "outside -> container1 tcp: receive echo: i/o timeout", "1 of 2 flows ok",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "1 of 2 flows failed") {
		t.Errorf("Err() = %v", err)
	}
	r.Flows = r.Flows[:1]
	if err := r.Err(); err != nil {
		t.Errorf("Err() of a clean report = %v", err)
	}
	// JSON round trip keeps every count.
	b, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var back TrafficReport
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, sampleReport()) {
		t.Errorf("JSON round trip:\n%+v\nwant\n%+v", back, *sampleReport())
	}
}

func sampleTopology() *Topology {
	p := netip.MustParsePrefix
	return &Topology{Prefix: "p", Namespaces: []NamespaceStatus{{
		Role: RoleHost, Name: "p-host", Forwarding: true, IPv6Disabled: true,
		Interfaces: []InterfaceStatus{
			{Name: "lo", Index: 1, Type: "device", State: "unknown", AdminUp: true, MTU: 65536, Addresses: []netip.Prefix{p("127.0.0.1/8")}},
			{Name: "docker0", Index: 2, Type: "bridge", State: "up", AdminUp: true, MTU: 1500, MAC: "02:00:00:00:00:01", Addresses: []netip.Prefix{p("172.17.0.1/16")}},
			{Name: "veth-c1", Index: 3, Type: "veth", State: "up", AdminUp: true, MTU: 1500, Master: "docker0", Addresses: []netip.Prefix{}},
			{Name: "outside0", Index: 5, Type: "veth", State: "down", MTU: 1500, Addresses: []netip.Prefix{p("198.51.100.1/24")}},
		},
		Routes: []nlutil.Route{
			{Dst: p("172.17.0.0/16"), Dev: "docker0", Src: netip.MustParseAddr("172.17.0.1"), Protocol: 2, Scope: nlutil.ScopeLink},
			{Dst: p("0.0.0.0/0"), Gateway: netip.MustParseAddr("198.51.100.9"), Dev: "outside0"},
		},
	}}}
}

func TestWriteTopology(t *testing.T) {
	top := sampleTopology()
	top.Namespaces[0].Bridges = bridges(top.Namespaces[0].Interfaces)
	if want := []BridgeStatus{{Name: "docker0", Ports: []string{"veth-c1"}}}; !reflect.DeepEqual(top.Namespaces[0].Bridges, want) {
		t.Errorf("bridges %+v, want %+v", top.Namespaces[0].Bridges, want)
	}
	var out bytes.Buffer
	if err := WriteTopology(&out, top); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"lab p (IPv6 off)", "netns p-host (host)  ipv4 forwarding=on  ipv6=off",
		"docker0", "172.17.0.1/16", "bridge docker0 ports: veth-c1", "down (admin down)",
		"default", "198.51.100.9", "172.17.0.0/16",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
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
		t.Errorf("JSON round trip:\n%+v\nwant\n%+v", back, *top)
	}
}
