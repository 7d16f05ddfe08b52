package analysis

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/probe"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	c1 = "container1"
	c2 = "container2"
	rx = probe.Receive
	tx = probe.Transmit
)

// fl builds a flow with addresses as on the wire; first and last are offsets from t0.
func fl(ctr, ifc string, dir probe.FlowDirection, proto uint8, src string, sport uint16, dst string, dport uint16, bytes uint64, first, last time.Duration) probe.Flow {
	return probe.Flow{
		Container: ctr, NetnsPath: "/var/run/netns/" + ctr, Interface: ifc, Direction: dir, Proto: proto,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport,
		Packets: bytes/100 + 1, Bytes: bytes, FirstSeen: t0.Add(first), LastSeen: t0.Add(last),
	}
}

// icmp builds an ICMP flow of type typ with echo identifier id.
func icmp(ctr, ifc string, dir probe.FlowDirection, proto uint8, src, dst string, typ uint8, id uint16, bytes uint64, last time.Duration) probe.Flow {
	return fl(ctr, ifc, dir, proto, src, uint16(typ)<<8, dst, id, bytes, 0, last)
}

func ptr(f probe.Flow) *probe.Flow { return &f }

func syn(f probe.Flow, flags uint8) probe.Flow { f.TCPFlags = flags; return f }

// short renders a conversation as the tests compare it.
func short(c Conversation) string {
	return fmt.Sprintf("%s %d %s:%d<-%s:%d init=%s in=%s out=%s inB=%d outB=%d", c.Container, c.Proto,
		c.Local, c.LocalPort, c.Remote, c.RemotePort, c.Initiator, c.InInterface, c.OutInterface, c.InBytes, c.OutBytes)
}

