//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/netctl/netctl/internal/lab"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/probe"
)

// useTestRoots points the CLI at pin and state roots of the test's own (NETCTL_BPF_DIR,
// NETCTL_STATE_DIR, which the commands read) and returns them as probe options.
func useTestRoots(t *testing.T) probe.Options {
	t.Helper()
	opts := probe.Options{BPFDir: nstest.BPFDir(t), StateDir: t.TempDir()}
	t.Setenv("NETCTL_BPF_DIR", opts.BPFDir)
	t.Setenv("NETCTL_STATE_DIR", opts.StateDir)
	t.Setenv("NETCTL_PERSIST_DIR", t.TempDir())
	return opts
}

// The whole job through the CLI: attach in the lab with the seed's NIC, traffic,
// status shows container1's eth0 receive and eth1 transmit growing; detach cleans up.
func TestAttachStatusFlowsDetach(t *testing.T) {
	l := cliLab(t)
	useTestRoots(t)
	h := l.Host.Name
	if out, err := run(t, "-n", h, "nic", "add", "netns:"+l.Container1.Name, "--address", "172.17.0.99/24",
		"--gateway", "172.17.0.1", "--default-route", "--arp-probe-wait", "0"); err != nil {
		t.Fatalf("nic add: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = run(t, "-n", h, "nic", "del", "netns:"+l.Container1.Name) })
	out, err := run(t, "-n", h, "attach", "--bridge", "docker0")
	if err != nil || strings.Count(out, "attached") != 3 {
		t.Fatalf("attach: %v\n%s", err, out)
	}
	read := func() map[string][2]uint64 {
		out, err := run(t, "-n", h, "-o", "json", "status")
		if err != nil {
			t.Fatalf("status: %v\n%s", err, out)
		}
		var st struct {
			Interfaces []struct {
				Container string `json:"container"`
				Interface string `json:"interface"`
				Rx        uint64 `json:"rx_packets"`
				Tx        uint64 `json:"tx_packets"`
			} `json:"interfaces"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status json: %v\n%s", err, out)
		}
		m := map[string][2]uint64{}
		for _, i := range st.Interfaces {
			m[i.Container+"/"+i.Interface] = [2]uint64{i.Rx, i.Tx}
		}
		return m
	}
	before := read()
	rep, err := l.Traffic(context.Background(), lab.TrafficOptions{Count: 20, TCPBytes: 64 << 10})
	if err != nil || rep.Err() != nil {
		t.Fatalf("traffic: %v %v", err, rep.Err())
	}
	after := read()
	e0, e1 := l.Container1.Name+"/eth0", l.Container1.Name+"/eth1"
	if after[e0][0]-before[e0][0] < 40 || after[e1][1]-before[e1][1] < 40 {
		t.Errorf("container1 eth0 rx %v→%v, eth1 tx %v→%v: want both growing by ≥ 40", before[e0], after[e0], before[e1], after[e1])
	}
	out, err = run(t, "-n", h, "-o", "json", "flows")
	if err != nil || !strings.Contains(out, `"direction": "receive"`) || !strings.Contains(out, `"interface": "eth1"`) {
		t.Errorf("flows: %v\n%.600s", err, out)
	}
	// 3 ports × 2: TCX links, or tc filters on a kernel without TCX (before 6.6).
	if out, err = run(t, "-n", h, "detach"); err != nil || !strings.Contains(out, "6 TCX links") && !strings.Contains(out, "6 tc filters") {
		t.Errorf("detach: %v\n%s", err, out)
	}
	if _, err = run(t, "-n", h, "status"); err == nil || !strings.Contains(err.Error(), "nothing attached") {
		t.Errorf("status after detach: %v", err)
	}
	if _, err := run(t, "-n", h, "attach", "--attach-mode", "udp"); err == nil || !strings.Contains(err.Error(), "invalid attach mode") {
		t.Errorf("bad --attach-mode: %v", err)
	}
	if _, err := run(t, "-n", h, "attach", "--bridge", "br-missing"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing bridge: %v", err)
	}
}

// A failed attach changes nothing: bad --iface specs and a missing bridge are refused
// before anything is loaded, and nothing is pinned.
func TestAttachBadInputChangesNothing(t *testing.T) {
	l := cliLab(t)
	opts := useTestRoots(t)
	h := l.Host.Name
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--iface", "eth9@netns:" + l.Container1.Name}, "interface eth9 not found"},
		{[]string{"--iface", "eth0@netns:" + l.Container1.Name + "-nope"}, "not found"},
		{[]string{"--iface", "eth0@pid:999999999"}, "no such process"},
		{[]string{"--iface", "this-name-is-far-too-long"}, "at most 15"},
		{[]string{"--bridge", "br-nope"}, "bridge br-nope not found"},
		{[]string{"--bridge", "veth-c1"}, "not a bridge"},
		{[]string{"--attach-mode", "xdp"}, "invalid attach mode"},
		{[]string{"--flow-entries", "4294967295"}, "invalid --flow-entries"},
		{[]string{"--iface", "-x"}, "must not start with '-'"},
	} {
		_, err := run(t, append([]string{"-n", h, "attach"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("attach %v: %v, want one line containing %q", tc.args, err, tc.want)
		}
		if ents, _ := os.ReadDir(opts.BPFDir); len(ents) != 0 {
			t.Fatalf("attach %v left pins: %v", tc.args, ents)
		}
	}
}
