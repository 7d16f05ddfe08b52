package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netctl/netctl/probe"
)

// udp is a flow of c1 on eth0 from the peer 10.0.0.3:40000 to the container's port, last
// seen last after ct0.
func udp(port uint16, dir probe.FlowDirection, bytes uint64, last time.Duration) probe.Flow {
	if dir == probe.Receive {
		return cflow("eth0", dir, 17, "10.0.0.3", 40000, "172.17.0.2", port, bytes/100, bytes, 0, last)
	}
	return cflow("eth0", dir, 17, "172.17.0.2", port, "10.0.0.3", 40000, bytes/100, bytes, 0, last)
}

func flowKey(port string) string {
	return fmt.Sprintf(`netctl_flow_receive_bytes_total{container="c1",interface="eth0",local="172.17.0.2",port=%q,proto="udp",remote="10.0.0.3"}`, port)
}

const otherRx = `netctl_flow_receive_bytes_total{container="c1",interface="eth0",local="",port="",proto="other",remote=""}`

// The tracking limit: with room for 2 series, a third conversation's traffic counts in
// the other series of its interface, its entry is reported untracked, and every counter
// keeps growing by exactly the traffic of what it counts. (Which new conversations of one
// read get the last places is not defined.)
func TestTrackingLimitOther(t *testing.T) {
	c, src, clk := newTestCollector(CollectorOptions{FlowSeriesLimit: 2, FlowTrackingLimit: 2})
	now := func() time.Duration { return clk.Now().Sub(ct0) }
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1000, now()), udp(123, probe.Receive, 2000, now())}}, nil)
	gatherSamples(t, c)
	clk.advance(10 * time.Second)
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1200, now()), udp(123, probe.Receive, 2000, now()), udp(514, probe.Receive, 300, now())}}, nil)
	got := gatherSamples(t, c)
	if got[flowKey("53")] != 1200 || got[flowKey("123")] != 2000 || got[otherRx] != 300 {
		t.Errorf("with 514 beyond the limit: 53=%v 123=%v other=%v, want 1200 2000 300", got[flowKey("53")], got[flowKey("123")], got[otherRx])
	}
	if hasSample(got, flowKey("514")) {
		t.Error("the series beyond the tracking limit is exported")
	}
	if got["netctl_flow_tracked_series{}"] != 2 || got["netctl_flow_untracked_entries{}"] != 1 {
		t.Errorf("tracked %v untracked %v, want 2 and 1", got["netctl_flow_tracked_series{}"], got["netctl_flow_untracked_entries{}"])
	}

	clk.advance(10 * time.Second)
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1500, now()), udp(123, probe.Receive, 2000, now()), udp(514, probe.Receive, 700, now())}}, nil)
	got = gatherSamples(t, c)
	if got[flowKey("53")] != 1500 || got[flowKey("123")] != 2000 || got[otherRx] != 700 {
		t.Errorf("next read: 53=%v 123=%v other=%v, want 1500 2000 700", got[flowKey("53")], got[flowKey("123")], got[otherRx])
	}
	// Idle past the timeout: the untracked entry is no longer reported, the other series goes.
	clk.advance(DefaultFlowIdleTimeout + time.Second)
	got = gatherSamples(t, c)
	if got["netctl_flow_untracked_entries{}"] != 0 || hasSample(got, otherRx) {
		t.Errorf("idle: untracked %v, other exported %v", got["netctl_flow_untracked_entries{}"], hasSample(got, otherRx))
	}
}

// When the tracking limit is reached, a new conversation takes the place of the series
// that has had no traffic the longest, once that one has been idle for a minute (or the
// idle timeout, if shorter); the evicted series goes away. A series with recent traffic
// keeps its place.
func TestTrackingLimitEviction(t *testing.T) {
	idle := 30 * time.Second // series may give their place after 30 s without traffic
	c, src, clk := newTestCollector(CollectorOptions{FlowSeriesLimit: 2, FlowTrackingLimit: 2, FlowIdleTimeout: idle})
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1000, 0), udp(123, probe.Receive, 2000, 0)}}, nil)
	gatherSamples(t, c)

	clk.advance(20 * time.Second) // 123 has traffic again; 53 idle for 20 s: not yet evictable
	at := clk.Now().Sub(ct0)
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1000, 0), udp(123, probe.Receive, 2500, at), udp(514, probe.Receive, 300, at)}}, nil)
	got := gatherSamples(t, c)
	if got[otherRx] != 300 || hasSample(got, flowKey("514")) {
		t.Errorf("53 idle for 20 s gave its place: other %v, 514 %v", got[otherRx], got[flowKey("514")])
	}

	clk.advance(15 * time.Second) // 53 idle for 35 s: the next new conversation takes its place
	at = clk.Now().Sub(ct0)
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1000, 0), udp(123, probe.Receive, 2600, at), udp(514, probe.Receive, 300, at), udp(161, probe.Receive, 400, at)}}, nil)
	got = gatherSamples(t, c)
	if got[flowKey("161")] != 400 || hasSample(got, flowKey("53")) || got[flowKey("123")] != 2600 {
		t.Errorf("after 35 s: 161 %v (want 400), 53 present %v, 123 %v", got[flowKey("161")], hasSample(got, flowKey("53")), got[flowKey("123")])
	}
	if got[otherRx] != 300 {
		t.Errorf("other %v, want 300 (514 did not grow)", got[otherRx])
	}
}