func TestDetectAsymmetric(t *testing.T) {
	now := t0.Add(time.Hour)
	act := time.Hour - time.Second // last seen a second before now
	old := time.Hour - 10*time.Minute
	for _, tc := range []struct {
		name  string
		flows []probe.Flow
		idle  time.Duration
		want  []string
	}{
		{
			name: "peer connects in: request in eth0, reply out eth1",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, act),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, act),
			},
			want: []string{"container1 6 172.17.0.2:80<-172.17.0.3:41000 init=remote in=eth0 out=eth1 inB=1000 outB=5000"},
		},
		{
			name: "container connects out: request out eth1, reply in eth0",
			flows: []probe.Flow{
				fl(c1, "eth1", tx, 6, "172.17.0.2", 45000, "198.51.100.2", 443, 700, 0, act),
				fl(c1, "eth0", rx, 6, "198.51.100.2", 443, "172.17.0.2", 45000, 9000, 0, act),
			},
			want: []string{"container1 6 172.17.0.2:45000<-198.51.100.2:443 init=local in=eth0 out=eth1 inB=9000 outB=700"},
		},
		{
			name: "symmetric conversations are not reported",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, act),
				fl(c1, "eth0", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, act),
				fl(c1, "eth1", tx, 17, "172.17.0.99", 40000, "198.51.100.2", 53, 60, 0, act),
				fl(c1, "eth1", rx, 17, "198.51.100.2", 53, "172.17.0.99", 40000, 90, 0, act),
			},
		},
		{
			name: "one direction only is not a conversation to judge",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 17, "172.17.0.3", 5000, "172.17.0.2", 514, 1000, 0, act),
				fl(c1, "eth1", tx, 17, "172.17.0.99", 5000, "172.17.0.3", 514, 1000, 0, act),
			},
		},
		{
			name: "idle conversations are not reported",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, old),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, old),
			},
			idle: 5 * time.Minute,
		},
		{
			name: "idle flows do not decide: the stale eth1 replies are gone, eth0 answers now",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, act),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, old),
				fl(c1, "eth0", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 300, time.Hour-2*time.Second, act),
			},
			idle: 5 * time.Minute,
		},
		{
			name: "idle 0 keeps every flow",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, old),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, old),
			},
			idle: 0,
			want: []string{"container1 6 172.17.0.2:80<-172.17.0.3:41000 init=remote in=eth0 out=eth1 inB=1000 outB=5000"},
		},
		{
			name: "replies seen on both interfaces are not asymmetric",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, act),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, act),
				fl(c1, "eth0", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 10, 0, act),
			},
		},
		{
			name: "requests arriving on both interfaces (ARP flux) are not asymmetric",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, act),
				fl(c1, "eth1", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, act),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, act),
			},
		},
		{
			name: "ICMP echo both ways with the same identifier: two conversations",
			flows: []probe.Flow{
				icmp(c1, "eth0", rx, 1, "172.17.0.3", "172.17.0.2", 8, 7, 840, act),
				icmp(c1, "eth1", tx, 1, "172.17.0.2", "172.17.0.3", 0, 7, 840, act),
				icmp(c1, "eth1", tx, 1, "172.17.0.2", "172.17.0.3", 8, 7, 168, act),
				icmp(c1, "eth0", rx, 1, "172.17.0.3", "172.17.0.2", 0, 7, 168, act),
			},
			want: []string{
				"container1 1 172.17.0.2:7<-172.17.0.3:7 init=local in=eth0 out=eth1 inB=168 outB=168",
				"container1 1 172.17.0.2:7<-172.17.0.3:7 init=remote in=eth0 out=eth1 inB=840 outB=840",
			},
		},
		{
			name: "ICMPv6 echo; another identifier is another conversation",
			flows: []probe.Flow{
				icmp(c1, "eth0", rx, 58, "fd17::3", "fd17::2", 128, 9, 1040, act),
				icmp(c1, "eth1", tx, 58, "fd17::2", "fd17::3", 129, 9, 1040, act),
				icmp(c1, "eth0", rx, 58, "fd17::3", "fd17::2", 128, 10, 104, act),
				icmp(c1, "eth0", tx, 58, "fd17::2", "fd17::3", 129, 10, 104, act),
			},
			want: []string{"container1 58 fd17::2:9<-fd17::3:9 init=remote in=eth0 out=eth1 inB=1040 outB=1040"},
		},
		{
			name: "other ICMP pairs by addresses, initiator unknown",
			flows: []probe.Flow{
				icmp(c1, "eth0", rx, 1, "172.17.0.3", "172.17.0.2", 3, 0, 70, act),
				icmp(c1, "eth1", tx, 1, "172.17.0.2", "172.17.0.3", 11, 0, 70, act),
			},
			want: []string{"container1 1 172.17.0.2:0<-172.17.0.3:0 init= in=eth0 out=eth1 inB=70 outB=70"},
		},
		{
			name: "two containers are independent",
			flows: []probe.Flow{
				// container1 receives on eth0; the reverse 5-tuple leaves container2, not container1.
				fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1000, 0, act),
				fl(c2, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 5000, 0, act),
				// container2's own conversation is symmetric.
				fl(c2, "eth0", tx, 1, "172.17.0.3", 8<<8, "172.17.0.2", 5, 84, 0, act),
				fl(c2, "eth0", rx, 1, "172.17.0.2", 0, "172.17.0.3", 5, 84, 0, act),
				// container1's side of that ping is asymmetric.
				icmp(c1, "eth0", rx, 1, "172.17.0.3", "172.17.0.2", 8, 5, 84, act),
				icmp(c1, "eth1", tx, 1, "172.17.0.2", "172.17.0.3", 0, 5, 84, act),
			},
			want: []string{"container1 1 172.17.0.2:5<-172.17.0.3:5 init=remote in=eth0 out=eth1 inB=84 outB=84"},
		},
		{
			name: "both ports ephemeral: the direction seen first is the initiator's",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 6, "172.17.0.3", 50000, "172.17.0.2", 40000, 100, time.Millisecond, act),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 40000, "172.17.0.3", 50000, 100, 5*time.Millisecond, act),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 40001, "172.17.0.3", 50001, 100, time.Millisecond, act),
				fl(c1, "eth0", rx, 6, "172.17.0.3", 50001, "172.17.0.2", 40001, 100, 5*time.Millisecond, act),
				// same first-seen tick: the lower port is the service
				fl(c1, "eth0", rx, 6, "172.17.0.3", 50002, "172.17.0.2", 60000, 100, 0, act),
				fl(c1, "eth1", tx, 6, "172.17.0.2", 60000, "172.17.0.3", 50002, 100, 0, act),
			},
			want: []string{
				"container1 6 172.17.0.2:40000<-172.17.0.3:50000 init=remote in=eth0 out=eth1 inB=100 outB=100",
				"container1 6 172.17.0.2:40001<-172.17.0.3:50001 init=local in=eth0 out=eth1 inB=100 outB=100",
				"container1 6 172.17.0.2:60000<-172.17.0.3:50002 init=local in=eth0 out=eth1 inB=100 outB=100",
			},
		},
		{
			name: "several out interfaces: the busiest is named, its bytes counted",
			flows: []probe.Flow{
				fl(c1, "eth0", rx, 17, "172.17.0.3", 41000, "172.17.0.2", 53, 100, 0, act),
				fl(c1, "eth1", tx, 17, "172.17.0.2", 53, "172.17.0.3", 41000, 300, 0, act),
				fl(c1, "eth2", tx, 17, "172.17.0.2", 53, "172.17.0.3", 41000, 200, 0, act),
			},
			want: []string{"container1 17 172.17.0.2:53<-172.17.0.3:41000 init=remote in=eth0 out=eth1 inB=100 outB=300"},
		},
		{
			name: "sorted by container, then addresses",
			flows: []probe.Flow{
				fl(c2, "eth0", rx, 17, "10.0.0.9", 41000, "10.0.0.1", 53, 1, 0, act),
				fl(c2, "eth9", tx, 17, "10.0.0.1", 53, "10.0.0.9", 41000, 1, 0, act),
				fl(c1, "eth0", rx, 17, "10.0.0.9", 41000, "10.0.0.2", 53, 1, 0, act),
				fl(c1, "eth1", tx, 17, "10.0.0.2", 53, "10.0.0.9", 41000, 1, 0, act),
				fl(c1, "eth0", rx, 17, "10.0.0.8", 41000, "10.0.0.2", 53, 1, 0, act),
				fl(c1, "eth1", tx, 17, "10.0.0.2", 53, "10.0.0.8", 41000, 1, 0, act),
			},
			want: []string{
				"container1 17 10.0.0.2:53<-10.0.0.8:41000 init=remote in=eth0 out=eth1 inB=1 outB=1",
				"container1 17 10.0.0.2:53<-10.0.0.9:41000 init=remote in=eth0 out=eth1 inB=1 outB=1",
				"container2 17 10.0.0.1:53<-10.0.0.9:41000 init=remote in=eth0 out=eth9 inB=1 outB=1",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idle := tc.idle
			if idle == 0 && !strings.HasPrefix(tc.name, "idle 0") {
				idle = 5 * time.Minute
			}
			got := DetectAsymmetric(tc.flows, now, idle)
			var gs []string
			for _, c := range got {
				gs = append(gs, short(c))
				if c.NetnsPath != "/var/run/netns/"+c.Container {
					t.Errorf("%s: NetnsPath %q", short(c), c.NetnsPath)
				}
				if c.LastSeen.IsZero() {
					t.Errorf("%s: no LastSeen", short(c))
				}
			}
			if strings.Join(gs, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(gs, "\n"), strings.Join(tc.want, "\n"))
			}
			// Pure and order-independent: the reversed input gives the same answer.
			rev := make([]probe.Flow, len(tc.flows))
			for i, f := range tc.flows {
				rev[len(rev)-1-i] = f
			}
			var rs []string
			for _, c := range DetectAsymmetric(rev, now, idle) {
				rs = append(rs, short(c))
			}
			if strings.Join(rs, "\n") != strings.Join(gs, "\n") {
				t.Errorf("input order changed the result:\n%s\nvs\n%s", strings.Join(rs, "\n"), strings.Join(gs, "\n"))
			}
		})
	}
}

