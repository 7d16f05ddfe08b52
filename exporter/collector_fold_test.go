package exporter

import (
	"testing"
	"time"

	"github.com/netctl/netctl/probe"
)

// TestFoldPort: the port label of a conversation's flows (analysis.ServicePorts; the rule's
// own cases are in internal/analysis), the same on every flow and interface.
func TestFoldPort(t *testing.T) {
	withFlags := func(f probe.Flow, flags uint8) probe.Flow { f.TCPFlags = flags; return f }
	in := func(proto uint8, lport, rport uint16, first time.Duration) probe.Flow {
		return cflow("eth0", probe.Receive, proto, "10.0.0.3", rport, "172.17.0.2", lport, 1, 1, first, 0)
	}
	out := func(proto uint8, lport, rport uint16, first time.Duration) probe.Flow {
		return cflow("eth1", probe.Transmit, proto, "172.17.0.2", lport, "10.0.0.3", rport, 1, 1, first, 0)
	}
	cases := []struct {
		name  string
		flows []probe.Flow
		want  string
	}{
		{"peer's ephemeral port to local 80", []probe.Flow{in(6, 80, 40000, 0), out(6, 80, 40000, 0)}, "80"},
		{"local ephemeral port to remote 443", []probe.Flow{out(6, 40000, 443, 0), in(6, 40000, 443, 0)}, "443"},
		{"both low, SYN first into the container", []probe.Flow{withFlags(in(6, 9090, 8080, 0), 0x12), withFlags(out(6, 9090, 8080, time.Millisecond), 0x12)}, "9090"},
		{"both low, SYN first out of the container", []probe.Flow{withFlags(in(6, 9090, 8080, time.Millisecond), 0x12), withFlags(out(6, 9090, 8080, 0), 0x12)}, "8080"},
		{"udp both high, peer first", []probe.Flow{in(17, 51820, 40000, 0), out(17, 51820, 40000, time.Second)}, "51820"},
		{"udp both low, same stamps: lower", []probe.Flow{in(17, 9090, 8080, 0), out(17, 9090, 8080, 0)}, "8080"},
		{"fragments (ports 0)", []probe.Flow{in(17, 0, 0, 0), out(17, 0, 0, 0)}, ""},
		{"icmp echo", []probe.Flow{in(1, 7, 8<<8, 0), out(1, 7, 0, 0)}, ""},
	}
	for _, c := range cases {
		for i, k := range foldFlows(c.flows) {
			if k.Port != c.want {
				t.Errorf("%s: flow %d port %q, want %q", c.name, i, k.Port, c.want)
			}
		}
	}
}

// TestFoldFlows: connections to one service fold into one series per interface and
// direction; the asymmetric reply on another interface gets the same port label; the
// container's own connections out fold onto the remote's port.
func TestFoldFlows(t *testing.T) {
	flows := []probe.Flow{
		cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 1, 1, 0, 0),
		cflow("eth1", probe.Transmit, 6, "172.17.0.2", 80, "10.0.0.3", 40000, 1, 1, time.Millisecond, 0),
		cflow("eth0", probe.Receive, 6, "10.0.0.3", 40001, "172.17.0.2", 80, 1, 1, 0, 0),
		cflow("eth0", probe.Transmit, 17, "172.17.0.2", 45000, "8.8.8.8", 53, 1, 1, 0, 0),
		cflow("eth0", probe.Receive, 17, "8.8.8.8", 53, "172.17.0.2", 45000, 1, 1, 0, 0),
		cflow("eth0", probe.Receive, 58, "fe80::1", 129<<8, "fe80::2", 9, 1, 1, 0, 0),
	}
	want := []seriesKey{
		{"c1", "eth0", "tcp", "172.17.0.2", "10.0.0.3", "80"},
		{"c1", "eth1", "tcp", "172.17.0.2", "10.0.0.3", "80"},
		{"c1", "eth0", "tcp", "172.17.0.2", "10.0.0.3", "80"},
		{"c1", "eth0", "udp", "172.17.0.2", "8.8.8.8", "53"},
		{"c1", "eth0", "udp", "172.17.0.2", "8.8.8.8", "53"},
		{"c1", "eth0", "icmpv6", "fe80::2", "fe80::1", ""},
	}
	got := foldFlows(flows)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flow %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCounterAdd(t *testing.T) {
	var c counter
	steps := []struct {
		raw       uint64
		restarted bool
		delta     uint64
		total     uint64
	}{
		{100, false, 100, 100}, // first read: the kernel's value
		{150, false, 50, 150},
		{150, false, 0, 150},
		{20, false, 20, 170},  // fell: the entry restarted from 0
		{200, true, 200, 370}, // restarted, already above the last value
	}
	for i, s := range steps {
		if d := c.add(s.raw, s.restarted); d != s.delta || c.total != s.total {
			t.Errorf("step %d: delta %d total %d, want %d %d", i, d, c.total, s.delta, s.total)
		}
	}
}

func TestLimitSeries(t *testing.T) {
	sv := func(remote string, rx, tx uint64) seriesView {
		return seriesView{seriesKey{Container: "c1", Remote: remote}, traffic{RxBytes: rx, TxBytes: tx}}
	}
	in := []seriesView{sv("a", 10, 0), sv("b", 5, 10), sv("c", 20, 0), sv("d", 15, 0)}
	cases := []struct {
		n       int
		kept    string
		dropped int
	}{
		{-1, "abcd", 0},
		{4, "abcd", 0},
		{2, "cb", 2}, // c 20, then b and d tie at 15: by labels
		{0, "", 4},
	}
	for _, c := range cases {
		kept, dropped := limitSeries(in, c.n)
		got := ""
		for _, s := range kept {
			got += s.Remote
		}
		if got != c.kept || dropped != c.dropped {
			t.Errorf("limit %d: kept %q dropped %d, want %q %d", c.n, got, dropped, c.kept, c.dropped)
		}
	}
	if in[0].Remote != "a" {
		t.Errorf("limitSeries changed its input")
	}
}