// Under a random load of conversations well above the tracking limit, with entries
// evicted and re-created, no exported counter ever goes down, the tracked series stay
// within the limit and the exported flow series never count more bytes than the entries
// grew by (no byte twice; some are not exported: series dropped by the export limit or
// evicted). With every tracked series exported, the flow series and the other series
// count exactly what the entries hold.
func TestTrackingLimitRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c, src, clk := newTestCollector(CollectorOptions{FlowSeriesLimit: 5, FlowTrackingLimit: 8, FlowIdleTimeout: time.Minute})
	type entry struct {
		port  uint16
		dir   probe.FlowDirection
		bytes uint64
		first time.Duration
		last  time.Duration
	}
	live := map[[2]int]*entry{}
	var grown uint64 // bytes the entries grew by, as the collector should count them
	prev := map[string]float64{}
	for round := range 200 {
		clk.advance(5 * time.Second)
		now := clk.Now().Sub(ct0)
		for range 10 {
			k := [2]int{rng.IntN(40), rng.IntN(2)}
			e := live[k]
			switch {
			case e == nil:
				e = &entry{port: uint16(100 + k[0]), dir: probe.Receive, first: now}
				if k[1] == 1 {
					e.dir = probe.Transmit
				}
				live[k] = e
			case rng.IntN(8) == 0: // evicted, created again
				e.bytes, e.first = 0, now
			}
			n := uint64(rng.IntN(1000) + 100)
			e.bytes += n
			e.last = now
			grown += n
		}
		var flows []probe.Flow
		for _, e := range live {
			f := udp(e.port, e.dir, e.bytes, e.last)
			f.FirstSeen, f.Packets = ct0.Add(e.first), e.bytes
			flows = append(flows, f)
		}
		src.set(probe.Snapshot{Flows: flows}, nil)
		got := gatherSamples(t, c)
		var sum float64
		for k, v := range got {
			if strings.HasPrefix(k, "netctl_flow_") && strings.Contains(k, "_bytes_total{") {
				sum += v
			}
			if strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_total") && v < prev[k] {
				t.Fatalf("round %d: %s went down: %v → %v", round, k, prev[k], v)
			}
		}
		if got["netctl_flow_tracked_series{}"] > 8 {
			t.Fatalf("round %d: %v series tracked, limit 8", round, got["netctl_flow_tracked_series{}"])
		}
		// Exported series (at most 5) and the other series: what was not exported was
		// dropped by the series limit, so the sum is at most what grew; with every
		// tracked series exported it is exactly that.
		if sum > float64(grown) {
			t.Fatalf("round %d: the flow series count %v bytes, the entries grew by %d", round, sum, grown)
		}
		prev = got
	}
	// All the tracked series exported: the sum is exact.
	c2, src2, clk2 := newTestCollector(CollectorOptions{FlowSeriesLimit: 8, FlowTrackingLimit: 8, FlowIdleTimeout: time.Hour})
	var flows []probe.Flow
	var total uint64
	for i := range 30 {
		flows = append(flows, udp(uint16(100+i), probe.Receive, uint64(100*(i+1)), 0))
		total += uint64(100 * (i + 1))
	}
	clk2.advance(time.Second)
	src2.set(probe.Snapshot{Flows: flows}, nil)
	var sum float64
	for k, v := range gatherSamples(t, c2) {
		if strings.HasPrefix(k, "netctl_flow_receive_bytes_total{") {
			sum += v
		}
	}
	if sum != float64(total) {
		t.Errorf("8 tracked series and the other series count %v bytes, the entries hold %d", sum, total)
	}
}

// Two kernel entries whose hashes collide are told apart by their exact identity: each
// one's growth is counted once, in its own series, read after read.
func TestEntryHashCollision(t *testing.T) {
	c, src, clk := newTestCollector(CollectorOptions{})
	c.flows.hash = func(entryID) uint64 { return 42 } // every entry collides
	for i, b := range []uint64{100, 250, 250, 400} {
		clk.advance(time.Second)
		now := clk.Now().Sub(ct0)
		src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, b, now), udp(123, probe.Receive, 2*b, now), udp(53, probe.Transmit, 3*b, now)}}, nil)
		got := gatherSamples(t, c)
		tx := strings.Replace(flowKey("53"), "receive", "transmit", 1)
		if got[flowKey("53")] != float64(b) || got[flowKey("123")] != float64(2*b) || got[tx] != float64(3*b) {
			t.Errorf("read %d: 53 %v, 123 %v, 53 out %v; want %d %d %d", i, got[flowKey("53")], got[flowKey("123")], got[tx], b, 2*b, 3*b)
		}
	}
	if len(c.flows.side) != 3 {
		t.Errorf("%d entries kept by exact identity, want 3", len(c.flows.side))
	}
	// The entries go: their states go too.
	clk.advance(time.Second)
	src.set(probe.Snapshot{}, nil)
	gatherSamples(t, c)
	if len(c.flows.side) != 0 || len(c.flows.collided) != 0 || c.flows.entries.len() != 0 {
		t.Errorf("after the entries went: %d side, %d collided, %d kept", len(c.flows.side), len(c.flows.collided), c.flows.entries.len())
	}
}

