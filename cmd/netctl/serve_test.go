//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/nstest"
)

// startServe runs `netctl serve` in this process until the returned stop is called.
// Arguments after "serve-flags:" go after the serve verb.
func startServe(t *testing.T, args ...string) (addr string, stop func()) {
	t.Helper()
	addr = nstest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRootCmd()
	var global, serveFlags []string
	for i, a := range args {
		if a == "serve-flags:" {
			global, serveFlags = args[:i], args[i+1:]
			break
		}
		global = args
	}
	cmd.SetArgs(slices.Concat(global, []string{"serve", "--web.listen-address", addr}, serveFlags))
	cmd.SetOut(io.Discard)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("serve did not become healthy")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	return string(b)
}

// sample returns the value of the series whose line starts with prefix, or -1.
func sample(metrics, prefix string) float64 {
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func pingFrom(t *testing.T, ns, addr string, n int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-q", "-c", strconv.Itoa(n), "-i", "0.01", "-W", "1", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", addr, ns, err, out)
	}
}

// The e2e: serve in the lab with the seed's NIC; the asymmetric series for
// container1 (in eth0, out eth1) and none for container2; promtool accepts /metrics;
// a real Prometheus scrapes it and answers queries; counters survive a restart of
// serve; after nic add --source-routing the asymmetric bytes stop growing.
func TestServeEndToEnd(t *testing.T) {
	l := cliLab(t)
	useTestRoots(t)
	h, c1, c2 := l.Host.Name, l.Container1.Name, l.Container2.Name
	seed := []string{"-n", h, "nic", "add", "netns:" + c1, "--address", "172.17.0.99/24", "--gateway", "172.17.0.1", "--default-route", "--arp-probe-wait", "0"}
	if out, err := run(t, seed...); err != nil {
		t.Fatalf("nic add: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = run(t, "-n", h, "nic", "del", "netns:"+c1) })

	addr, stop := startServe(t, "-n", h, "--log-level", "warn")
	rep, err := l.Traffic(context.Background(), lab.TrafficOptions{Count: 20, TCPBytes: 64 << 10})
	if err != nil || rep.Err() != nil {
		t.Fatalf("traffic: %v %v", err, rep.Err())
	}
	pingFrom(t, h, "172.17.0.2", 10) // from the host too, as the issue asks
	asym := fmt.Sprintf(`netctl_asymmetric_flows{container=%q,in_interface="eth0",out_interface="eth1"}`, c1)
	// The collector's view may lag the traffic on a slow machine (a TCG VM): wait for it.
	m := get(t, "http://"+addr+"/metrics")
	for deadline := time.Now().Add(10 * time.Second); sample(m, asym) < 1 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		m = get(t, "http://"+addr+"/metrics")
	}
	if v := sample(m, asym); v < 1 {
		t.Errorf("%s = %v, want ≥ 1\n%s", asym, v, grepLines(m, "asymmetric"))
	}
	if strings.Contains(grepLines(m, "netctl_asymmetric_flows{"), c2) {
		t.Errorf("container2 reported asymmetric:\n%s", grepLines(m, "asymmetric"))
	}
	rx := fmt.Sprintf(`netctl_interface_receive_packets_total{bridge="docker0",container=%q,host_interface="veth-c1",interface="eth0"}`, c1)
	rx1 := sample(m, rx)
	if rx1 < 40 {
		t.Errorf("%s = %v, want ≥ 40", rx, rx1)
	}
	// promtool lints the real exposition.
	pc := exec.Command("promtool", "check", "metrics")
	pc.Stdin = strings.NewReader(m)
	if out, err := pc.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	// /flows serves the asymmetric conversations with their reason.
	var conv []struct {
		Container, InInterface, OutInterface, Reason string
	}
	if err := json.Unmarshal([]byte(get(t, "http://"+addr+"/flows")), &conv); err != nil || len(conv) == 0 {
		t.Errorf("/flows: %v %+v", err, conv)
	}

	// A real Prometheus scrapes it.
	promQuery(t, addr, c1)

	// Counters continue across a restart of serve (pinned maps, adopted; the
	// collector's memory saved and loaded), the asymmetric bytes too.
	asymBytes := fmt.Sprintf(`netctl_asymmetric_bytes_total{container=%q,in_interface="eth0",out_interface="eth1"}`, c1)
	ab1 := sample(get(t, "http://"+addr+"/metrics"), asymBytes)
	stop()
	pingFrom(t, c2, "172.17.0.2", 30)
	addr, stop = startServe(t, "-n", h, "--log-level", "warn")
	m2 := get(t, "http://"+addr+"/metrics")
	if rx2 := sample(m2, rx); rx2 < rx1+30 {
		t.Errorf("after a restart and 30 pings: %s = %v, was %v", rx, rx2, rx1)
	}
	if ab2 := sample(m2, asymBytes); ab1 <= 0 || ab2 < ab1 {
		t.Errorf("after a restart: %s = %v, was %v", asymBytes, ab2, ab1)
	}

	// The fix: source routing. Asymmetric bytes stop growing while traffic continues.
	if out, err := run(t, "-n", h, "nic", "del", "netns:"+c1); err != nil {
		t.Fatalf("nic del: %v\n%s", err, out)
	}
	if out, err := run(t, append(seed, "--source-routing")...); err != nil {
		t.Fatalf("nic add --source-routing: %v\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond) // the watcher attaches the new port
	bytesKey := fmt.Sprintf(`netctl_asymmetric_bytes_total{container=%q,in_interface="eth0",out_interface="eth1"}`, c1)
	b1 := sample(get(t, "http://"+addr+"/metrics"), bytesKey)
	pingFrom(t, c2, "172.17.0.2", 50)
	b2 := sample(get(t, "http://"+addr+"/metrics"), bytesKey)
	if b1 < 0 || b2 != b1 {
		t.Errorf("after source routing, 50 more pings: %s went %v → %v, want unchanged", bytesKey, b1, b2)
	}
	stop()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// promQuery starts Debian's Prometheus on a free loopback port, scraping target every
// second, and asks it for the asymmetric series of container and the interface rates.
func promQuery(t *testing.T, target, container string) {
	t.Helper()
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Fatalf("prometheus not installed (make setup installs it): %v", err)
	}
	dir := t.TempDir()
	// Every 2 s, with as long to answer: a scrape over the timeout marks the series stale,
	// and /metrics takes longer than 1 s on a slow machine (a TCG virtual machine).
	cfg := fmt.Sprintf("global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\nscrape_configs:\n  - job_name: netctl\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	paddr := nstest.FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	p := exec.CommandContext(ctx, "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+paddr)
	var logs strings.Builder
	p.Stdout, p.Stderr = &logs, &logs
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Process.Kill(); _ = p.Wait() }()
	query := func(q string) []json.RawMessage {
		resp, err := http.Get("http://" + paddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct{ Result []json.RawMessage }
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" {
			return nil
		}
		if r.Data.Result == nil {
			return []json.RawMessage{}
		}
		return r.Data.Result
	}
	asym := fmt.Sprintf(`netctl_asymmetric_flows{container=%q,in_interface="eth0",out_interface="eth1"} > 0`, container)
	rate := `rate(netctl_interface_receive_bytes_total[10s])`
	deadline := time.Now().Add(60 * time.Second)
	for len(query(asym)) == 0 || len(query(rate)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never answered %q and %q with series (up: %s, scrape_duration_seconds: %s)\n%s",
				asym, rate, query("up"), query("scrape_duration_seconds"), logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Every query of the shipped dashboard runs; the interface and asymmetric panels
	// have data. A scrape that timed out on a slow machine marks the series stale: ask
	// again for a while.
	deadline = time.Now().Add(20 * time.Second)
	for _, q := range dashboardQueries(t) {
		needsData := strings.Contains(q.expr, "netctl_interface_") || strings.Contains(q.expr, "netctl_asymmetric_")
		res := query(q.expr)
		for needsData && len(res) == 0 && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			res = query(q.expr)
		}
		if res == nil {
			// nil: an error (a query without data returns an empty, non-nil slice)
			t.Errorf("dashboard panel %q: query %q failed", q.panel, q.expr)
			continue
		}
		if needsData && len(res) == 0 {
			t.Errorf("dashboard panel %q: query %q has no data", q.panel, q.expr)
		}
	}
}

type panelQuery struct{ panel, expr string }

// dashboardQueries reads deploy/grafana/netctl.json and returns every panel target's
// expression with the Grafana variables filled in.
func dashboardQueries(t *testing.T) []panelQuery {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/netctl.json")
	if err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	type panel struct {
		Title   string
		Targets []struct{ Expr string }
		Panels  []json.RawMessage
	}
	var dash struct{ Panels []json.RawMessage }
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	r := strings.NewReplacer("$__rate_interval", "10s", "$__interval", "2s", "$__range", "1m",
		"${job}", ".+", "$job", ".+", "${instance}", ".+", "$instance", ".+", "${container}", ".+", "$container", ".+")
	var out []panelQuery
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("dashboard panel: %v", err)
			}
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					out = append(out, panelQuery{p.Title, r.Replace(tg.Expr)})
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	if len(out) < 8 {
		t.Fatalf("dashboard has only %d queries", len(out))
	}
	return out
}

// With a tiny flow table the kernel's LRU evicts flows all the time; no exported counter
// may ever go down between scrapes.
func TestServeCountersMonotonicUnderEviction(t *testing.T) {
	l := cliLab(t)
	useTestRoots(t)
	addr, stop := startServe(t, "-n", l.Host.Name, "--log-level", "warn", "serve-flags:", "--flow-entries", "16")
	_ = stop
	scrape := func() map[string]float64 { return totals(get(t, "http://"+addr+"/metrics")) }
	prev := scrape()
	evicting := false
	for round := range 12 {
		pingFrom(t, l.Container2.Name, "172.17.0.2", 3) // a new ICMP id: new flows each round
		pingFrom(t, l.Container1.Name, "172.17.0.3", 3)
		cur := scrape()
		for k, v := range prev {
			if c, ok := cur[k]; ok && c < v {
				t.Errorf("round %d: %s went down %v → %v", round, k, v, c)
			}
		}
		for k, v := range cur {
			prev[k] = v
		}
		// 12 rounds × 2 pings × 4 flows (each ICMP id on 2 ports × 2 directions) > 3 × 16.
		if sample(get(t, "http://"+addr+"/metrics"), "netctl_flow_table_capacity") == 16 {
			evicting = true
		}
	}
	if !evicting {
		t.Error("the flow table is not the tiny one asked for: the test did not exercise eviction")
	}
}
