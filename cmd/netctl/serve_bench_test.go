//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/flood"
)

// BenchmarkServe measures `netctl serve` (the static binary, its own process) in the lab
// against the goals of issue 10: with 1k, 10k and 100k live UDP conversations (each one
// datagram each way, so two flow entries; --flow-entries 262144) the time of /metrics and
// /flows, serve's RSS and its allocations per scrape; and during a scan of 1M distinct
// flows over a minute the time of every /metrics (one after another), serve's RSS sampled
// every 100 ms, /metrics during 100 concurrent /flows clients, the state file and how
// fast a restart listens. Run it with -benchtime 1x: each sub-benchmark is one scenario.
func BenchmarkServe(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("conversations=%d", n), func(b *testing.B) { benchConversations(b, n) })
	}
	b.Run("scan=1M", benchScan)
}

// conversations sends n conversations between the lab's host and container2: client ports
// 40000-40049 on the host, service ports from 1 on the container (50 clients each), one
// datagram each way.
func conversations(b *testing.B, l labNS, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req := flood.Spec{From: l.host, Src: l.hostAddr, Dst: l.ctrAddr, SrcBase: 40000, SrcPorts: 50, DstBase: 1, Count: n}
	rep := req
	rep.From, rep.Src, rep.Dst, rep.Reverse = l.ctr, l.ctrAddr, l.hostAddr, true
	for _, s := range []flood.Spec{req, rep} {
		if sent, err := flood.Send(ctx, s); err != nil || sent != n {
			b.Fatalf("flood: sent %d of %d: %v", sent, n, err)
		}
	}
}

func benchConversations(b *testing.B, n int) {
	l := benchLab(b)
	p := newServeBin(b, l.name, "--flow-entries", "262144")
	p.Start()
	load0 := loadAvg()
	rss0 := p.Status("VmRSS")
	conversations(b, l, n)
	// Wait until serve's table holds them (two entries per conversation, a few lost to the
	// LRU's per-CPU free lists at most).
	waitMetric(b, p, "netctl_flow_table_entries", float64(2*n)*0.97, time.Minute)

	var mt, ft, at []time.Duration
	_, m0, _ := timedGet(p.URL("/metrics"))
	const k = 10
	for range k {
		d, _, err := timedGet(p.URL("/metrics"))
		if err != nil {
			b.Fatal(err)
		}
		mt = append(mt, d)
	}
	_, m1, _ := timedGet(p.URL("/metrics"))
	allocs := (sample(m1, "go_memstats_mallocs_total") - sample(m0, "go_memstats_mallocs_total")) / (k + 1)
	for range k {
		d, _, err := timedGet(p.URL("/flows"))
		if err != nil {
			b.Fatal(err)
		}
		ft = append(ft, d)
	}
	for range 3 {
		d, _, err := timedGet(p.URL("/flows?all=1"))
		if err != nil {
			b.Fatal(err)
		}
		at = append(at, d)
	}
	rss, hwm, anon := p.Status("VmRSS"), p.Status("VmHWM"), p.Status("RssAnon")
	b.ReportMetric(ms(median(mt)), "metrics_ms")
	b.ReportMetric(ms(slices.Max(mt)), "metrics_max_ms")
	b.ReportMetric(ms(median(ft)), "flows_ms")
	b.ReportMetric(ms(slices.Max(ft)), "flows_max_ms")
	b.ReportMetric(ms(median(at)), "flows_all_ms")
	b.ReportMetric(mib(rss), "rss_MiB")
	b.ReportMetric(mib(hwm), "rss_peak_MiB")
	b.ReportMetric(allocs, "allocs/scrape")
	if n == 100_000 {
		goal(b, "/metrics (slowest)", ms(slices.Max(mt)), 100, "ms")
		goal(b, "/flows (slowest)", ms(slices.Max(ft)), 100, "ms")
		goal(b, "RSS", mib(hwm), 64, "MiB")
	}
	b.Logf("%d conversations, %v table entries: /metrics %v, /flows %v, /flows?all=1 %v; RSS %.1f MiB (peak %.1f, anonymous %.1f, at start %.1f; Go heap in use %.1f MiB, next GC at %.1f); %.0f allocs per scrape; load %s → %s",
		n, sample(m1, "netctl_flow_table_entries"), mt, ft, at, mib(rss), mib(hwm), mib(anon), mib(rss0),
		sample(m1, "go_memstats_heap_inuse_bytes")/(1<<20), sample(m1, "go_memstats_next_gc_bytes")/(1<<20), allocs, load0, loadAvg())
}