// entryTable against a map, through inserts, lookups and sweeps, in tables small enough
// for long probe runs and wrap-around.
func TestEntryTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tab entryTable
	ref := map[uint64]uint32{} // hash → gen of the state
	for gen := uint32(1); gen <= 300; gen++ {
		tab.fit(len(ref) + 50)
		for range 50 {
			h := rng.Uint64N(400) + 1 // few distinct hashes: they repeat across reads
			if rng.IntN(4) == 0 {
				h = h<<56 | 1 // some with the same home
			}
			s, ok := tab.get(h)
			if _, want := ref[h]; ok != want {
				t.Fatalf("gen %d: get(%x) found %v, want %v", gen, h, ok, want)
			}
			if !ok {
				s = tab.add(h)
			}
			s.gen, s.bytes = gen, h
			ref[h] = gen
		}
		if gen%3 == 0 {
			tab.sweep(gen)
			for h, g := range ref {
				if g != gen {
					delete(ref, h)
				}
			}
		}
		if tab.len() != len(ref) {
			t.Fatalf("gen %d: %d entries, want %d", gen, tab.len(), len(ref))
		}
		for h := range ref {
			if s, ok := tab.get(h); !ok || s.bytes != h {
				t.Fatalf("gen %d: %x lost (%v)", gen, h, ok)
			}
		}
	}
}

// slowSource is a collectorSource whose flow reads take delay.
type slowSource struct {
	*collectorSource
	delay time.Duration
}

func (s slowSource) ReadFlows(ctx context.Context, fn func(*probe.Entry)) (probe.FlowRead, error) {
	time.Sleep(s.delay)
	return s.collectorSource.ReadFlows(ctx, fn)
}

// Scrapes do not wait for long passes: the first one after start waits for the first
// pass; later ones start a pass (not sooner than 8 durations after the last began) and
// export what the last finished pass found, at once.
func TestCollectorSlowPasses(t *testing.T) {
	const delay = 300 * time.Millisecond
	clk := &collectorClock{now: ct0}
	src := slowSource{&collectorSource{clock: clk.Now}, delay}
	c := NewCollector(src, CollectorOptions{Now: clk.Now, FlowReadWait: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1000, 0)}}, nil)
	timed := func() (map[string]float64, time.Duration) {
		start := time.Now()
		got := gatherSamples(t, c)
		return got, time.Since(start)
	}
	if got, d := timed(); got[flowKey("53")] != 1000 || d < delay {
		t.Errorf("first scrape: %v after %v, want 1000 after the first pass", got[flowKey("53")], d)
	}
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 2000, 0)}}, nil)
	if got, d := timed(); got[flowKey("53")] != 1000 || d >= delay {
		t.Errorf("second scrape: %v after %v, want the last pass's 1000 at once", got[flowKey("53")], d)
	}
	time.Sleep(8*delay + 100*time.Millisecond)
	if got, d := timed(); got[flowKey("53")] != 1000 || d >= delay {
		t.Errorf("a scrape starting a pass: %v after %v, want the last pass's 1000 at once", got[flowKey("53")], d)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if got, _ := timed(); got[flowKey("53")] == 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pass the third scrape started never showed")
		}
	}
}

// countingSource counts the flow reads of a slowSource.
type countingSource struct {
	slowSource
	reads *atomic.Int32
}

func (s countingSource) ReadFlows(ctx context.Context, fn func(*probe.Entry)) (probe.FlowRead, error) {
	s.reads.Add(1)
	return s.slowSource.ReadFlows(ctx, fn)
}

// Close waits for the pass a scrape started and starts none after: the daemon closes
// the datapath behind the source right after.
func TestCollectorClose(t *testing.T) {
	clk := &collectorClock{now: ct0}
	src := countingSource{slowSource{&collectorSource{clock: clk.Now}, 200 * time.Millisecond}, &atomic.Int32{}}
	c := NewCollector(src, CollectorOptions{Now: clk.Now, FlowReadWait: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	src.set(probe.Snapshot{Flows: []probe.Flow{udp(53, probe.Receive, 1000, 0)}}, nil)
	c.Prefetch()
	for src.reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	c.Close()
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("Close returned after %v, before the running pass ended", d)
	}
	gatherSamples(t, c)
	c.Prefetch()
	time.Sleep(50 * time.Millisecond)
	if n := src.reads.Load(); n != 1 {
		t.Errorf("%d reads, want 1: a pass started after Close", n)
	}
}
