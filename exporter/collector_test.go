package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/netctl/netctl/probe"
)

// collectorSource serves the snapshot (or error) a test sets as a Source would: the
// interfaces as Counters, the flows as kernel entries of one port per container
// interface, attached inside the container (tc ingress is the container's receive), with
// stamps on the clock's nanoseconds as CLOCK_MONOTONIC.
type collectorSource struct {
	mu    sync.Mutex
	snap  probe.Snapshot
	err   error
	clock func() time.Time
}

func (s *collectorSource) Counters(context.Context) (probe.Counters, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return probe.Counters{Time: s.snap.Time, Interfaces: s.snap.Interfaces, FlowCapacity: s.snap.FlowCapacity,
		InsertFailed: s.snap.InsertFailed, NotParsed: s.snap.NotParsed, Flooded: s.snap.Flooded}, s.err
}

func (s *collectorSource) ReadFlows(_ context.Context, fn func(*probe.Entry)) (probe.FlowRead, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return probe.FlowRead{}, s.err
	}
	now := s.clock()
	read := probe.FlowRead{Bridges: s.snap.Bridges, Mono: uint64(now.UnixNano()), Time: now, Entries: len(s.snap.Flows), Capacity: s.snap.FlowCapacity}
	index := map[[2]string]int{}
	for _, f := range s.snap.Flows {
		k := [2]string{f.Container, f.Interface}
		if _, ok := index[k]; !ok {
			index[k] = len(read.Ports) + 1
			read.Ports = append(read.Ports, probe.Port{Container: f.Container, Interface: f.Interface, HostInterface: f.HostInterface,
				Ifindex: len(read.Ports) + 1, InContainer: true, NetnsPath: f.NetnsPath})
		}
	}
	for _, f := range s.snap.Flows {
		e := probe.Entry{Key: probe.FlowKey{Ifindex: uint32(index[[2]string{f.Container, f.Interface}]), Proto: f.Proto,
			Family: 6, Sport: f.SrcPort, Dport: f.DstPort, Saddr: f.Src.As16(), Daddr: f.Dst.As16()},
			Packets: f.Packets, Bytes: f.Bytes, FirstNs: stamp(f.FirstSeen), LastNs: stamp(f.LastSeen), TCPFlags: f.TCPFlags}
		if f.Direction == probe.Transmit {
			e.Key.Dir = uint8(probe.Egress)
		}
		if f.Src.Is4() {
			e.Key.Family, e.Key.Saddr, e.Key.Daddr = 4, [16]byte{}, [16]byte{}
			s4, d4 := f.Src.As4(), f.Dst.As4()
			copy(e.Key.Saddr[:], s4[:])
			copy(e.Key.Daddr[:], d4[:])
		}
		if f.TCPSynNoAck {
			e.Flags = probe.FlowSynNoAck
		}
		fn(&e)
	}
	return read, nil
}