func TestServicePort(t *testing.T) {
	in := fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1, 0, 0)
	ephIn := fl(c1, "eth0", rx, 6, "172.17.0.3", 50000, "172.17.0.2", 40000, 1, time.Millisecond, 0)
	ephOutLater := fl(c1, "eth1", tx, 6, "172.17.0.2", 40000, "172.17.0.3", 50000, 1, 2*time.Millisecond, 0)
	ephOutEarlier := fl(c1, "eth1", tx, 6, "172.17.0.2", 40000, "172.17.0.3", 50000, 1, 0, 0)
	for _, tc := range []struct {
		name          string
		f             probe.Flow
		rev           *probe.Flow
		local, remote string
		port          uint16
	}{
		{"received, service local", in, nil, "172.17.0.2", "172.17.0.3", 80},
		{"transmitted, service remote", fl(c1, "eth1", tx, 17, "172.17.0.2", 40000, "198.51.100.2", 53, 1, 0, 0), nil, "172.17.0.2", "198.51.100.2", 53},
		{"transmitted reply, service local", fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 1, 0, 0), &in, "172.17.0.2", "172.17.0.3", 80},
		{"both ephemeral, remote first", ephIn, &ephOutLater, "172.17.0.2", "172.17.0.3", 40000},
		{"both ephemeral, remote first, asked from the reply", ephOutLater, &ephIn, "172.17.0.2", "172.17.0.3", 40000},
		{"both ephemeral, local first", ephIn, &ephOutEarlier, "172.17.0.2", "172.17.0.3", 50000},
		{"both ephemeral, no reverse: lower port", ephIn, nil, "172.17.0.2", "172.17.0.3", 40000},
		{"both low, one direction seen: its destination port", fl(c1, "eth0", rx, 17, "172.17.0.3", 123, "172.17.0.2", 514, 1, 0, 0), nil, "172.17.0.2", "172.17.0.3", 514},
		{"both low, same tick: lower port", fl(c1, "eth0", rx, 17, "172.17.0.3", 123, "172.17.0.2", 514, 1, 0, 0), ptr(fl(c1, "eth0", tx, 17, "172.17.0.2", 514, "172.17.0.3", 123, 1, 0, 0)), "172.17.0.2", "172.17.0.3", 123},
		{"TCP SYN first seen wins over the port ranges", syn(fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "172.17.0.3", 41000, 1, 0, 0), 0x12), ptr(syn(fl(c1, "eth0", rx, 6, "172.17.0.3", 41000, "172.17.0.2", 80, 1, time.Millisecond, 0), 0x12)), "172.17.0.2", "172.17.0.3", 41000},
		{"TCP SYN never answered", syn(fl(c1, "eth0", rx, 6, "172.17.0.3", 50000, "172.17.0.2", 60000, 1, 0, 0), 0x02), nil, "172.17.0.2", "172.17.0.3", 60000},
		{"ICMP folds the identifier", icmp(c1, "eth0", rx, 1, "172.17.0.3", "172.17.0.2", 8, 77, 1, 0), nil, "172.17.0.2", "172.17.0.3", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flows := []probe.Flow{tc.f}
			if tc.rev != nil {
				flows = append(flows, *tc.rev)
			}
			want := int(tc.port)
			if !probe.HasPorts(tc.f.Proto) {
				want = -1
			}
			if p := ServicePorts(flows); p[0] != want || (tc.rev != nil && p[1] != want) {
				t.Errorf("ServicePorts = %v, want %d", p, want)
			}
			r := RecOf(tc.f, 0, 0)
			if l, rm := r.LocalAddr(), r.RemoteAddr(); l.String() != tc.local || rm.String() != tc.remote {
				t.Errorf("local, remote = %s %s, want %s %s", l, rm, tc.local, tc.remote)
			}
		})
	}
}

