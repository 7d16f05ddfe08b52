//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netctl/netctl/internal/nstest"
	"github.com/netctl/netctl/internal/nsutil"
)

// The e2e on the machine's Docker engine: the seed literally on docker0, a
// restart with --persist, a user-defined network given by name to serve and nic add,
// serve without --bridge counting both bridges under the containers' names, 50
// containers of churn with serve's goroutines and open files back where they were, and
// docker rm -f leaving no record, veth, pin or series. Every container and network is
// the test's own (unique names), removed at its end.
func TestDockerEndToEnd(t *testing.T) {
	nstest.RequireDocker(t)
	roots := useTestRoots(t)
	persistDir := os.Getenv("NETCTL_PERSIST_DIR")
	netName, netBridge, netSubnet := dockerNetwork(t)
	c1 := nstest.DockerRun(t, true)                       // the seed's container1, on docker0
	c2 := nstest.DockerRun(t, true)                       // its peer
	c3 := nstest.DockerRun(t, true, "--network", netName) // on the user-defined network
	dockerSubnet := bridgeSubnet(t, "docker0")
	addr1, addr3 := spareAddr(dockerSubnet), spareAddr(netSubnet)
	c1ID := dockerOut(t, "inspect", "-f", "{{.Id}}", c1)
	c1IP := dockerOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", c1)
	t.Logf("docker0 %s, %s (%s) %s; eth1 of %s: %s, of %s: %s", dockerSubnet, netName, netBridge, netSubnet, c1, addr1, c3, addr3)

	t.Run("serve --bridge NETWORK", func(t *testing.T) {
		p := startServeProc(t, "--bridge", netName)
		m := p.metrics(t)
		if v := sample(m, fmt.Sprintf(`netctl_bridge_ports_unobserved{bridge=%q}`, netBridge)); v != 0 {
			t.Errorf("unobserved ports of %s = %v, want a series at 0\n%s", netBridge, v, grepLines(m, "netctl_bridge"))
		}
		if strings.Contains(grepLines(m, "netctl_bridge_ports_unobserved"), "docker0") {
			t.Errorf("docker0 watched with --bridge %s:\n%s", netName, grepLines(m, "netctl_bridge"))
		}
		if !strings.Contains(grepLines(m, "netctl_interface_receive_packets_total"), fmt.Sprintf(`container=%q`, c3)) {
			t.Errorf("%s not counted:\n%s", c3, grepLines(m, "netctl_interface_receive_packets_total"))
		}
		p.stop(t)
	})

	// No --bridge: every Docker bridge network, followed. Flow series of what vanished
	// go after the idle timeout, short here so that the test sees them go.
	p := startServeProc(t, "--flow-idle-timeout", flowIdle.String())

	t.Run("the seed on docker0, persisted", func(t *testing.T) {
		out, err := run(t, "nic", "add", c1, "--address", addr1.String(), "--gateway", gatewayOf(dockerSubnet).String(),
			"--default-route", "--persist")
		if err != nil {
			t.Fatalf("nic add: %v\n%s", err, out)
		}
		if r := dockerOut(t, "exec", c1, "ip", "route"); !strings.Contains(r, "default via "+gatewayOf(dockerSubnet).String()+" dev eth1") {
			t.Fatalf("docker exec %s ip route:\n%s", c1, r)
		}
		if row, ok := rowOf(nicList(t, c1), "eth1"); !ok || !row.Persisted || !row.Present || row.Bridge != "docker0" {
			t.Errorf("nic list: eth1 %+v", row)
		}
		dockerOut(t, "exec", c2, "ping", "-c", "3", "-W", "1", c1IP)
	})

	t.Run("serve without --bridge counts both bridges by name", func(t *testing.T) {
		want := []string{
			fmt.Sprintf(`{bridge="docker0",container=%q,`, c1), fmt.Sprintf(`{bridge="docker0",container=%q,`, c2),
			fmt.Sprintf(`{bridge=%q,container=%q,`, netBridge, c3),
		}
		var lines string
		waitUntil(t, "every container counted under its name", 5*time.Second, func() bool {
			lines = grepLines(p.metrics(t), "netctl_interface_receive_packets_total")
			for _, w := range want {
				if !strings.Contains(lines, w) {
					return false
				}
			}
			return true
		})
		t.Logf("/metrics:\n%s\n%s", lines, grepLines(p.metrics(t), "netctl_bridge_ports_unobserved"))
		if strings.Contains(lines, `container="host"`) || strings.Contains(p.Log(), "container=host") {
			t.Errorf("a container named host:\n%s\n%s", lines, p.Log())
		}
	})

	t.Run("docker restart puts the persisted NIC back", func(t *testing.T) {
		start := time.Now()
		dockerOut(t, "restart", "-t", "0", c1)
		restarted := time.Since(start)
		gw := "default via " + gatewayOf(dockerSubnet).String() + " dev eth1"
		var route string
		took := waitUntil(t, "default via eth1 after the restart", 10*time.Second, func() bool {
			out, _ := exec.Command("docker", "exec", c1, "ip", "route").Output()
			route = string(out)
			return strings.Contains(route, gw)
		}) + restarted
		t.Logf("docker restart -t 0 took %s; docker exec ip route showed %q %s after it began", restarted.Round(time.Millisecond), gw, took.Round(time.Millisecond))
		if took > 3*time.Second {
			t.Errorf("default via eth1 after %s, want ≤ 3 s", took)
		}
		if a := dockerOut(t, "exec", c1, "ip", "-4", "addr", "show", "eth1"); !strings.Contains(a, addr1.String()) {
			t.Errorf("eth1 after the restart:\n%s", a)
		}
		key := fmt.Sprintf(`netctl_nic_reapplied_total{container=%q}`, c1)
		waitUntil(t, key+" = 1", 5*time.Second, func() bool { return sample(p.metrics(t), key) == 1 })
		if e := sample(p.metrics(t), fmt.Sprintf(`netctl_nic_reapply_errors_total{container=%q}`, c1)); e > 0 {
			t.Errorf("reapply errors: %v\n%s", e, p.Log())
		}
	})

	t.Run("nic add --bridge NETWORK", func(t *testing.T) {
		out, err := run(t, "nic", "add", c3, "--bridge", netName, "--address", addr3.String())
		if err != nil {
			t.Fatalf("nic add --bridge %s: %v\n%s", netName, err, out)
		}
		if row, ok := rowOf(nicList(t, c3), "eth1"); !ok || row.Bridge != netBridge {
			t.Errorf("eth1 of %s: %+v, want on %s", c3, row, netBridge)
		}
		if out, err := run(t, "nic", "del", c3); err != nil || !strings.Contains(out, "removed eth1") {
			t.Errorf("nic del: %v\n%s", err, out)
		}
	})

	t.Run("churn of 50 containers leaks nothing", func(t *testing.T) {
		churn(t, p, netName)
	})

	t.Run("docker rm -f leaves no record, veth, pin or series", func(t *testing.T) {
		row, ok := rowOf(nicList(t, c1), "eth1")
		if !ok {
			t.Fatalf("%s has no eth1", c1)
		}
		veth, err := netlink.LinkByName(row.HostPeer)
		if err != nil {
			t.Fatal(err)
		}
		pins := pinDir(t, roots.BPFDir)
		dockerOut(t, "rm", "-f", c1)
		waitUntil(t, "the persisted record gone", 5*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(persistDir, "nic", c1ID))
			return os.IsNotExist(err)
		})
		var left []string
		var series string
		var lerr error
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, lerr = netlink.LinkByIndex(veth.Attrs().Index)
			left, _ = filepath.Glob(filepath.Join(pins, "links", strconv.Itoa(veth.Attrs().Index)+"_*"))
			series = ""
			for _, l := range strings.Split(grepLines(p.metrics(t), fmt.Sprintf(`container=%q`, c1)), "\n") {
				if l != "" && !strings.HasPrefix(l, "netctl_flow_") { // flows: after the idle timeout, below
					series += l + "\n"
				}
			}
			if lerr != nil && len(left) == 0 && series == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("5 s after docker rm -f: veth %s still there: %v; pins %v; series:\n%s", row.HostPeer, lerr == nil, left, series)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if out, err := run(t, "nic", "list"); err != nil || strings.Contains(out, c1) {
			t.Errorf("nic list after rm -f: %v\n%s", err, out)
		}
		waitUntil(t, "its flow series gone after the idle timeout", flowIdle+5*time.Second, func() bool {
			return !strings.Contains(p.metrics(t), fmt.Sprintf(`container=%q`, c1))
		})
	})
}