func stamp(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

func (s *collectorSource) set(snap probe.Snapshot, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap, s.err = snap, err
}

// collectorClock is a settable clock.
type collectorClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *collectorClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *collectorClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var ct0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestCollector(opts CollectorOptions) (*Collector, *collectorSource, *collectorClock) {
	clk := &collectorClock{now: ct0}
	src := &collectorSource{clock: clk.Now}
	opts.Now = clk.Now
	opts.Logger = slog.New(slog.DiscardHandler)
	if opts.FlowReadWait == 0 {
		opts.FlowReadWait = time.Hour // every scrape waits for its own pass, however slow the machine
	}
	return NewCollector(src, opts), src, clk
}

func caddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// flow builds a flow of c1; first and last are offsets from ct0.
func cflow(iface string, dir probe.FlowDirection, proto uint8, src string, sport uint16, dst string, dport uint16, packets, bytes uint64, first, last time.Duration) probe.Flow {
	return probe.Flow{Container: "c1", Interface: iface, HostInterface: "veth-" + iface, Direction: dir, Proto: proto,
		Src: caddr(src), Dst: caddr(dst), SrcPort: sport, DstPort: dport, Packets: packets, Bytes: bytes,
		FirstSeen: ct0.Add(first), LastSeen: ct0.Add(last)}
}

func ciface(name string, rxp, rxb, txp, txb uint64) probe.InterfaceCounters {
	return probe.InterfaceCounters{Port: probe.Port{Container: "c1", Interface: name, HostInterface: "veth-" + name, Bridge: "docker0"},
		RxPackets: rxp, RxBytes: rxb, TxPackets: txp, TxBytes: txb}
}

// sampleKey is "name{labels}" of a sample, labels sorted.
func sampleKey(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func sampleValue(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// gather returns every sample of c as "name{labels}" → value.
func gatherSamples(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[sampleKey(mf.GetName(), m)] = sampleValue(m)
		}
	}
	return out
}

// TestCollectorExposition compares the whole exposition of a small snapshot: two TCP
// connections to c1's port 80 fold into one series per direction, ICMP folds to port "".
func TestCollectorExposition(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{
		Interfaces: []probe.InterfaceCounters{ciface("eth0", 10, 1000, 8, 800)},
		Flows: []probe.Flow{
			cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 3, 300, -time.Minute, -time.Second),
			cflow("eth0", probe.Transmit, 6, "172.17.0.2", 80, "10.0.0.3", 40000, 2, 200, -time.Minute, -time.Second),
			cflow("eth0", probe.Receive, 6, "10.0.0.3", 40002, "172.17.0.2", 80, 4, 400, -time.Minute, -time.Second),
			cflow("eth0", probe.Receive, 1, "10.0.0.3", 8<<8, "172.17.0.2", 7, 1, 84, -time.Minute, -time.Second),
		},
		FlowEntries: 4, FlowCapacity: 65536, InsertFailed: 2, NotParsed: 5,
	}, nil)
	want := `
# HELP netctl_attached_interfaces Interfaces netctl counts.
# TYPE netctl_attached_interfaces gauge
netctl_attached_interfaces 1
# HELP netctl_flow_insert_failures_total Flows the kernel programs could not insert into a flow table.
# TYPE netctl_flow_insert_failures_total counter
netctl_flow_insert_failures_total 2
# HELP netctl_flow_receive_bytes_total Bytes of the flow received into the container on the interface (port: the service port, the ephemeral side folded).
# TYPE netctl_flow_receive_bytes_total counter
netctl_flow_receive_bytes_total{container="c1",interface="eth0",local="172.17.0.2",port="",proto="icmp",remote="10.0.0.3"} 84
netctl_flow_receive_bytes_total{container="c1",interface="eth0",local="172.17.0.2",port="80",proto="tcp",remote="10.0.0.3"} 700
# HELP netctl_flow_receive_packets_total Packets of the flow received into the container on the interface (port: the service port, the ephemeral side folded).
# TYPE netctl_flow_receive_packets_total counter
netctl_flow_receive_packets_total{container="c1",interface="eth0",local="172.17.0.2",port="",proto="icmp",remote="10.0.0.3"} 1
netctl_flow_receive_packets_total{container="c1",interface="eth0",local="172.17.0.2",port="80",proto="tcp",remote="10.0.0.3"} 7
# HELP netctl_flow_series_dropped Flow series left out of this scrape by the flow series limit.
# TYPE netctl_flow_series_dropped gauge
netctl_flow_series_dropped 0
# HELP netctl_flow_series_dropped_total Flow series the flow series limit began to leave out, each counted once.
# TYPE netctl_flow_series_dropped_total counter
netctl_flow_series_dropped_total 0
# HELP netctl_flow_table_capacity Capacity of the kernel's flow tables.
# TYPE netctl_flow_table_capacity gauge
netctl_flow_table_capacity 65536
# HELP netctl_flow_table_entries Entries in the kernel's flow tables.
# TYPE netctl_flow_table_entries gauge
netctl_flow_table_entries 4
# HELP netctl_flow_tracked_series Flow series netctl keeps counters for, exported or not (at most the flow tracking limit).
# TYPE netctl_flow_tracked_series gauge
netctl_flow_tracked_series 2
# HELP netctl_flow_transmit_bytes_total Bytes of the flow the container transmitted on the interface (port: the service port, the ephemeral side folded).
# TYPE netctl_flow_transmit_bytes_total counter
netctl_flow_transmit_bytes_total{container="c1",interface="eth0",local="172.17.0.2",port="80",proto="tcp",remote="10.0.0.3"} 200
# HELP netctl_flow_transmit_packets_total Packets of the flow the container transmitted on the interface (port: the service port, the ephemeral side folded).
# TYPE netctl_flow_transmit_packets_total counter
netctl_flow_transmit_packets_total{container="c1",interface="eth0",local="172.17.0.2",port="80",proto="tcp",remote="10.0.0.3"} 2
# HELP netctl_flow_untracked_entries Entries of the kernel's flow tables with traffic within the flow idle timeout whose flow series is not tracked (tracking limit reached): their traffic counts in the other series of their interface.
# TYPE netctl_flow_untracked_entries gauge
netctl_flow_untracked_entries 0
# HELP netctl_interface_receive_bytes_total Bytes the interface received into the container.
# TYPE netctl_interface_receive_bytes_total counter
netctl_interface_receive_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"} 1000
# HELP netctl_interface_receive_flooded_bytes_total Bytes of frames for another MAC that a bridge flooded to the interface (part of the receive bytes; the container drops them).
# TYPE netctl_interface_receive_flooded_bytes_total counter
netctl_interface_receive_flooded_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"} 0
# HELP netctl_interface_receive_flooded_packets_total Frames for another MAC that a bridge flooded to the interface (part of the receive packets; the container drops them).
# TYPE netctl_interface_receive_flooded_packets_total counter
netctl_interface_receive_flooded_packets_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"} 0
# HELP netctl_interface_receive_packets_total Packets the interface received into the container.
# TYPE netctl_interface_receive_packets_total counter
netctl_interface_receive_packets_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"} 10
# HELP netctl_interface_transmit_bytes_total Bytes the container transmitted on the interface.
# TYPE netctl_interface_transmit_bytes_total counter
netctl_interface_transmit_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"} 800
# HELP netctl_interface_transmit_packets_total Packets the container transmitted on the interface.
# TYPE netctl_interface_transmit_packets_total counter
netctl_interface_transmit_packets_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"} 8
# HELP netctl_packets_not_parsed_total Packets counted on their interface but not parsed into a flow.
# TYPE netctl_packets_not_parsed_total counter
netctl_packets_not_parsed_total 5
# HELP netctl_scrape_errors_total Reads of the kernel's maps that failed.
# TYPE netctl_scrape_errors_total counter
netctl_scrape_errors_total 0
# HELP netctl_snapshot_duration_seconds Time the last read of the kernel's maps took.
# TYPE netctl_snapshot_duration_seconds gauge
netctl_snapshot_duration_seconds 0
# HELP netctl_up Whether the last read of the kernel's maps succeeded.
# TYPE netctl_up gauge
netctl_up 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestCollectorSnapshotError: a failed read exports netctl_up 0 and counts the error,
// and the counters come back unchanged on the next good read.
func TestCollectorSnapshotError(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{Interfaces: []probe.InterfaceCounters{ciface("eth0", 1, 100, 1, 100)}}, nil)
	gatherSamples(t, c)
	src.set(probe.Snapshot{}, errors.New("map gone"))
	got := gatherSamples(t, c)
	if got["netctl_up{}"] != 0 || got["netctl_scrape_errors_total{}"] != 1 || len(got) != 3 {
		t.Errorf("failed read exported %v", got)
	}
	src.set(probe.Snapshot{Interfaces: []probe.InterfaceCounters{ciface("eth0", 1, 100, 1, 100)}}, nil)
	got = gatherSamples(t, c)
	k := `netctl_interface_receive_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"}`
	if got["netctl_up{}"] != 1 || got["netctl_scrape_errors_total{}"] != 1 || got[k] != 100 {
		t.Errorf("after recovery: up %v errors %v rx %v", got["netctl_up{}"], got["netctl_scrape_errors_total{}"], got[k])
	}
}

