package exporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/netctl/netctl/probe"
)

// Flooding by destination: one series per bridge and owner, fed by each kernel entry's
// growth, monotonic when an entry is evicted and comes back, "unknown" for a MAC no
// interface has; kept across a restart through SaveState.
func TestCollectorFlooded(t *testing.T) {
	c, src, clk := newTestCollector(CollectorOptions{})
	dest := func(mac, ctr, ifc string, bytes uint64) probe.FloodedDest {
		return probe.FloodedDest{Bridge: "docker0", MAC: mac, Container: ctr, Interface: ifc, Packets: bytes / 100, Bytes: bytes}
	}
	ic := ciface("eth1", 10, 1000, 0, 0)
	ic.RxFloodedPackets, ic.RxFloodedBytes = 4, 400
	const eth0 = `netctl_bridge_flooded_bytes_total{bridge="docker0",container="c1",interface="eth0"}`
	const unknown = `netctl_bridge_flooded_bytes_total{bridge="docker0",container="unknown",interface="unknown"}`
	const rxFlooded = `netctl_interface_receive_flooded_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth1",interface="eth1"}`
	step := func(want map[string]float64, dests ...probe.FloodedDest) {
		t.Helper()
		src.set(probe.Snapshot{Interfaces: []probe.InterfaceCounters{ic}, Flooded: dests}, nil)
		got := gatherSamples(t, c)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		clk.advance(time.Minute)
	}
	step(map[string]float64{eth0: 500, unknown: 70, rxFlooded: 400},
		dest("02:42:ac:11:00:02", "c1", "eth0", 300), dest("02:42:ac:11:00:03", "c1", "eth0", 200), dest("02:42:ac:11:00:77", "", "", 70))
	// An entry evicted and created again (its bytes fell): its new bytes add up.
	step(map[string]float64{eth0: 550, unknown: 70},
		dest("02:42:ac:11:00:02", "c1", "eth0", 50), dest("02:42:ac:11:00:03", "c1", "eth0", 200), dest("02:42:ac:11:00:77", "", "", 70))

	path := filepath.Join(t.TempDir(), "state.json")
	if err := c.SaveState(path); err != nil {
		t.Fatal(err)
	}
	c2, src2, clk2 := newTestCollector(CollectorOptions{})
	clk2.advance(2 * time.Minute)
	if err := c2.LoadState(path); err != nil {
		t.Fatal(err)
	}
	src2.set(probe.Snapshot{Interfaces: []probe.InterfaceCounters{ic}, Flooded: []probe.FloodedDest{dest("02:42:ac:11:00:02", "c1", "eth0", 150)}}, nil)
	if got := gatherSamples(t, c2); got[eth0] != 650 || got[rxFlooded] != 400 {
		t.Errorf("after a restart: %s = %v (want 650), %s = %v (want 400)", eth0, got[eth0], rxFlooded, got[rxFlooded])
	}
	// Gone for longer than the idle timeout: the series goes.
	clk2.advance(DefaultFlowIdleTimeout + time.Minute)
	src2.set(probe.Snapshot{Interfaces: []probe.InterfaceCounters{ic}}, nil)
	if _, ok := gatherSamples(t, c2)[eth0]; ok {
		t.Errorf("%s still exported after the idle timeout", eth0)
	}
}

// Wrong-source replies: the gauge counts the conversations of each (container,
// requested, replied from), the counter adds their reply packets' growth; the gauge
// falls to 0 when the conversation stops and the series goes after the idle timeout.
func TestCollectorWrongSource(t *testing.T) {
	c, src, clk := newTestCollector(CollectorOptions{})
	const flows = `netctl_wrong_source_flows{container="c1",replied_from="172.17.0.99",requested="172.17.0.2"}`
	const packets = `netctl_wrong_source_packets_total{container="c1",replied_from="172.17.0.99",requested="172.17.0.2"}`
	wrong := func(sport uint16, req, rep uint64) []probe.Flow {
		return []probe.Flow{
			cflow("eth0", probe.Receive, 17, "172.17.0.3", sport, "172.17.0.2", 7777, req, 100*req, -time.Minute, 0),
			cflow("eth1", probe.Transmit, 17, "172.17.0.99", 7777, "172.17.0.3", sport, rep, 100*rep, -time.Minute, 0),
		}
	}
	right := []probe.Flow{ // bound to the address asked: not flagged
		cflow("eth0", probe.Receive, 17, "172.17.0.4", 5000, "172.17.0.2", 53, 3, 300, -time.Minute, 0),
		cflow("eth1", probe.Transmit, 17, "172.17.0.2", 53, "172.17.0.4", 5000, 3, 300, -time.Minute, 0),
	}
	for i, s := range []struct {
		flows          []probe.Flow
		wantFlows      float64
		wantPackets    float64
		wantExported   bool
		advanceMinutes time.Duration
	}{
		{append(append(wrong(40000, 5, 5), wrong(40001, 2, 2)...), right...), 2, 7, true, 1},
		{append(wrong(40000, 9, 8), wrong(40001, 2, 2)...), 2, 10, true, 1},
		{right, 0, 10, true, 6}, // stopped: 0, still exported within the idle timeout
		{right, 0, 0, false, 1}, // idle for longer: gone
	} {
		if i == 2 { // a restart of serve in between: the counter goes on
			path := filepath.Join(t.TempDir(), "state")
			if err := c.SaveState(path); err != nil {
				t.Fatal(err)
			}
			c2, src2, clk2 := newTestCollector(CollectorOptions{})
			clk2.advance(clk.Now().Sub(ct0))
			if err := c2.LoadState(path); err != nil {
				t.Fatal(err)
			}
			c, src, clk = c2, src2, clk2
		}
		for j := range s.flows {
			s.flows[j].FirstSeen, s.flows[j].LastSeen = clk.Now().Add(-time.Minute), clk.Now()
		}
		src.set(probe.Snapshot{Flows: s.flows}, nil)
		got := gatherSamples(t, c)
		_, exported := got[flows]
		if exported != s.wantExported || got[flows] != s.wantFlows || got[packets] != s.wantPackets {
			t.Errorf("read %d: exported %v, %s = %v, %s = %v; want %v, %v, %v", i, exported, flows, got[flows], packets, got[packets], s.wantExported, s.wantFlows, s.wantPackets)
		}
		for k := range got {
			if k != flows && k != packets && (len(k) > 19 && k[:19] == "netctl_wrong_source") {
				t.Errorf("unexpected series %s", k)
			}
		}
		clk.advance(s.advanceMinutes * time.Minute)
	}
}