// The initiator DetectAsymmetric reports and the port ServicePorts folds to agree.
func TestServicePortAgreesWithInitiator(t *testing.T) {
	now := t0.Add(time.Minute)
	flows := []probe.Flow{
		fl(c1, "eth0", rx, 6, "172.17.0.3", 50000, "172.17.0.2", 40000, 100, time.Millisecond, time.Second),
		fl(c1, "eth1", tx, 6, "172.17.0.2", 40000, "172.17.0.3", 50000, 100, 2*time.Millisecond, time.Second),
		fl(c1, "eth1", tx, 6, "172.17.0.2", 33000, "198.51.100.2", 8080, 100, 0, time.Second),
		fl(c1, "eth0", rx, 6, "198.51.100.2", 8080, "172.17.0.2", 33000, 100, 0, time.Second),
	}
	ports := ServicePorts(flows)
	convs := DetectAsymmetric(flows, now, 0)
	if len(convs) != 2 {
		t.Fatalf("got %d conversations, want 2", len(convs))
	}
	for i, f := range flows {
		r := RecOf(f, 0, 0)
		for _, c := range convs {
			if c.Remote != r.RemoteAddr() {
				continue
			}
			want := c.LocalPort
			if c.Initiator == InitiatorLocal {
				want = c.RemotePort
			}
			if ports[i] != int(want) {
				t.Errorf("flow %d: service port %d, conversation says initiator %s (%d/%d)", i, ports[i], c.Initiator, c.LocalPort, c.RemotePort)
			}
		}
	}
}