// TestCollectorMonotonic: raw counters that fall (LRU eviction, interface reset) or
// restart (an entry created again, seen by its first-seen stamp) never make an exported
// counter go down, and growth after a restart is counted.
func TestCollectorMonotonic(t *testing.T) {
	c, src, clk := newTestCollector(CollectorOptions{})
	fk := `netctl_flow_receive_bytes_total{container="c1",interface="eth0",local="172.17.0.2",port="80",proto="tcp",remote="10.0.0.3"}`
	ik := `netctl_interface_receive_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"}`
	steps := []struct {
		name               string
		flowRaw, ifaceRaw  uint64
		first              time.Duration // the entry's FirstSeen, from ct0
		wantFlow, wantIfce float64
	}{
		{"start: the kernel's values", 1000, 5000, 0, 1000, 5000},
		{"growth", 1500, 6000, 0, 1500, 6000},
		{"evicted, created again (lower)", 300, 100, 20 * time.Second, 1800, 6100},
		{"growth after restart", 500, 400, 20 * time.Second, 2000, 6400},
		{"created again, already above the last value", 900, 500, 50 * time.Second, 2900, 6500},
		{"unchanged", 900, 500, 50 * time.Second, 2900, 6500},
	}
	prev := map[string]float64{}
	for i, s := range steps {
		clk.advance(10 * time.Second)
		now := clk.Now().Sub(ct0)
		src.set(probe.Snapshot{
			Interfaces: []probe.InterfaceCounters{ciface("eth0", 1, s.ifaceRaw, 0, 0)},
			Flows:      []probe.Flow{cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 1, s.flowRaw, s.first, now)},
		}, nil)
		got := gatherSamples(t, c)
		if got[fk] != s.wantFlow || got[ik] != s.wantIfce {
			t.Errorf("step %d (%s): flow %v interface %v, want %v %v", i, s.name, got[fk], got[ik], s.wantFlow, s.wantIfce)
		}
		for k, v := range got {
			if strings.Contains(k, "_total") && v < prev[k] {
				t.Errorf("step %d (%s): %s went down: %v → %v", i, s.name, k, prev[k], v)
			}
		}
		prev = got
	}
}

