package exporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/probe"
)

// After a restart the entries the saving serve had read are not counted again, and those
// it never saw (first seen after its last read) count whole; interface counters continue.
func TestStateBaseline(t *testing.T) {
	c, src, clk := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{Interfaces: []probe.InterfaceCounters{ciface("eth0", 10, 1000, 0, 0)},
		Flows: []probe.Flow{udp(53, probe.Receive, 1000, 0)}}, nil)
	gatherSamples(t, c)
	path := filepath.Join(t.TempDir(), "state")
	if err := c.SaveState(path); err != nil {
		t.Fatal(err)
	}

	c2, src2, clk2 := newTestCollector(CollectorOptions{})
	clk2.advance(clk.Now().Sub(ct0) + 30*time.Second)
	if err := c2.LoadState(path); err != nil {
		t.Fatal(err)
	}
	at := clk2.Now().Sub(ct0)
	late := udp(123, probe.Receive, 500, at)
	late.FirstSeen = ct0.Add(at - time.Second) // created after the saving serve's last read
	src2.set(probe.Snapshot{Interfaces: []probe.InterfaceCounters{ciface("eth0", 12, 1200, 0, 0)},
		Flows: []probe.Flow{udp(53, probe.Receive, 1300, at), late}}, nil)
	got := gatherSamples(t, c2)
	ik := `netctl_interface_receive_bytes_total{bridge="docker0",container="c1",host_interface="veth-eth0",interface="eth0"}`
	if got[flowKey("53")] != 1000 || got[flowKey("123")] != 500 || got[ik] != 1200 {
		t.Errorf("after the restart: 53 %v (want 1000: its growth while down is not known), 123 %v (want 500), eth0 %v (want 1200)",
			got[flowKey("53")], got[flowKey("123")], got[ik])
	}
	// From then on the entry's growth counts.
	clk2.advance(10 * time.Second)
	at = clk2.Now().Sub(ct0)
	src2.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1400, at), late}}, nil)
	if got := gatherSamples(t, c2); got[flowKey("53")] != 1100 {
		t.Errorf("53 grew by 100 after the restart: %v, want 1100", got[flowKey("53")])
	}
}

// The state file is compact (about 80 bytes per tracked series), loads in milliseconds,
// and restores every series; a serve with a smaller tracking limit keeps the most recent.
func TestStateSizeAndLimit(t *testing.T) {
	const n = 5000
	c, src, clk := newTestCollector(CollectorOptions{FlowSeriesLimit: 1000, FlowTrackingLimit: n})
	var flows []probe.Flow
	for i := range n {
		f := udp(uint16(1+i), probe.Receive, uint64(100+i), time.Duration(i)*time.Millisecond)
		flows = append(flows, f)
	}
	clk.advance(10 * time.Second)
	src.set(probe.Snapshot{Flows: flows}, nil)
	gatherSamples(t, c)
	for i := n - 10; i < n; i++ { // the 10 most recent: they grow again
		flows[i].Bytes *= 2
	}
	clk.advance(10 * time.Second)
	gatherSamples(t, c)
	path := filepath.Join(t.TempDir(), "state")
	if err := c.SaveState(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if per := fi.Size() / n; per > 100 {
		t.Errorf("state file: %d bytes for %d series, %d each; want at most 100", fi.Size(), n, per)
	}
	c2, _, _ := newTestCollector(CollectorOptions{FlowSeriesLimit: 1000, FlowTrackingLimit: n})
	start := time.Now()
	if err := c2.LoadState(path); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("loading %d series took %v", n, d)
	}
	if c2.flows.series.n != n {
		t.Errorf("%d series restored, want %d", c2.flows.series.n, n)
	}
	small, _, _ := newTestCollector(CollectorOptions{FlowSeriesLimit: 10, FlowTrackingLimit: 10})
	if err := small.LoadState(path); err != nil {
		t.Fatal(err)
	}
	if small.flows.series.n != 10 {
		t.Fatalf("%d series restored under a limit of 10", small.flows.series.n)
	}
	for id := small.flows.series.head; id >= 0; id = small.flows.series.all[id].next {
		if l := small.flows.series.all[id].labels; len(l.port) != 4 || l.port < "4991" {
			t.Errorf("kept series of port %s, not one of the 10 most recent", l.port)
		}
	}
}

// A damaged or foreign state file is an error and changes nothing; a missing one is the
// first start.
func TestStateDamaged(t *testing.T) {
	c, src, _ := newTestCollector(CollectorOptions{})
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1000, 0)}}, nil)
	gatherSamples(t, c)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := c.SaveState(good); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	for name, data := range map[string][]byte{
		"truncated": b[:len(b)-5],
		"foreign":   []byte(`{"Version":1}`),
		"version":   append([]byte("NCXS\x09\x00\x00\x00"), b[8:]...),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c2, _, _ := newTestCollector(CollectorOptions{})
		before := c2.flows
		if err := c2.LoadState(p); err == nil || !strings.Contains(err.Error(), "load exporter state") {
			t.Errorf("%s: LoadState = %v, want an error", name, err)
		}
		if c2.flows != before {
			t.Errorf("%s: the collector's state was replaced", name)
		}
	}
	if err := c.LoadState(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing file: %v", err)
	}
}