// The datapath's SYN-without-ACK mark decides the TCP service side even when both
// ports are ephemeral and both directions were first seen in the same clock tick.
func TestServiceIsLocalSynMark(t *testing.T) {
	tick := time.Unix(100, 0)
	client := Side{Seen: true, SYN: true, ACK: true, SynNoAck: true, First: tick.UnixNano()}
	server := Side{Seen: true, SYN: true, ACK: true, First: tick.UnixNano()}
	// The peer connected in: its direction (in) carries the mark.
	if !ServiceIsLocal(probe.ProtoTCP, 45000, 51000, client, server) {
		t.Error("peer's bare SYN came in: the local port must be the service")
	}
	// The container connected out, even though its port is the lower one.
	if ServiceIsLocal(probe.ProtoTCP, 33000, 51000, server, client) {
		t.Error("the container's bare SYN went out: the remote port must be the service")
	}
}

// TestServicePorts: every flow of a conversation, on any interface, gets the port
// ServiceIsLocal picks; -1 where there is no service port.
func TestServicePorts(t *testing.T) {
	flows := []probe.Flow{
		fl(c1, "eth0", rx, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 1, 0, 0),
		fl(c1, "eth1", tx, 6, "172.17.0.2", 80, "10.0.0.3", 40000, 1, time.Millisecond, 0),
		fl(c1, "eth0", tx, 17, "172.17.0.2", 45000, "8.8.8.8", 53, 1, 0, 0),
		fl(c1, "eth0", rx, 17, "8.8.8.8", 53, "172.17.0.2", 45000, 1, 0, 0),
		// both ephemeral: the direction seen first says it, for both flows
		fl(c1, "eth0", tx, 6, "172.17.0.2", 40001, "10.0.0.3", 50001, 1, 0, 0),
		fl(c1, "eth1", rx, 6, "10.0.0.3", 50001, "172.17.0.2", 40001, 1, time.Millisecond, 0),
		// the same ports in another container are another conversation
		fl(c2, "eth0", rx, 6, "10.0.0.3", 50001, "172.17.0.2", 40001, 1, 0, 0),
		fl(c1, "eth0", rx, 17, "10.0.0.3", 0, "172.17.0.2", 0, 1, 0, 0), // a fragment
		icmp(c1, "eth0", rx, 1, "10.0.0.3", "172.17.0.2", 8, 7, 1, 0),
	}
	want := []int{80, 80, 53, 53, 50001, 50001, 40001, -1, -1}
	got := ServicePorts(flows)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flow %d: service port %d, want %d", i, got[i], want[i])
		}
	}
}