func benchScan(b *testing.B) {
	l := benchLab(b)
	p := newServeBin(b, l.name, "--flow-entries", "262144")
	p.Start()
	load0 := loadAvg()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var maxRSS atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { // RSS every 100 ms
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for ctx.Err() == nil {
			if r := p.Status("VmRSS"); r > maxRSS.Load() {
				maxRSS.Store(r)
			}
			<-t.C
		}
	})
	var mu sync.Mutex
	var scrapes, scrapesBusy []time.Duration
	var busy atomic.Bool
	var scrapeErr error
	wg.Go(func() { // /metrics, one after another, 100 ms apart
		for ctx.Err() == nil {
			d, _, err := timedGet(p.URL("/metrics"))
			mu.Lock()
			if err != nil && scrapeErr == nil {
				scrapeErr = err
			}
			scrapes = append(scrapes, d)
			if busy.Load() {
				scrapesBusy = append(scrapesBusy, d)
			}
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	})

	const total, srcPorts = 1_000_000, 16
	scanDone := make(chan error, 1)
	go func() {
		_, err := flood.Send(ctx, flood.Spec{From: l.host, Src: l.hostAddr, Dst: l.ctrAddr,
			SrcBase: 50000, SrcPorts: srcPorts, DstBase: 1, Count: total, Duration: time.Minute})
		scanDone <- err
	}()
	// 100 concurrent /flows clients for 15 s, 20 s into the scan.
	time.Sleep(20 * time.Second)
	var flowsTimes []time.Duration
	var flowsErrs atomic.Int64
	busy.Store(true)
	var fwg sync.WaitGroup
	stopFlows := time.Now().Add(15 * time.Second)
	for range 100 {
		fwg.Go(func() {
			for time.Now().Before(stopFlows) {
				d, _, err := timedGet(p.URL("/flows"))
				mu.Lock()
				flowsTimes = append(flowsTimes, d)
				mu.Unlock()
				if err != nil {
					flowsErrs.Add(1)
				}
			}
		})
	}
	fwg.Wait()
	busy.Store(false)
	if err := <-scanDone; err != nil {
		b.Fatalf("scan: %v", err)
	}
	time.Sleep(2 * time.Second) // a few more scrapes after the scan
	cancel()
	wg.Wait()
	if scrapeErr != nil {
		b.Errorf("a scrape failed: %v", scrapeErr)
	}
	_, m, _ := timedGet(p.URL("/metrics"))
	hwm := p.Status("VmHWM")
	p.Stop()
	state := p.StateSize()
	p.Start()
	rssRestart := p.Status("VmRSS")
	d, _, err := timedGet(p.URL("/metrics"))
	if err != nil {
		b.Fatal(err)
	}
	rssScraped := p.Status("VmRSS")

	goal(b, "RSS during the scan (every 100 ms)", mib(maxRSS.Load()), 128, "MiB")
	goal(b, "state file", float64(state)/1e6, 8, "MB")
	goal(b, "restart listening", ms(p.ListenAfter), 1000, "ms")
	goal(b, "/metrics during the scan (slowest)", ms(slices.Max(scrapes)), 200, "ms")
	goal(b, "/metrics under 100 /flows clients (slowest)", ms(slices.Max(scrapesBusy)), 200, "ms")
	b.ReportMetric(ms(slices.Max(scrapes)), "metrics_max_ms")
	b.ReportMetric(ms(median(scrapes)), "metrics_ms")
	b.ReportMetric(ms(slices.Max(scrapesBusy)), "metrics_max_under_flows_ms")
	b.ReportMetric(ms(median(flowsTimes)), "flows_ms")
	b.ReportMetric(mib(maxRSS.Load()), "rss_max_MiB")
	b.ReportMetric(mib(hwm), "rss_peak_MiB")
	b.ReportMetric(float64(state)/1e6, "state_MB")
	b.ReportMetric(ms(p.ListenAfter), "restart_listen_ms")
	b.ReportMetric(ms(p.HealthAfter), "restart_healthy_ms")
	b.Logf("scan of %d flows: %d scrapes, /metrics median %v max %v (during 100 /flows clients: %d scrapes, max %v); /flows: %d requests, median %v max %v, %d failed; RSS max %.1f MiB (VmHWM %.1f); entries %v, insert failures %v; state %d bytes; restart: listening after %v, healthy after %v, RSS %.1f MiB, first /metrics %v, RSS then %.1f MiB; load %s → %s",
		total, len(scrapes), median(scrapes), slices.Max(scrapes), len(scrapesBusy), slices.Max(scrapesBusy),
		len(flowsTimes), median(flowsTimes), slices.Max(flowsTimes), flowsErrs.Load(), mib(maxRSS.Load()), mib(hwm),
		sample(m, "netctl_flow_table_entries"), sample(m, "netctl_flow_insert_failures_total"), state,
		p.ListenAfter, p.HealthAfter, mib(rssRestart), d, mib(rssScraped), load0, loadAvg())
}

// waitMetric polls /metrics until the series whose line starts with prefix reaches min.
func waitMetric(tb testing.TB, p *serveBin, prefix string, min float64, timeout time.Duration) {
	tb.Helper()
	var v float64
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, m, err := timedGet(p.URL("/metrics"))
		if err == nil {
			if v = sample(m, prefix); v >= min {
				return
			}
		}
	}
	tb.Fatalf("%s = %v after %v, want ≥ %v", prefix, v, timeout, min)
}

// goal logs whether a measured value is within the goal for it.
func goal(b *testing.B, what string, got, limit float64, unit string) {
	b.Helper()
	verdict := "met"
	if got > limit {
		verdict = "MISSED"
	}
	b.Logf("goal %s ≤ %g %s: %s (%.1f %s)", what, limit, unit, verdict, got, unit)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mib(b int64) float64        { return float64(b) / (1 << 20) }