// TestCollectorSeriesLimit: the limit keeps the series with the most bytes (both
// directions together) and reports how many it dropped.
func TestCollectorSeriesLimit(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{FlowSeriesLimit: 2})
	var flows []probe.Flow
	for i, b := range []uint64{100, 500, 300, 50, 400} {
		flows = append(flows, cflow("eth0", probe.Receive, 17, fmt.Sprintf("10.0.0.%d", i+1), 40000, "172.17.0.2", 53, 1, b, -time.Minute, -time.Second))
	}
	// 10.0.0.1 also transmits 350: 450 both ways, above 10.0.0.5's 400.
	flows = append(flows, cflow("eth0", probe.Transmit, 17, "172.17.0.2", 53, "10.0.0.1", 40000, 1, 350, -time.Minute, -time.Second))
	src.set(probe.Snapshot{Flows: flows}, nil)
	got := gatherSamples(t, c)
	var kept []string
	for k := range got {
		if _, rest, ok := strings.Cut(k, "remote="); ok && strings.HasPrefix(k, "netctl_flow_receive_bytes_total") {
			kept = append(kept, "remote="+rest)
		}
	}
	sort.Strings(kept)
	want := []string{`remote="10.0.0.1"}`, `remote="10.0.0.2"}`}
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if got["netctl_flow_series_dropped{}"] != 3 || got["netctl_flow_series_dropped_total{}"] != 3 {
		t.Errorf("dropped %v (total %v), want 3", got["netctl_flow_series_dropped{}"], got["netctl_flow_series_dropped_total{}"])
	}
	// Scraped again with the same series: the same 3 are dropped, counted once.
	if again := gatherSamples(t, c); again["netctl_flow_series_dropped_total{}"] != 3 {
		t.Errorf("a second scrape counted the dropped series again: total %v, want 3", again["netctl_flow_series_dropped_total{}"])
	}
}

