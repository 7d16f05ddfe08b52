package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/probe"
)

// sumOf adds the samples of one metric name.
func sumOf(samples map[string]float64, name string) float64 {
	var s float64
	for k, v := range samples {
		if strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// When serve opens new maps (a detach behind its back), what the old maps counted since
// the last scrape is kept, and the new maps' counts are added whole, even when they
// already exceed the old ones: interface and flow counters neither go down nor lose or
// double counts. The same maps adopted again count nothing twice.
func TestRestartCountsNewMapsWhole(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	const ifaceRx = `netctl_interface_receive_packets_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"}`
	const flowRx = "netctl_flow_receive_packets_total"
	snap := func(rx, flow uint64) probe.Snapshot {
		return probe.Snapshot{
			Interfaces: []probe.InterfaceCounters{ciface("eth0", rx, rx*100, 0, 0)},
			Flows: []probe.Flow{cflow("eth0", probe.Receive, 6, "10.0.0.3", 40000, "172.17.0.2", 80, flow, flow*100,
				-time.Minute, -time.Second)},
			FlowCapacity: 64,
		}
	}
	check := func(what string, iface, flow float64) {
		t.Helper()
		s := gatherSamples(t, c)
		if got := s[ifaceRx]; got != iface {
			t.Errorf("%s: interface counter %v, want %v", what, got, iface)
		}
		if got := sumOf(s, flowRx); got != flow {
			t.Errorf("%s: flow counter %v, want %v", what, got, flow)
		}
	}
	src.set(snap(6, 3), nil)
	check("first scrape", 6, 3)
	src.set(snap(9, 5), nil) // counted by the old maps after the last scrape
	if err := c.Restart(func() (bool, error) { src.set(snap(21, 4), nil); return true, nil }); err != nil {
		t.Fatal(err)
	}
	check("after new maps", 9+21, 5+4)
	if err := c.Restart(func() (bool, error) { src.set(snap(25, 6), nil); return false, nil }); err != nil {
		t.Fatal(err)
	}
	check("after the same maps again", 9+25, 5+6)
}
