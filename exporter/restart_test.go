package exporter

import (
	"testing"

	"github.com/netctl/netctl/probe"
)

// When serve opens new maps (a detach behind its back), what the old maps counted since
// the last scrape is kept, and the new maps' counts are added whole, even when they
// already exceed the old ones: the counter neither goes down nor loses or doubles counts.
func TestRestartCountsNewMapsWhole(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	key := `netctl_interface_receive_packets_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"}`
	snap := func(rx uint64) probe.Snapshot {
		return probe.Snapshot{Interfaces: []probe.InterfaceCounters{ciface("eth0", rx, rx*100, 0, 0)}}
	}
	src.set(snap(6), nil)
	if got := gatherSamples(t, c)[key]; got != 6 {
		t.Fatalf("first scrape: %v, want 6", got)
	}
	src.set(snap(9), nil) // counted by the old maps after the last scrape
	if err := c.Restart(func() (bool, error) { src.set(snap(21), nil); return true, nil }); err != nil {
		t.Fatal(err)
	}
	if got := gatherSamples(t, c)[key]; got != 9+21 {
		t.Errorf("after new maps: %v, want %d", got, 9+21)
	}
	// The same maps adopted again (a port re-attached, pins intact): nothing doubles.
	if err := c.Restart(func() (bool, error) { src.set(snap(25), nil); return false, nil }); err != nil {
		t.Fatal(err)
	}
	if got := gatherSamples(t, c)[key]; got != 9+25 {
		t.Errorf("after the same maps: %v, want %d", got, 9+25)
	}
}