// TestCollectorIdle: a flow series without traffic for the idle timeout disappears (its
// kernel entry still there), comes back continuing its count when traffic resumes, and
// an interface that vanished is no longer exported.
func TestCollectorIdle(t *testing.T) {
	idle := time.Minute
	c, src, clk := newTestCollector(CollectorOptions{FlowIdleTimeout: idle})
	fk := `netctl_flow_receive_bytes_total{container="c1",interface="eth0",local="172.17.0.2",port="80",proto="tcp",remote="10.0.0.3"}`
	ik := `netctl_interface_receive_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth1",interface="eth1"}`
	snap := func(bytes uint64, last time.Duration, ifaces ...probe.InterfaceCounters) probe.Snapshot {
		return probe.Snapshot{Interfaces: ifaces,
			Flows: []probe.Flow{cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 1, bytes, 0, last)}}
	}
	e0, e1 := ciface("eth0", 1, 10, 1, 10), ciface("eth1", 1, 10, 1, 10)

	src.set(snap(1000, 0, e0, e1), nil)
	if got := gatherSamples(t, c); got[fk] != 1000 || got[ik] != 10 {
		t.Fatalf("first scrape: flow %v interface %v", got[fk], got[ik])
	}
	clk.advance(idle / 2)
	src.set(snap(1000, 0, e0), nil) // eth1 gone
	got := gatherSamples(t, c)
	if got[fk] != 1000 {
		t.Errorf("within the idle timeout: flow %v, want 1000", got[fk])
	}
	if _, ok := got[ik]; ok {
		t.Errorf("vanished interface still exported")
	}
	clk.advance(idle)
	if got := gatherSamples(t, c); hasSample(got, "netctl_flow_receive") {
		t.Errorf("idle flow series still exported: %v", got)
	}
	clk.advance(idle)
	src.set(snap(1200, clk.Now().Sub(ct0), e0), nil) // traffic again, same kernel entry
	if got := gatherSamples(t, c); got[fk] != 1200 {
		t.Errorf("resumed flow series: %v, want 1200 (continued, not double counted)", got[fk])
	}
}

func hasSample(m map[string]float64, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// TestCollectorAsymmetric: c1 receives 10.0.0.3:40000→172.17.0.2:80 on eth0 and replies
// on eth1; the gauge counts the conversation and the counter adds the bytes that left on
// eth1, never going down when the reply entry is evicted; after the idle timeout the
// gauge reads 0 and then the series go away.
func TestCollectorAsymmetric(t *testing.T) {
	idle := time.Minute
	c, src, clk := newTestCollector(CollectorOptions{FlowIdleTimeout: idle})
	flows := func(out uint64, last time.Duration) []probe.Flow {
		return []probe.Flow{
			cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 5, 500, -time.Minute, last),
			cflow("eth1", probe.Transmit, 6, "172.17.0.2", 80, "10.0.0.3", 40000, 4, out, -time.Minute, last),
			// c1's own symmetric conversation on eth0 counts for nothing.
			cflow("eth0", probe.Receive, 6, "10.0.0.4", 40001, "172.17.0.2", 80, 1, 60, -time.Minute, last),
			cflow("eth0", probe.Transmit, 6, "172.17.0.2", 80, "10.0.0.4", 40001, 1, 60, -time.Minute, last),
		}
	}
	gk := `netctl_asymmetric_flows{container="c1",in_interface="eth0",out_interface="eth1"}`
	bk := `netctl_asymmetric_bytes_total{container="c1",in_interface="eth0",out_interface="eth1"}`
	steps := []struct {
		name      string
		out       uint64
		advance   time.Duration
		active    bool
		wantGauge float64
		wantBytes float64
		gone      bool
	}{
		{"start", 1000, 0, true, 1, 1000, false},
		{"growth", 1500, 10 * time.Second, true, 1, 1500, false},
		{"reply entry evicted, created again", 200, 10 * time.Second, true, 1, 1700, false},
		{"quiet, the last traffic just within the idle timeout", 200, idle, false, 1, 1700, false},
		{"quiet past the idle timeout: gauge 0", 200, 10 * time.Second, false, 0, 1700, false},
		{"gone after another idle timeout", 200, 2 * idle, false, 0, 0, true},
	}
	last := time.Duration(0)
	for i, s := range steps {
		clk.advance(s.advance)
		if s.active {
			last = clk.Now().Sub(ct0)
		}
		src.set(probe.Snapshot{Flows: flows(s.out, last)}, nil)
		got := gatherSamples(t, c)
		g, gok := got[gk]
		b, bok := got[bk]
		if s.gone {
			if gok || bok || hasSample(got, "netctl_asymmetric") {
				t.Errorf("step %d (%s): asymmetric series still exported: %v %v", i, s.name, g, b)
			}
			continue
		}
		if !gok || !bok || g != s.wantGauge || b != s.wantBytes {
			t.Errorf("step %d (%s): gauge %v (%v) bytes %v (%v), want %v %v", i, s.name, g, gok, b, bok, s.wantGauge, s.wantBytes)
		}
		for k := range got {
			if strings.HasPrefix(k, "netctl_asymmetric") && !strings.Contains(k, `in_interface="eth0",out_interface="eth1"`) {
				t.Errorf("step %d: unexpected %s", i, k)
			}
		}
	}
}

