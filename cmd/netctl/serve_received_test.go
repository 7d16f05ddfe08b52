//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/lab/labtest"
)

// Flooding and wrong-source replies, end to end through serve's /metrics. The seed's NIC
// with docker0's ageing_time 0: pinging container1's eth0 from container2, the asymmetry
// is still flagged (the copies of the requests that eth1 gets are flooded, not received),
// container3 counts flooded frames and has no flow series of container1's. A UDP echo in
// container1: bound to 172.17.0.2 nothing is flagged; bound to 0.0.0.0 it answers
// container2 from 172.17.0.99 and netctl_wrong_source_flows says so, as does `netctl
// flows --wrong-source`, with why routing cannot fix it.
func TestServeFloodingAndWrongSource(t *testing.T) {
	l := labtest.New(t, lab.Options{Container3: true})
	useTestRoots(t)
	h, c1, c3 := l.Host.Name, l.Container1.Name, l.Container3.Name
	seed := []string{"-n", h, "nic", "add", "netns:" + c1, "--address", "172.17.0.99/24", "--gateway", "172.17.0.1", "--default-route", "--arp-probe-wait", "0"}
	if out, err := run(t, seed...); err != nil {
		t.Fatalf("nic add: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = run(t, "-n", h, "nic", "del", "netns:"+c1) })
	if err := l.SetBridgeAgeing(0); err != nil {
		t.Fatal(err)
	}
	addr, _ := startServe(t, "-n", h, "--log-level", "warn")
	metrics := func() string { return get(t, "http://"+addr+"/metrics") }
	// until scrapes /metrics until ok says the flow tables' pass has caught up (a scrape
	// serves the last finished pass; the next one is on its way), at most 10 s.
	until := func(ok func(string) bool) string {
		t.Helper()
		m := metrics()
		for deadline := time.Now().Add(10 * time.Second); !ok(m) && time.Now().Before(deadline); m = metrics() {
			time.Sleep(100 * time.Millisecond)
		}
		return m
	}

	c3Flooded := fmt.Sprintf(`netctl_interface_receive_flooded_packets_total{bridge="docker0",container=%q,host_interface="veth-c3",interface="eth0"}`, c3)
	before := sample(metrics(), c3Flooded)
	pingFrom(t, l.Container2.Name, "172.17.0.2", 50)
	asym := fmt.Sprintf(`netctl_asymmetric_flows{container=%q,in_interface="eth0",out_interface="eth1"}`, c1)
	m := until(func(m string) bool { return sample(m, asym) >= 1 })
	t.Logf("/metrics after 50 pings of 172.17.0.2 from container2, docker0 ageing_time 0:\n%s\n%s\n%s",
		grepLines(m, "netctl_asymmetric_flows{"), grepLines(m, "flooded"), grepLines(m, "netctl_flow_receive_packets_total{container=\""+c3))
	if v := sample(m, asym); v < 1 {
		t.Errorf("%s = %v, want ≥ 1 (the asymmetry flagged through flooding)", asym, v)
	}
	if after := sample(m, c3Flooded); after < max(before, 0)+50 {
		t.Errorf("%s went %v → %v, want +50 at least (the flooded requests)", c3Flooded, before, after)
	}
	for _, line := range strings.Split(grepLines(m, "netctl_flow_"), "\n") {
		if strings.Contains(line, `container="`+c3+`"`) && strings.Contains(line, "172.17.0.2") {
			t.Errorf("container3 has a flow series of container1's: %s", line)
		}
	}
	eth0Flood := fmt.Sprintf(`netctl_bridge_flooded_bytes_total{bridge="docker0",container=%q,interface="eth0"}`, c1)
	if v := sample(m, eth0Flood); v <= 0 {
		t.Errorf("%s = %v, want > 0", eth0Flood, v)
	}

	// A UDP server bound to the address it is asked at: nothing to flag.
	a := netip.MustParseAddr
	echo := func(bind netip.Addr, port uint16) lab.UDPEchoReport {
		t.Helper()
		r, err := l.EchoUDP(context.Background(), lab.UDPEchoOptions{Bind: bind, Port: port, Count: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(r.Summary())
		return r
	}
	if r := echo(a("172.17.0.2"), 7001); r.WrongSource() != 0 || r.Replies["172.17.0.2"] != 10 {
		t.Errorf("server bound to 172.17.0.2: %+v", r)
	}
	// The pass that has the bound server's flows says nothing of wrong sources.
	bound := `port="7001",proto="udp"`
	if m := until(func(m string) bool { return strings.Contains(m, bound) }); !strings.Contains(m, bound) {
		t.Errorf("the bound server's flows never showed:\n%s", grepLines(m, "7001"))
	} else if strings.Contains(m, "netctl_wrong_source_flows{") {
		t.Errorf("a server bound to 172.17.0.2 flagged:\n%s", grepLines(m, "wrong_source"))
	}
	// Bound to 0.0.0.0: the seed's third symptom.
	if r := echo(netip.Addr{}, 7002); r.Replies["172.17.0.99"] != 10 {
		t.Errorf("server bound to 0.0.0.0: %+v, want 10 replies from 172.17.0.99", r)
	}
	ws := fmt.Sprintf(`netctl_wrong_source_flows{container=%q,replied_from="172.17.0.99",requested="172.17.0.2"}`, c1)
	m = until(func(m string) bool { return sample(m, ws) >= 1 })
	t.Logf("/metrics after the UDP echo bound to 0.0.0.0:\n%s", grepLines(m, "wrong_source"))
	if v := sample(m, ws); v < 1 {
		t.Errorf("%s = %v, want ≥ 1", ws, v)
	}
	wp := fmt.Sprintf(`netctl_wrong_source_packets_total{container=%q,replied_from="172.17.0.99",requested="172.17.0.2"}`, c1)
	if v := sample(m, wp); v < 10 {
		t.Errorf("%s = %v, want ≥ 10", wp, v)
	}
	if n := strings.Count(m, "netctl_wrong_source_flows{"); n != 1 {
		t.Errorf("%d wrong-source series, want 1:\n%s", n, grepLines(m, "wrong_source"))
	}
	out, err := run(t, "-n", h, "flows", "--wrong-source")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("netctl flows --wrong-source:\n%s", out)
	for _, want := range []string{"172.17.0.2:7002", "172.17.0.99:7002", "172.17.0.0/24 dev eth1 src 172.17.0.99",
		"routing cannot fix it", "fix: bind the server to 172.17.0.2 (or answer with IP_PKTINFO)"} {
		if !strings.Contains(out, want) {
			t.Errorf("flows --wrong-source lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, ":7001") {
		t.Errorf("flows --wrong-source lists the server bound to 172.17.0.2:\n%s", out)
	}
}

// --asymmetric and --wrong-source are two views; a negative --idle is refused.
func TestFlowsWrongSourceFlags(t *testing.T) {
	useTestRoots(t)
	if out, err := run(t, "flows", "--asymmetric", "--wrong-source"); err == nil || !strings.Contains(err.Error()+out, "two views") {
		t.Errorf("both views: %v\n%s", err, out)
	}
	if out, err := run(t, "flows", "--wrong-source", "--idle", "-1s"); err == nil || !strings.Contains(err.Error()+out, "invalid --idle") {
		t.Errorf("negative idle: %v\n%s", err, out)
	}
}
