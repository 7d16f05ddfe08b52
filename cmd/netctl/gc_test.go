//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netctl/netctl/internal/daemon"
	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/state"
	"github.com/netctl/netctl/probe"
)

// ipNetns runs `ip` commands; the test holds no handle of the namespaces it makes, so
// deleting one really ends it.
func ipNetns(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// gcHost makes a host namespace with a bridge br0 and a container namespace with a
// veth to it, by name, removed at cleanup if the test did not.
func gcHost(t *testing.T) (host, ctr string) {
	host, ctr = nstest.UniqueName("ncgh"), nstest.UniqueName("ncgc")
	for _, n := range []string{host, ctr} {
		ipNetns(t, "netns", "add", n)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n).Run() })
	}
	ipNetns(t, "-n", host, "link", "add", "br0", "type", "bridge")
	ipNetns(t, "-n", host, "link", "add", "vh0", "type", "veth", "peer", "name", "eth0", "netns", ctr)
	ipNetns(t, "-n", host, "link", "set", "vh0", "master", "br0")
	for _, l := range []string{"br0", "vh0"} {
		ipNetns(t, "-n", host, "link", "set", l, "up")
	}
	ipNetns(t, "-n", ctr, "link", "set", "eth0", "up")
	return host, ctr
}

// attachAll attaches to host's br0, gives ctr a NIC and writes what serve would keep,
// and returns the host namespace's pin folder.
func attachAll(t *testing.T, run func(...string) (string, error), opts probe.Options, host, ctr string) string {
	t.Helper()
	if out, err := run("-n", host, "attach", "--bridge", "br0"); err != nil {
		t.Fatalf("attach: %v\n%s", err, out)
	}
	if out, err := run("-n", host, "nic", "add", "netns:"+ctr, "--bridge", "br0", "--address", "10.9.0.2/24", "--arp-probe-wait", "0"); err != nil {
		t.Fatalf("nic add: %v\n%s", err, out)
	}
	pins, _ := os.ReadDir(opts.BPFDir)
	if len(pins) != 1 {
		t.Fatalf("pin root holds %v, want the host namespace's folder", pins)
	}
	cookie, err := strconv.ParseUint(pins[0].Name(), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := state.WriteFile(daemon.StatePath(opts.StateDir, cookie), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(opts.BPFDir, pins[0].Name())
}

// After `ip netns del` of an attached host namespace, `netctl gc` removes everything
// netctl kept for it (pins, attach registry, exporter memory, NIC records, locks) and
// says so; any other command that touches state does the same first, and a new
// namespace (which may get the dead one's inode back) inherits nothing of it.
func TestGCAfterNetnsDel(t *testing.T) {
	nstest.RequireRoot(t)
	opts := useTestRoots(t)
	run := func(args ...string) (string, error) {
		out, err := netctlProc(opts.StateDir, args...).CombinedOutput()
		return string(out), err
	}
	empty := func(what string) {
		t.Helper()
		if ents, _ := os.ReadDir(opts.BPFDir); len(ents) != 0 {
			t.Errorf("%s: pin root holds %v", what, ents)
		}
		if left := leftovers(t, opts.StateDir); len(left) != 0 {
			t.Errorf("%s: state root holds %v", what, left)
		}
	}

	host, ctr := gcHost(t)
	pins := attachAll(t, run, opts, host, ctr)
	ipNetns(t, "netns", "del", host)
	out, err := run("gc")
	if err != nil {
		t.Fatalf("gc: %v\n%s", err, out)
	}
	for _, want := range []string{"removed pins " + pins, "removed attach registry", "removed exporter state", "removed NIC record"} {
		if !strings.Contains(out, want) {
			t.Errorf("gc did not report %q:\n%s", want, out)
		}
	}
	empty("after gc")
	if out, err := run("gc"); err != nil || !strings.Contains(out, "nothing left") {
		t.Errorf("second gc: %v\n%s", err, out)
	}

	host, ctr = gcHost(t)
	pins = attachAll(t, run, opts, host, ctr)
	ipNetns(t, "netns", "del", host)
	heir := nstest.UniqueName("ncgn")
	ipNetns(t, "netns", "add", heir)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", heir).Run() })
	out, err = run("-n", heir, "status")
	if err == nil || !strings.Contains(out, "nothing attached") {
		t.Errorf("status in a new namespace: %v\n%s\nwant nothing attached", err, out)
	}
	if !strings.Contains(out, "removed what a gone namespace or a killed netctl left") || !strings.Contains(out, pins) {
		t.Errorf("status did not prune (and log) what the gone namespace left:\n%s", out)
	}
	if out, err := run("-n", heir, "-o", "json", "nic", "list", "netns:"+ctr); err != nil || strings.Contains(out, `"by_netctl": true`) {
		t.Errorf("nic list with a new host namespace claims a NIC: %v\n%s", err, out)
	}
	empty("after status")
}