// TestCollectorAsymmetricBytesPerConversation: the asymmetric bytes are those of the
// asymmetric conversation only: c1 answers a peer's pings (id 7) out eth1, and its own
// pings to the same peer (id 9) go out eth1 and come back on eth1, symmetric; only the
// replies of id 7 count.
func TestCollectorAsymmetricBytesPerConversation(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{Flows: []probe.Flow{
		cflow("eth0", probe.Receive, 1, "10.0.0.3", 8<<8, "172.17.0.2", 7, 5, 500, -time.Second, 0),
		cflow("eth1", probe.Transmit, 1, "172.17.0.2", 0, "10.0.0.3", 7, 5, 500, -time.Second, 0),
		cflow("eth1", probe.Transmit, 1, "172.17.0.2", 8<<8, "10.0.0.3", 9, 3, 300, -time.Second, 0),
		cflow("eth1", probe.Receive, 1, "10.0.0.3", 0, "172.17.0.2", 9, 3, 300, -time.Second, 0),
	}}, nil)
	got := gatherSamples(t, c)
	gk := `netctl_asymmetric_flows{container="c1",in_interface="eth0",out_interface="eth1"}`
	bk := `netctl_asymmetric_bytes_total{container="c1",in_interface="eth0",out_interface="eth1"}`
	if got[gk] != 1 || got[bk] != 500 {
		t.Errorf("%s = %v, %s = %v; want 1 and 500", gk, got[gk], bk, got[bk])
	}
}

// TestCollectorConcurrent: concurrent scrapes are safe (run with -race) and agree.
func TestCollectorConcurrent(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{
		Interfaces: []probe.InterfaceCounters{ciface("eth0", 1, 100, 1, 100)},
		Flows:      []probe.Flow{cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 1, 100, 0, 0)},
	}, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				ch := make(chan prometheus.Metric, 64)
				go func() { c.Collect(ch); close(ch) }()
				for range ch {
				}
			}
		})
	}
	wg.Wait()
	got := gatherSamples(t, c)
	if k := `netctl_flow_receive_bytes_total{container="c1",interface="eth0",local="172.17.0.2",port="80",proto="tcp",remote="10.0.0.3"}`; got[k] != 100 {
		t.Errorf("after concurrent scrapes: %v, want 100", got[k])
	}
}

