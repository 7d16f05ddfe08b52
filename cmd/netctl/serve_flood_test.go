//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/flood"
)

// Bounds of TestServeFlood: well above what serve needs (about 40 MiB and 200 KB here),
// far below what it took before its memory was bounded (GiBs and hundreds of MB).
const (
	floodMaxRSS   = 96 << 20
	floodMaxState = 8 << 20
)

// A flood of 50,000 distinct flows into a container, each to another port (a port scan),
// through a flow table smaller than the flood (the kernel's LRU evicts) and a tracking
// limit far below it: serve's memory,
// sampled every 100 ms, and its state file stay within bounds; /metrics answers all along
// and no exported counter goes down; the other series takes what the tracking limit
// leaves out; the per-interface totals stay exact against the container interface's own
// kernel statistics; and a restart continues every counter.
func TestServeFlood(t *testing.T) {
	l := benchLab(t)
	p := newServeBin(t, l.name, "--flow-entries", "16384", "--flow-tracking-limit", "2000")
	p.Start()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var maxRSS atomic.Int64
	var mu sync.Mutex
	var slowest time.Duration
	var problems []string
	prev := map[string]float64{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for t := time.NewTicker(100 * time.Millisecond); ctx.Err() == nil; <-t.C {
			if r := p.Status("VmRSS"); r > maxRSS.Load() {
				maxRSS.Store(r)
			}
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			d, m, err := timedGet(p.URL("/metrics"))
			mu.Lock()
			slowest = max(slowest, d)
			if err != nil {
				problems = append(problems, err.Error())
			}
			for k, v := range totals(m) {
				if v < prev[k] {
					problems = append(problems, fmt.Sprintf("%s went down: %v → %v", k, prev[k], v))
				}
				prev[k] = v
			}
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	})

	k0, e0, _ := quietRead(t, p, l)
	const flows = 50_000
	if sent, err := flood.Send(ctx, flood.Spec{From: l.host, Src: l.hostAddr, Dst: l.ctrAddr,
		SrcBase: 55555, SrcPorts: 1, DstBase: 1, Count: flows, Duration: 5 * time.Second}); err != nil || sent != flows {
		t.Fatalf("flood: sent %d of %d: %v", sent, flows, err)
	}
	time.Sleep(time.Second) // a few scrapes after it
	cancel()
	wg.Wait()
	for _, pr := range problems {
		t.Error(pr)
	}
	if r := maxRSS.Load(); r > floodMaxRSS || r <= 0 {
		t.Errorf("serve's RSS reached %.1f MiB, bound %d MiB", mib(r), floodMaxRSS>>20)
	}
	t.Logf("RSS at most %.1f MiB, slowest /metrics %v", mib(maxRSS.Load()), slowest)

	// The interface counters moved exactly as the kernel's own over the flood.
	k1, e1, m := quietRead(t, p, l)
	for i, name := range []string{"received packets", "received bytes", "transmitted packets", "transmitted bytes"} {
		if want := k1[i] - k0[i]; e1[i]-e0[i] != float64(want) {
			t.Errorf("%s of %s's eth0 over the flood: exported +%v, the kernel counted +%d", name, l.ctrName, e1[i]-e0[i], want)
		}
	}
	if k1[0]-k0[0] < flows {
		t.Errorf("the container received %d packets, fewer than the %d sent", k1[0]-k0[0], flows)
	}
	if !strings.Contains(m, `proto="other"`) {
		t.Error("no other series, yet 50,000 flows exceed the tracking limit of 2000")
	}
	if tr := sample(m, "netctl_flow_tracked_series"); tr > 2000 || tr < 1 {
		t.Errorf("netctl_flow_tracked_series %v, limit 2000", tr)
	}

	before := totals(m)
	p.Stop()
	if s := p.StateSize(); s <= 0 || s > floodMaxState {
		t.Errorf("state file: %d bytes, bound %d", s, floodMaxState)
	}
	p.Start()
	_, m2, err := timedGet(p.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	after := totals(m2)
	for k, v := range before {
		if a, ok := after[k]; ok && a < v {
			t.Errorf("after a restart %s went down: %v → %v", k, v, a)
		}
	}
	t.Logf("state %d bytes; restart listening after %v", p.StateSize(), p.ListenAfter)
}

// quietRead reads container2's eth0 statistics from the kernel and from serve's /metrics
// at a moment when the kernel's did not move meanwhile: rx packets, rx bytes, tx packets,
// tx bytes each, and the whole /metrics.
func quietRead(t *testing.T, p *serveBin, l labNS) ([4]uint64, [4]float64, string) {
	t.Helper()
	prefix := fmt.Sprintf(`{bridge="docker0",container=%q,`, l.ctrName)
	for range 50 {
		k := linkStats(t, l)
		_, m, err := timedGet(p.URL("/metrics"))
		if err != nil || linkStats(t, l) != k {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var e [4]float64
		for i, name := range []string{"receive_packets", "receive_bytes", "transmit_packets", "transmit_bytes"} {
			e[i] = sample(m, "netctl_interface_"+name+"_total"+prefix)
		}
		return k, e, m
	}
	t.Fatal("the lab never went quiet")
	return [4]uint64{}, [4]float64{}, ""
}

// linkStats returns container2's eth0 statistics: rx packets, rx bytes, tx packets,
// tx bytes.
func linkStats(t *testing.T, l labNS) [4]uint64 {
	t.Helper()
	lk, err := l.ctrLink.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	s := lk.Attrs().Statistics
	return [4]uint64{s.RxPackets, s.RxBytes, s.TxPackets, s.TxBytes}
}

// totals returns every netctl_*_total sample of an exposition, by its line without value.
func totals(metrics string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "netctl_") && strings.Contains(line, "_total") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			out[strings.Join(f[:len(f)-1], " ")] = v
		}
	}
	return out
}