// flowIdle is the e2e serve's --flow-idle-timeout.
const flowIdle = 5 * time.Second

// pinDir is the pin folder of the namespace the test runs in (the engine's).
func pinDir(t *testing.T, root string) string {
	self, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	ino, err := nsutil.Inode(self)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, strconv.FormatUint(ino, 10))
}

// churn starts and removes 50 containers (5 at a time, on docker0 and on network) with
// serve running, and checks that serve's goroutines and open files come back to where
// they were (±5) and that no series of them is left.
func churn(t *testing.T, p *serveProc, network string) {
	read := func() (g, fds float64) {
		m := p.metrics(t)
		return sample(m, "go_goroutines "), sample(m, "process_open_fds ")
	}
	time.Sleep(time.Second) // what the steps before started settles
	g0, f0 := read()
	prefix := nstest.UniqueName("netctl-churn-")
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	work := make(chan int)
	for range 5 {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("%s-%d", prefix, i)
				args := []string{"run", "-d", "--name", name}
				if i%2 == 1 {
					args = append(args, "--network", network)
				}
				if out, err := exec.Command("docker", append(args, nstest.DockerImage, "sleep", "300")...).CombinedOutput(); err != nil {
					errs <- fmt.Errorf("docker run %s: %w: %s", name, err, out)
				}
				time.Sleep(300 * time.Millisecond) // long enough to be attached and named
				if out, err := exec.Command("docker", "rm", "-f", name).CombinedOutput(); err != nil {
					errs <- fmt.Errorf("docker rm %s: %w: %s", name, err, out)
				}
			}
		})
	}
	for i := range 50 {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var g1, f1 float64
	settle := waitUntil(t, "goroutines and open files back within 5 of before", 30*time.Second, func() bool {
		g1, f1 = read()
		return g1 <= g0+5 && f1 <= f0+5 && g1 >= g0-5 && f1 >= f0-5
	})
	t.Logf("50 containers of churn: serve's goroutines %v → %v, open fds %v → %v (settled in %s)", g0, g1, f0, f1, settle.Round(time.Millisecond))
	waitUntil(t, "no series of the churn's containers", flowIdle+10*time.Second, func() bool {
		return !strings.Contains(p.metrics(t), prefix)
	})
	if strings.Contains(p.Log(), "container=host") {
		t.Errorf("serve logged a container as host:\n%s", grepLines(p.Log(), "container=host"))
	}
}
