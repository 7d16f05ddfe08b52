//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/analysis"
	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/probe"
)

// The seed's asymmetry found in the lab's real flow table: with container1's eth1 (ARP
// guard on, default route moved), what container2 and the outside host send to
// 172.17.0.2 comes in on eth0 and leaves on eth1, and container1's own traffic from
// 172.17.0.2 to the outside leaves on eth1 and comes back on eth0; container2 is
// symmetric. The why names the routes. After `nic add --source-routing` fresh traffic is
// symmetric.
func TestFlowsAsymmetricLab(t *testing.T) {
	l := cliLab(t)
	opts := useTestRoots(t)
	h, c1 := l.Host.Name, "netns:"+l.Container1.Name
	nicAdd := func(extra ...string) {
		t.Helper()
		args := append([]string{"-n", h, "nic", "add", c1, "--address", "172.17.0.99/24", "--gateway", "172.17.0.1",
			"--default-route", "--arp-probe-wait", "0"}, extra...)
		if out, err := run(t, args...); err != nil {
			t.Fatalf("nic add %v: %v\n%s", extra, err, out)
		}
		// A second attach adopts the pins and attaches the new eth1's host veth.
		if out, err := run(t, "-n", h, "attach", "--bridge", "docker0"); err != nil || strings.Count(out, "attached") != 3 {
			t.Fatalf("attach: %v\n%s", err, out)
		}
	}
	nicAdd()
	t.Cleanup(func() { _, _ = run(t, "-n", h, "nic", "del", c1) })
	t.Cleanup(func() { _, _ = run(t, "-n", h, "detach") })
	traffic := func() {
		t.Helper()
		rep, err := l.Traffic(context.Background(), lab.TrafficOptions{Count: 5, TCPBytes: 32 << 10})
		if err != nil || rep.Err() != nil {
			t.Fatalf("traffic: %v %v", err, rep.Err())
		}
	}
	snapshot := func() probe.Snapshot {
		t.Helper()
		s, err := probe.ReadPinned(context.Background(), l.Host.NS, opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := netip.MustParseAddr
	c2addr, outside := a("172.17.0.3"), a("198.51.100.2")
	describe := func(cs []analysis.Conversation) string {
		var b strings.Builder
		for _, c := range cs {
			fmt.Fprintf(&b, "  %s %d %s:%d %s:%d init=%s in=%s out=%s out_bytes=%d\n", c.Container, c.Proto, c.Local, c.LocalPort,
				c.Remote, c.RemotePort, c.Initiator, c.InInterface, c.OutInterface, c.OutBytes)
		}
		return b.String()
	}

	traffic()
	snap := snapshot()
	convs := analysis.DetectAsymmetric(snap.Flows, snap.Time, 5*time.Minute)
	find := func(remote netip.Addr, proto uint8, initiator string) *analysis.Conversation {
		for i, c := range convs {
			if c.Container == l.Container1.Name && c.Remote == remote && c.Proto == proto && c.Initiator == initiator {
				return &convs[i]
			}
		}
		return nil
	}
	for _, c := range convs {
		if c.Container != l.Container1.Name {
			t.Errorf("asymmetric conversation outside container1: %s", describe([]analysis.Conversation{c}))
		}
	}
	for _, w := range []struct {
		what      string
		remote    netip.Addr
		proto     uint8
		initiator string
		reason    []string
	}{
		{"container2 pings container1", c2addr, 1, analysis.InitiatorRemote, []string{"in eth0, replies out eth1", "172.17.0.0/24 dev eth1", "eth0's 172.17.0.0/16", "--source-routing"}},
		{"container2 connects to container1", c2addr, 6, "", []string{"172.17.0.0/24 dev eth1"}},
		{"outside pings container1", outside, 1, analysis.InitiatorRemote, []string{"in eth0, replies out eth1", "default via 172.17.0.1 dev eth1"}},
		{"container1 pings outside", outside, 1, analysis.InitiatorLocal, []string{"out eth1, replies in eth0", "default via 172.17.0.1 dev eth1"}},
	} {
		var c *analysis.Conversation
		if w.initiator == "" { // TCP between two ephemeral ports: the initiator is the rule's guess
			if c = find(w.remote, w.proto, analysis.InitiatorRemote); c == nil {
				c = find(w.remote, w.proto, analysis.InitiatorLocal)
			}
		} else {
			c = find(w.remote, w.proto, w.initiator)
		}
		if c == nil {
			t.Errorf("%s: no asymmetric conversation; got\n%s", w.what, describe(convs))
			continue
		}
		if c.Local != a("172.17.0.2") || c.InInterface != "eth0" || c.OutInterface != "eth1" || c.OutBytes == 0 || c.InBytes == 0 {
			t.Errorf("%s: %s", w.what, describe([]analysis.Conversation{*c}))
		}
		reason := analysis.RouteReason(*c)
		for _, s := range w.reason {
			if !strings.Contains(reason, s) {
				t.Errorf("%s: reason %q lacks %q", w.what, reason, s)
			}
		}
	}

	// The CLI shows the same, as a table and as JSON.
	out, err := run(t, "-n", h, "flows", "--asymmetric")
	if err != nil || !strings.Contains(out, "OUT BYTES") || !strings.Contains(out, "172.17.0.0/24 dev eth1 is more specific than eth0's 172.17.0.0/16") {
		t.Errorf("flows --asymmetric: %v\n%s", err, out)
	}
	t.Logf("netctl flows --asymmetric:\n%s", out)
	out, err = run(t, "-n", h, "-o", "json", "flows", "--asymmetric")
	var got []analysis.Conversation
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got) < 4 {
		t.Errorf("flows --asymmetric -o json: %v\n%.800s", err, out)
	}
	for _, c := range got {
		if c.Container != l.Container1.Name || c.InInterface != "eth0" || c.OutInterface != "eth1" || !strings.Contains(c.Reason, "eth1") {
			t.Errorf("flows --asymmetric -o json: %+v", c)
		}
	}
	if _, err := run(t, "-n", h, "flows", "--asymmetric", "--idle", "-1s"); err == nil {
		t.Error("--idle -1s accepted")
	}

	// The fix: source routing. Fresh traffic comes back out the interface it came in on.
	if out, err := run(t, "-n", h, "nic", "del", c1); err != nil {
		t.Fatalf("nic del: %v\n%s", err, out)
	}
	nicAdd("--source-routing")
	fixed := time.Now()
	time.Sleep(300 * time.Millisecond) // flows last seen before the fix fall out of the window below
	traffic()
	snap = snapshot()
	idle := snap.Time.Sub(fixed) - 150*time.Millisecond
	convs = analysis.DetectAsymmetric(snap.Flows, snap.Time, idle)
	if len(convs) != 0 {
		t.Errorf("after --source-routing, asymmetric conversations within %s:\n%s", idle, describe(convs))
	}
	// Not vacuous: container1 did answer container2 after the fix, on eth0.
	answered := false
	for _, f := range snap.Flows {
		if f.Container == l.Container1.Name && f.Direction == probe.Transmit && f.Dst == c2addr && f.LastSeen.After(fixed) {
			if f.Interface != "eth0" {
				t.Errorf("after --source-routing container1 answers container2 on %s", f.Interface)
			}
			answered = true
		}
	}
	if !answered {
		t.Error("no flow of container1 answering container2 after the fix")
	}
	out, err = run(t, "-n", h, "flows", "--asymmetric", "--idle", (snapshot().Time.Sub(fixed) - 150*time.Millisecond).String())
	if err != nil || strings.TrimSpace(out) != "no asymmetric conversations" {
		t.Errorf("flows --asymmetric after the fix: %v\n%s", err, out)
	}
}