// TestNewGatherer: the gatherer serves the collector, netctl_build_info and the Go and
// process metrics, sorted by name, and the same samples as the collector through a
// registry.
func TestNewGatherer(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{
		Interfaces: []probe.InterfaceCounters{ciface("eth0", 10, 1000, 8, 800)},
		Flows: []probe.Flow{
			cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 3, 300, -time.Minute, -time.Second),
			cflow("eth1", probe.Transmit, 6, "172.17.0.2", 80, "10.0.0.3", 40000, 2, 200, -time.Minute, -time.Second),
		},
	}, nil)
	mfs, err := NewGatherer(c, "v1", "abc").Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"netctl_up", "netctl_build_info", "go_goroutines", "process_start_time_seconds"} {
		if !names[n] {
			t.Errorf("gatherer lacks %s", n)
		}
	}
	if !slices.IsSortedFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) }) {
		t.Error("families not sorted by name")
	}
	fast := map[string]float64{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "netctl_") && mf.GetName() != "netctl_build_info" {
			for _, m := range mf.Metric {
				fast[sampleKey(mf.GetName(), m)] = sampleValue(m)
			}
		}
	}
	if slow := gatherSamples(t, c); fmt.Sprint(fast) != fmt.Sprint(slow) {
		t.Errorf("the gatherer's samples\n%v\ndiffer from the registry's\n%v", fast, slow)
	}
}

// A watched bridge's unobserved ports are exported per bridge.
func TestCollectorUnobservedPorts(t *testing.T) {
	snap := probe.Snapshot{Time: time.Unix(1000, 0), Bridges: []probe.BridgeStatus{{Name: "docker0", Ports: 3, Unobserved: 1}}}
	clock := func() time.Time { return snap.Time }
	c := NewCollector(&collectorSource{snap: snap, clock: clock}, CollectorOptions{Now: clock})
	want := `# HELP netctl_bridge_ports_unobserved Ports of a watched bridge that carry no counters of netctl's: their traffic is invisible (0 normally).
# TYPE netctl_bridge_ports_unobserved gauge
netctl_bridge_ports_unobserved{bridge="docker0"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "netctl_bridge_ports_unobserved"); err != nil {
		t.Error(err)
	}
}

// The collector's memory survives a restart of serve: an asymmetric conversation that
// went idle (the kernel no longer says anything new about it) keeps its bytes, and an
// evicted flow's series keeps its total.
func TestCollectorStateAcrossRestart(t *testing.T) {
	idle := time.Minute
	c, src, clk := newTestCollector(CollectorOptions{FlowIdleTimeout: idle})
	flows := []probe.Flow{
		cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, 5, 500, -time.Minute, 0),
		cflow("eth1", probe.Transmit, 6, "172.17.0.2", 80, "10.0.0.3", 40000, 4, 1000, -time.Minute, 0),
	}
	src.set(probe.Snapshot{Flows: flows}, nil)
	bk := `netctl_asymmetric_bytes_total{container="c1",in_interface="eth0",out_interface="eth1"}`
	before := gatherSamples(t, c)
	if before[bk] != 1000 {
		t.Fatalf("%s = %v before the restart, want 1000", bk, before[bk])
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := c.SaveState(path); err != nil {
		t.Fatal(err)
	}

	// A new serve: the flows were evicted meanwhile, so the snapshot has none.
	c2, src2, clk2 := newTestCollector(CollectorOptions{FlowIdleTimeout: idle})
	clk2.advance(clk.Now().Sub(ct0) + 10*time.Second)
	if err := c2.LoadState(path); err != nil {
		t.Fatal(err)
	}
	src2.set(probe.Snapshot{}, nil)
	after := gatherSamples(t, c2)
	for k, v := range before {
		if strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_total") && after[k] < v {
			t.Errorf("%s went down across the restart: %v → %v", k, v, after[k])
		}
	}
	if after[bk] != 1000 {
		t.Errorf("%s = %v after the restart, want 1000", bk, after[bk])
	}
	if err := c2.LoadState(filepath.Join(t.TempDir(), "missing.json")); err != nil {
		t.Errorf("a missing state file: %v", err)
	}
}
