//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netctl/netctl/exporter"
	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/probe"
)

// sampleOf returns the value of the sample line of /metrics that starts with prefix, or
// -1 when there is none.
func sampleOf(metrics, prefix string) float64 {
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, prefix) {
			f := strings.Fields(l)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// serve owns its attachment: a detach behind its back, a detach and an attach by another
// netctl (new maps), a repair that fails for a while. Each time it notices within
// seconds, says so while it cannot count (netctl_up 0, /healthz), attaches again and
// counts it, and the exported counters keep counting and never go down.
func TestSelfHeal(t *testing.T) {
	l := labtest.New(t, lab.Options{})
	paths := testPaths(t)
	dp, err := probe.Open(l.Host.NS, paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	var failAttach atomic.Bool
	addr := nstest.FreeAddr(t)
	d, err := New(Options{
		// No bridge watched: what serve attaches is what Attach attaches, which the test
		// can make fail.
		Datapath: dp, Host: l.Host.NS, StateDir: paths.StateDir,
		CheckInterval: 200 * time.Millisecond,
		Attach: func(ctx context.Context) ([]probe.Attachment, error) {
			if failAttach.Load() {
				return nil, errors.New("attach refused by the test")
			}
			var out []probe.Attachment
			for _, port := range []string{"veth-c1", "veth-c2"} {
				a, err := dp.AttachNamed(ctx, l.Host.NS, "", "host", port)
				if err != nil {
					return out, err
				}
				out = append(out, a)
			}
			return out, nil
		},
		Collector:       exporter.CollectorOptions{FlowIdleTimeout: time.Minute},
		ListenAddresses: []string{addr},
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, d, addr)
	t.Cleanup(func() { _ = stop() })

	const rx = `netctl_interface_receive_packets_total{bridge="docker0",container="` // + container1's
	prefix := rx + l.Container1.Name + `",host_interface="veth-c1",interface="eth0"}`
	last := 0.0
	scrape := func() string {
		m := get(addr + "/metrics")
		if v := sampleOf(m, prefix); v >= 0 {
			if v < last {
				t.Errorf("container1's receive counter went down: %v → %v", last, v)
			}
			last = v
		}
		return m
	}
	ping := func(n int) {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", l.Container2.Name, "ping", "-q", "-c", strconv.Itoa(n), "-i", "0.01", "-W", "1",
			l.Container1.Addr4.String()).CombinedOutput()
		if err != nil {
			t.Fatalf("ping: %v\n%s", err, out)
		}
	}
	// counts pings and waits, at most 5 s, until /metrics shows them.
	counts := func(what string) {
		t.Helper()
		scrape()
		before := last
		ping(20)
		deadline := time.Now().Add(5 * time.Second)
		for scrape(); last < before+20; scrape() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: 20 pings into container1 not counted within 5 s (%v → %v)", what, before, last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	reattached := func(what string, n float64) {
		t.Helper()
		waitFor(t, what, func() bool {
			m := scrape()
			return sampleOf(m, "netctl_reattach_total") == n && sampleOf(m, "netctl_up") == 1 && get(addr+"/healthz") == "ok\n"
		})
	}
	counts("at start")

	// netctl detach behind serve's back.
	if _, err := probe.Detach(l.Host.NS, paths); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	reattached("attached again after a detach", 1)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("attached again %s after the detach, want within 5 s", took)
	}
	counts("after a detach")

	// Detached, then attached by another netctl: new maps, which serve must read.
	if _, err := probe.Detach(l.Host.NS, paths); err != nil {
		t.Fatal(err)
	}
	other, err := probe.Open(l.Host.NS, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []string{"veth-c1", "veth-c2"} {
		if _, err := other.AttachNamed(context.Background(), l.Host.NS, "", "host", port); err != nil {
			t.Fatal(err)
		}
	}
	_ = other.Close()
	reattached("following another netctl's maps", 2)
	counts("after a detach and an attach")

	// While it cannot attach again, it says so.
	failAttach.Store(true)
	if _, err := probe.Detach(l.Host.NS, paths); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "netctl_up 0 and /healthz saying why", func() bool {
		return sampleOf(scrape(), "netctl_up") == 0 && strings.Contains(get(addr+"/healthz"), "not counting")
	})
	if m := scrape(); sampleOf(m, prefix) >= 0 {
		t.Errorf("counters exported while not counting:\n%s", m)
	}
	failAttach.Store(false)
	reattached("attached again once it may", 3)
	counts("after a failed repair")
}
